"""The emulator in the published dialect: what Gainsight's Swagger says, over real HTTP."""

from __future__ import annotations

import pytest
from emu_helpers import NOW_MS, api_status, seg
from gainsight_px.emulator.faults import DUPLICATE_BLOCKED
from gainsight_px.emulator.tenant import PRODUCT_KEY
from gainsight_px.endpoints import CONTRACT, PUBLISHED

PK = [PRODUCT_KEY]


@pytest.fixture
def emu(make_emulator):
    return make_emulator(now_ms=NOW_MS, dialect=PUBLISHED)


@pytest.mark.parametrize("path,key,default,limit", [
    ("/users", "users", 25, 1000), ("/accounts", "accounts", 25, 1000), ("/feature", "features", 25, 200),
    ("/segment", "segments", 25, 200), ("/engagement", "engagements", 200, 500)])
def test_list_keys_default_sizes_and_limits(emu, px_session, path, key, default, limit):
    url = emu.base_url + path
    body = px_session.get(url).json()
    assert len(body[key]) == min(default, emu.store.count(key))
    assert "results" not in body
    assert px_session.get(url, params={"pageSize": limit}).status_code == 200
    over = px_session.get(url, params={"pageSize": limit + 1})
    assert over.status_code == 400 and api_status(over) == "BAD_REQUEST"


def test_page_number_paging_ends_with_is_last_page(emu, px_session):
    url = f"{emu.base_url}/segment"
    pages = [px_session.get(url, params={"pageSize": 10, "pageNumber": n}).json() for n in range(5)]
    assert [p["pageNumber"] for p in pages] == [0, 1, 2, 3, 4]
    assert [len(p["segments"]) for p in pages] == [10, 10, 10, 6, 0]
    assert [p["isLastPage"] for p in pages] == [False, False, False, True, True]
    assert [s for p in pages for s in p["segments"]] == emu.store.records("segments")
    assert emu.store.count("segments") == 36
    # An exact multiple: the last full page says so.
    full = px_session.get(f"{emu.base_url}/feature", params={"pageSize": 20, "pageNumber": 1}).json()
    assert len(full["features"]) == 20 and full["isLastPage"] is True
    for bad in ("-1", "x"):
        assert px_session.get(url, params={"pageNumber": bad}).status_code == 400
    assert px_session.get(url, params={"filter": "name==x"}).status_code == 400


def test_sort_spelled_like_the_contract_is_400(emu, px_session):
    url = f"{emu.base_url}/users"
    assert px_session.get(url, params={"sort": "lastSeenDate:desc"}).status_code == 400
    r = px_session.get(url, params={"sort": "-lastSeenDate", "pageSize": 1000})
    seen = [u["lastSeenDate"] for u in r.json()["users"]]
    assert r.status_code == 200 and seen == sorted(seen, reverse=True)


def test_post_creates_only_and_put_updates(emu, px_session):
    base = f"{emu.base_url}/users"
    r = px_session.post(base, json={"identifyId": "new-1", "firstName": "N", "propertyKeys": PK})
    assert r.status_code == 201
    created = emu.store.get_by_write_key("users", "new-1")
    assert created["createDate"] == created["lastModifiedDate"] >= NOW_MS and created["id"] == "new-1"
    dup = px_session.post(base, json={"identifyId": "new-1", "firstName": "Other", "propertyKeys": PK})
    assert dup.status_code == 400 and "possible duplicate" in dup.json()["externalapierror"]["message"]
    assert emu.store.get_by_write_key("users", "new-1")["firstName"] == "N"

    r = px_session.put(f"{base}/new-1", json={"title": "Boss", "propertyKeys": PK})
    assert r.status_code == 204 and r.content == b""
    after = emu.store.get_by_write_key("users", "new-1")
    assert after["title"] == "Boss" and after["firstName"] == "N"  # fields not sent are kept
    assert after["lastModifiedDate"] > created["lastModifiedDate"]
    assert px_session.put(f"{base}/ghost", json={"title": "x", "propertyKeys": PK}).status_code == 404
    assert emu.store.get_by_write_key("users", "ghost") is None
    assert px_session.patch(f"{base}/new-1", json={"title": "x"}).status_code == 405


@pytest.mark.parametrize("body", [{"identifyId": "u-x"}, {"identifyId": "u-x", "propertyKeys": []},
                                  {"identifyId": "u-x", "propertyKeys": "AP-1"}])
def test_writes_need_property_keys(emu, px_session, body):
    assert px_session.post(f"{emu.base_url}/users", json=body).status_code == 400
    old = emu.store.records("users")[0]
    r = px_session.put(f"{emu.base_url}/users/{seg(old['identifyId'])}", json={**body, "identifyId": old["identifyId"]})
    assert r.status_code == 400
    assert emu.store.get_by_write_key("users", "u-x") is None


def test_events_need_property_key_and_user_type_and_answer_201(emu, px_session):
    url = f"{emu.base_url}/events/custom"
    body = {"identifyId": "u-000001", "eventName": "Exported", "propertyKey": PRODUCT_KEY, "userType": "USER"}
    for missing in ("propertyKey", "userType"):
        assert px_session.post(url, json={k: v for k, v in body.items() if k != missing}).status_code == 400
    assert px_session.post(url, json=body).status_code == 201
    (event,) = emu.control.events()
    assert event["propertyKey"] == PRODUCT_KEY and event["date"] == NOW_MS and event["eventId"]


def test_ids_that_cannot_go_in_a_path_update_through_the_body(emu, px_session):
    odd = next(u for u in emu.store.records("users") if "/" in u["identifyId"])
    assert px_session.put(f"{emu.base_url}/users/{seg(odd['identifyId'])}",
                          json={"title": "x", "propertyKeys": PK}).status_code == 400  # refused, as PX does
    r = px_session.put(f"{emu.base_url}/users/update",
                       json={"identifyId": odd["identifyId"], "title": "Via body", "propertyKeys": PK})
    assert r.status_code == 204
    assert emu.store.get_by_write_key("users", odd["identifyId"])["title"] == "Via body"
    r = px_session.put(f"{emu.base_url}/accounts/update", json={"id": "no-such", "propertyKeys": PK})
    assert r.status_code == 404
    r = px_session.put(f"{emu.base_url}/accounts/update", json={"id": "acc-00001", "plan": "Pro", "propertyKeys": PK})
    assert r.status_code == 204 and emu.store.get("accounts", "acc-00001")["plan"] == "Pro"
    counts = emu.control.request_counts()
    assert counts["PUT /v1/users/update"] == 1 and counts["PUT /v1/accounts/update"] == 2


@pytest.mark.parametrize("dialect,status", [(CONTRACT, 405), (PUBLISHED, 204)])
def test_an_item_put_never_deletes(make_emulator, px_session, dialect, status):
    emu = make_emulator(dialect=dialect)
    url = f"{emu.base_url}/accounts/acc-00002"
    before = emu.store.count("accounts")
    r = px_session.put(url, json={"id": "acc-00002", "plan": "Pro", "propertyKeys": PK})
    assert r.status_code == status
    assert emu.store.count("accounts") == before and px_session.get(url).status_code == 200


def test_activity_moves_last_seen_and_attribute_changes_move_last_modified(emu):
    user = emu.store.records("users")[5]
    (key,) = emu.control.simulate_activity(ids=[user["aptrinsicId"]])
    seen = emu.store.get("users", key)
    assert seen["lastSeenDate"] > user["lastSeenDate"] and seen["lastModifiedDate"] == user["lastModifiedDate"]
    (key,) = emu.control.simulate_attribute_change("users", ids=[key], changes={"title": "Renamed"})
    changed = emu.store.get("users", key)
    assert changed["title"] == "Renamed" and changed["lastSeenDate"] == seen["lastSeenDate"]
    assert changed["lastModifiedDate"] > max(u["lastModifiedDate"] for u in emu.store.records("users")
                                             if u["aptrinsicId"] != key)
    accounts = emu.control.simulate_attribute_change("accounts", count=3)
    assert len(set(accounts)) == 3


def test_refused_filter_and_duplicate_request_fault(emu, px_session):
    url = f"{emu.base_url}/users"
    emu.control.refuse_filter(["lastModifiedDate"])
    assert px_session.get(url, params={"filter": "lastModifiedDate>=1"}).status_code == 400
    assert px_session.get(url, params=[("filter", "lastSeenDate>=1"), ("filter", "lastModifiedDate>=1")]
                          ).status_code == 400
    assert px_session.get(url, params={"filter": "lastSeenDate>=1"}).status_code == 200
    emu.control.refuse_filter([])
    assert px_session.get(url, params={"filter": "lastModifiedDate>=1"}).status_code == 200

    emu.control.inject("duplicate_request", path="/users")
    r = px_session.get(url)
    assert r.status_code == 400 and r.json()["externalapierror"]["message"] == DUPLICATE_BLOCKED
    assert px_session.get(url).status_code == 200
    params = [r["query"] for r in emu.control.requests() if r["path"] == "/v1/users"]
    assert params[0] == {"filter": ["lastModifiedDate>=1"]}
