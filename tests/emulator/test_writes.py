"""POST (upsert), PATCH, DELETE, GET item, custom events and subscriptions."""

from __future__ import annotations

import pytest
from emu_helpers import NOW_MS, api_status, seg

ODD_IDS = ["a@b.example.com", "team/ops+1", "first last", "ü+/@ x%20y", "Case-Sensitive"]


@pytest.fixture
def emu(make_emulator):
    return make_emulator(now_ms=NOW_MS)


def test_post_creates_a_user_with_a_server_assigned_id(emu, px_session):
    r = px_session.post(f"{emu.base_url}/users", json={
        "identifyId": "new-1", "email": "new@example.com", "firstName": "New",
        "signUpDate": NOW_MS - 1000, "customAttributes": {"plan": "Pro", "seats": 3}})
    assert r.status_code == 200
    user = r.json()
    assert user["identifyId"] == "new-1"
    assert isinstance(user["aptrinsicId"], str) and len(user["aptrinsicId"]) == 36
    assert user["email"] == "new@example.com" and user["signUpDate"] == NOW_MS - 1000
    assert user["lastSeenDate"] == 0 and user["numberOfVisits"] == 0
    assert user["customAttributes"] == {"plan": "Pro", "seats": 3}
    # every contract field is present
    assert set(user) == {f.name for f in emu.dialect["users"].fields}
    assert px_session.get(f"{emu.base_url}/users/new-1").json() == user
    assert emu.store.count("users") == 251


def test_post_upserts_keeping_missing_fields_and_merging_attributes(emu, px_session):
    old = emu.store.records("users")[0]
    r = px_session.post(f"{emu.base_url}/users", json={
        "identifyId": old["identifyId"], "title": "Chief Tester", "customAttributes": {"plan": "Custom", "new": 1}})
    assert r.status_code == 200
    new = r.json()
    assert new["aptrinsicId"] == old["aptrinsicId"]
    assert new["title"] == "Chief Tester"
    assert new["email"] == old["email"] and new["firstName"] == old["firstName"]
    assert new["customAttributes"] == {**old["customAttributes"], "plan": "Custom", "new": 1}
    assert new["lastSeenDate"] == old["lastSeenDate"]  # API writes never move lastSeenDate
    assert emu.store.count("users") == 250


def test_read_only_and_unknown_fields_are_ignored(emu, px_session):
    old = emu.store.records("users")[1]
    r = px_session.post(f"{emu.base_url}/users", json={
        "identifyId": old["identifyId"], "lastSeenDate": 1, "aptrinsicId": "hijack", "score": 99,
        "unknownField": "x"})
    assert r.status_code == 200
    new = r.json()
    assert new == old


def test_null_clears_a_field(emu, px_session):
    old = emu.store.records("users")[2]
    new = px_session.post(f"{emu.base_url}/users", json={"identifyId": old["identifyId"], "phone": None}).json()
    assert new["phone"] is None


@pytest.mark.parametrize("body", [
    {"email": "x@example.com"},                        # identifyId missing
    {"identifyId": None},
    {"identifyId": ""},
    {"identifyId": 12},                                # wrong type
    {"identifyId": "u-x", "firstName": 5},
    {"identifyId": "u-x", "signUpDate": "2024-01-01"},
    {"identifyId": "u-x", "signUpDate": 1.5},
    {"identifyId": "u-x", "signUpDate": True},
    {"identifyId": "u-x", "customAttributes": "plan=Pro"},
    {"identifyId": "u-x", "customAttributes": {"nested": {"a": 1}}},
    {"identifyId": "u-x", "email": "not-an-email"},
    {"identifyId": "u-x", "email": "a@b"},
    ["identifyId", "u-x"],                             # not an object
])
def test_bad_user_bodies_are_400_and_write_nothing(emu, px_session, body):
    r = px_session.post(f"{emu.base_url}/users", json=body)
    assert r.status_code == 400
    assert api_status(r) == "BAD_REQUEST"
    assert emu.store.count("users") == 250
    assert emu.store.get_by_write_key("users", "u-x") is None


@pytest.mark.parametrize("raw", [b"{not json", b""])
def test_unparseable_body_is_400(emu, px_session, raw):
    r = px_session.post(f"{emu.base_url}/users", data=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 400


def test_patch_changes_only_given_fields(emu, px_session):
    old = emu.store.records("users")[3]
    r = px_session.patch(f"{emu.base_url}/users/{seg(old['identifyId'])}",
                         json={"role": "owner", "customAttributes": {"seats": 7}})
    assert r.status_code == 200
    assert r.json() == {**old, "role": "owner", "customAttributes": {**old["customAttributes"], "seats": 7}}


def test_patch_missing_user_is_404_and_creates_nothing(emu, px_session):
    r = px_session.patch(f"{emu.base_url}/users/ghost", json={"role": "owner"})
    assert r.status_code == 404 and api_status(r) == "NOT_FOUND"
    assert emu.store.get_by_write_key("users", "ghost") is None


def test_patch_with_another_identify_id_in_the_body_is_400(emu, px_session):
    old = emu.store.records("users")[0]
    r = px_session.patch(f"{emu.base_url}/users/{seg(old['identifyId'])}", json={"identifyId": "other"})
    assert r.status_code == 400


def test_patch_validates_types(emu, px_session):
    old = emu.store.records("users")[0]
    r = px_session.patch(f"{emu.base_url}/users/{seg(old['identifyId'])}", json={"signUpDate": "yesterday"})
    assert r.status_code == 400


def test_delete_then_404(emu, px_session):
    old = emu.store.records("users")[4]
    url = f"{emu.base_url}/users/{seg(old['identifyId'])}"
    r = px_session.delete(url)
    assert r.status_code == 204 and r.content == b""
    assert px_session.get(url).status_code == 404
    r = px_session.delete(url)
    assert r.status_code == 404 and api_status(r) == "NOT_FOUND"
    assert emu.store.count("users") == 249


@pytest.mark.parametrize("identify_id", ODD_IDS)
def test_url_encoded_ids_round_trip(emu, px_session, identify_id):
    base = f"{emu.base_url}/users"
    assert px_session.post(base, json={"identifyId": identify_id, "lastName": "Odd"}).status_code == 200
    url = f"{base}/{seg(identify_id)}"
    assert px_session.get(url).json()["identifyId"] == identify_id
    assert px_session.patch(url, json={"lastName": "Odder"}).json()["lastName"] == "Odder"
    assert px_session.delete(url).status_code == 204
    assert px_session.get(url).status_code == 404


def test_tenant_ids_with_special_characters_and_case(emu, px_session):
    base = f"{emu.base_url}/users"
    for user in emu.store.records("users"):
        if any(c in user["identifyId"] for c in "@/+ ") or user["identifyId"].upper() == user["identifyId"]:
            r = px_session.get(f"{base}/{seg(user['identifyId'])}")
            assert r.status_code == 200 and r.json() == user, user["identifyId"]
    # "+" in a path is a plus, not a space; ids differ by case.
    assert px_session.get(f"{base}/team%2Fops+13").json()["identifyId"] == "team/ops+13"
    assert px_session.get(f"{base}/U-000100").json()["aptrinsicId"] != \
        px_session.get(f"{base}/u-000100").json()["aptrinsicId"]
    assert px_session.get(f"{base}/u-000001").status_code == 200
    assert px_session.get(f"{base}/U-000001").status_code == 404


def test_raw_slash_in_an_id_is_not_routed(emu, px_session):
    assert px_session.get(f"{emu.base_url}/users/team/ops+13").status_code == 404


def test_accounts_upsert_requires_id_and_name(emu, px_session):
    base = f"{emu.base_url}/accounts"
    assert px_session.post(base, json={"id": "acc-new"}).status_code == 400
    assert px_session.post(base, json={"name": "No Id"}).status_code == 400
    assert px_session.post(base, json={"id": "acc-00001", "plan": "Pro"}).status_code == 400  # name too
    r = px_session.post(base, json={"id": "acc-new/1", "name": "New Co", "customAttributes": {"tier": 1}})
    assert r.status_code == 200
    acc = r.json()
    assert acc["id"] == "acc-new/1" and acc["lastSeenDate"] == 0 and acc["customAttributes"] == {"tier": 1}
    old = emu.store.get("accounts", "acc-00001")
    r = px_session.post(base, json={"id": "acc-00001", "name": "Renamed", "customAttributes": {"arr": 1.5}})
    assert r.json() == {**old, "name": "Renamed", "customAttributes": {**old["customAttributes"], "arr": 1.5}}


def test_accounts_patch_delete_and_get(emu, px_session):
    url = f"{emu.base_url}/accounts/acc-00002"
    old = px_session.get(url).json()
    assert old == emu.store.get("accounts", "acc-00002")
    assert px_session.patch(url, json={"sfdcId": "001X"}).json() == {**old, "sfdcId": "001X"}
    assert px_session.patch(f"{emu.base_url}/accounts/nope", json={"sfdcId": "1"}).status_code == 404
    assert px_session.delete(url).status_code == 204
    assert px_session.get(url).status_code == 404
    assert px_session.delete(url).status_code == 404


def test_custom_events_are_never_deduplicated(emu, px_session):
    url = f"{emu.base_url}/custom_events"
    body = {"identifyId": "u-000001", "eventName": "Exported", "attributes": {"rows": 3}}
    user_before = emu.store.get_by_write_key("users", "u-000001")
    r1 = px_session.post(url, json=body)
    r2 = px_session.post(url, json=body)
    assert r1.status_code == r2.status_code == 200
    assert r1.json() == {**body, "date": NOW_MS}  # date defaults to now
    events = emu.control.events()
    assert events == [{**body, "date": NOW_MS}] * 2
    assert emu.store.get_by_write_key("users", "u-000001") == user_before  # lastSeenDate unchanged
    px_session.post(url, json={**body, "date": 123, "url": "https://app/x", "referrer": "https://ref"})
    assert emu.control.events()[-1]["date"] == 123
    assert [w["key"] for w in emu.control.writes("custom_events")] == ["u-000001"] * 3


@pytest.mark.parametrize("body", [
    {"eventName": "x"}, {"identifyId": "u-1"}, {"identifyId": "u-1", "eventName": 3},
    {"identifyId": "u-1", "eventName": "x", "date": "now"}, {"identifyId": "u-1", "eventName": "x", "attributes": []},
])
def test_bad_custom_events_are_400(emu, px_session, body):
    r = px_session.post(f"{emu.base_url}/custom_events", json=body)
    assert r.status_code == 400
    assert emu.control.events() == []


def test_subscriptions_create_201_and_validate(emu, px_session):
    url = f"{emu.base_url}/subscriptions"
    body = {"name": "Hook", "callbackUrl": "https://hooks.example.com/x", "eventType": "USER_CREATED"}
    r = px_session.post(url, json=body)
    assert r.status_code == 201
    sub = r.json()
    assert sub == {"id": "sub-0004", **body, "active": True}
    assert sub in px_session.get(url).json()["results"]
    for bad in ({**body, "callbackUrl": "not a url"}, {"name": "x", "callbackUrl": "https://h/x"},
                {**body, "name": 1}):
        assert px_session.post(url, json=bad).status_code == 400
    assert len(px_session.get(url).json()["results"]) == 4


def test_write_log_records_every_write_with_its_status(emu, px_session):
    px_session.post(f"{emu.base_url}/users", json={"identifyId": "w-1"})
    px_session.post(f"{emu.base_url}/users", json={"identifyId": 1})
    px_session.patch(f"{emu.base_url}/users/w-1", json={"role": "x"})
    px_session.delete(f"{emu.base_url}/users/w%2F2")
    px_session.get(f"{emu.base_url}/users")
    writes = emu.control.writes()
    assert [(w["method"], w["resource"], w["key"], w["status"]) for w in writes] == [
        ("POST", "users", "w-1", 200), ("POST", "users", 1, 400),
        ("PATCH", "users", "w-1", 200), ("DELETE", "users", "w/2", 404)]
    assert writes[0]["path"] == "/v1/users" and writes[0]["body"] == {"identifyId": "w-1"}
    assert writes[3]["path"] == "/v1/users/w%2F2" and writes[3]["body"] is None
    assert all(isinstance(w["ts"], float) for w in writes)
    assert emu.control.writes("accounts") == []
