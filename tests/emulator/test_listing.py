"""Listing: pageSize, scroll paging, end of scan, expiry and snapshots."""

from __future__ import annotations

import time

import pytest
from emu_helpers import api_status, scan


def test_default_page_size_and_response_shape(emulator, px_session):
    r = px_session.get(f"{emulator.base_url}/users")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json"
    body = r.json()
    assert set(body) == {"results", "scrollId", "totalHits"}
    assert len(body["results"]) == 20
    assert body["totalHits"] == 250
    assert isinstance(body["scrollId"], str) and body["scrollId"]


def test_full_scan_returns_every_record_once_in_insertion_order(emulator, px_session):
    users = scan(px_session, f"{emulator.base_url}/users", page_size=100)
    assert users == emulator.store.records("users")
    assert len({u["aptrinsicId"] for u in users}) == 250


def test_last_page_keeps_scroll_id_and_requests_after_end_are_empty(emulator, px_session):
    url = f"{emulator.base_url}/users"
    first = px_session.get(url, params={"pageSize": 100}).json()
    sid = first["scrollId"]
    sizes = [len(first["results"])]
    ids = [sid]
    for _ in range(4):
        page = px_session.get(url, params={"pageSize": 100, "scrollId": sid}).json()
        sizes.append(len(page["results"]))
        ids.append(page["scrollId"])
        assert page["totalHits"] == 250
    # 100, 100, then the short page that ends the scan (still with a scrollId), then empty pages.
    assert sizes == [100, 100, 50, 0, 0]
    assert all(i == sid for i in ids)


def test_exact_multiple_ends_with_an_empty_page(emulator, px_session):
    url = f"{emulator.base_url}/accounts"
    pages = []
    r = px_session.get(url, params={"pageSize": 5}).json()
    pages.append(len(r["results"]))
    while pages[-1] == 5:
        r = px_session.get(url, params={"pageSize": 5, "scrollId": r["scrollId"]}).json()
        pages.append(len(r["results"]))
        assert r["scrollId"]
    assert pages == [5] * 5 + [0]


@pytest.mark.parametrize("size", ["0", "-1", "501", "abc", "1.5", ""])
def test_bad_page_size_is_400(emulator, px_session, size):
    r = px_session.get(f"{emulator.base_url}/users", params={"pageSize": size})
    assert r.status_code == 400
    assert api_status(r) == "BAD_REQUEST"


@pytest.mark.parametrize("size", [1, 500])
def test_page_size_bounds_are_accepted(emulator, px_session, size):
    r = px_session.get(f"{emulator.base_url}/users", params={"pageSize": size})
    assert r.status_code == 200
    assert len(r.json()["results"]) == min(size, 250)


def test_scroll_with_another_page_size_is_400_and_without_one_keeps_its_own(emulator, px_session):
    url = f"{emulator.base_url}/users"
    sid = px_session.get(url, params={"pageSize": 30}).json()["scrollId"]
    r = px_session.get(url, params={"pageSize": 40, "scrollId": sid})
    assert r.status_code == 400
    r = px_session.get(url, params={"scrollId": sid})
    assert r.status_code == 200 and len(r.json()["results"]) == 30


def test_empty_scroll_id_opens_a_new_scan(emulator, px_session):
    r = px_session.get(f"{emulator.base_url}/users", params={"pageSize": 10, "scrollId": ""})
    assert r.status_code == 200 and len(r.json()["results"]) == 10


def test_unknown_scroll_id_is_404_not_found(emulator, px_session):
    r = px_session.get(f"{emulator.base_url}/users", params={"scrollId": "no-such-scroll"})
    assert r.status_code == 404
    assert api_status(r) == "NOT_FOUND"


def test_scroll_of_another_endpoint_is_404(emulator, px_session):
    sid = px_session.get(f"{emulator.base_url}/users").json()["scrollId"]
    r = px_session.get(f"{emulator.base_url}/accounts", params={"scrollId": sid})
    assert r.status_code == 404


def test_idle_scroll_expires(make_emulator, px_session):
    emu = make_emulator(scroll_ttl=0.3)
    url = f"{emu.base_url}/users"
    sid = px_session.get(url, params={"pageSize": 10}).json()["scrollId"]
    # Activity keeps it alive past the TTL...
    for _ in range(4):
        time.sleep(0.12)
        assert px_session.get(url, params={"pageSize": 10, "scrollId": sid}).status_code == 200
    # ...idleness ends it.
    time.sleep(0.45)
    r = px_session.get(url, params={"pageSize": 10, "scrollId": sid})
    assert r.status_code == 404
    assert api_status(r) == "SCROLL_EXPIRED"
    # and it stays expired; a new scan works.
    assert api_status(px_session.get(url, params={"pageSize": 10, "scrollId": sid})) == "SCROLL_EXPIRED"
    assert px_session.get(url, params={"pageSize": 10}).status_code == 200


def test_expire_scrolls_ends_every_open_scroll(emulator, px_session):
    url = f"{emulator.base_url}/users"
    sids = [px_session.get(url, params={"pageSize": 10}).json()["scrollId"] for _ in range(3)]
    assert emulator.control.stats()["open_scrolls"] == 3
    assert emulator.control.expire_scrolls() == 3
    for sid in sids:
        r = px_session.get(url, params={"pageSize": 10, "scrollId": sid})
        assert (r.status_code, api_status(r)) == (404, "SCROLL_EXPIRED")
    assert emulator.control.stats()["open_scrolls"] == 0


def test_scan_sees_a_snapshot_not_later_changes(emulator, px_session):
    c = emulator.control
    url = f"{emulator.base_url}/users"
    before = emulator.store.records("users")
    first = px_session.get(url, params={"pageSize": 50}).json()
    late = before[200]  # in a page not yet fetched
    c.update_record("users", late["aptrinsicId"], {"firstName": "Changed", "customAttributes": {"plan": "Zzz"}})
    c.delete_record("users", before[210]["aptrinsicId"])
    c.add_record("users", {"identifyId": "created-during-scan"})
    c.simulate_activity(ids=[before[220]["aptrinsicId"]])
    px_session.post(url, json={"identifyId": before[230]["identifyId"], "lastName": "ViaApi"})

    got = list(first["results"])
    sid = first["scrollId"]
    while True:
        page = px_session.get(url, params={"pageSize": 50, "scrollId": sid}).json()
        assert page["totalHits"] == 250
        got.extend(page["results"])
        if len(page["results"]) < 50:
            break
    assert got == before

    after = scan(px_session, url, page_size=100)
    assert len(after) == 250  # one deleted, one created
    by_id = {u["aptrinsicId"]: u for u in after}
    assert by_id[late["aptrinsicId"]]["firstName"] == "Changed"
    assert before[210]["aptrinsicId"] not in by_id
    assert after[-1]["identifyId"] == "created-during-scan"


def test_two_scans_are_independent(emulator, px_session):
    url = f"{emulator.base_url}/users"
    a = px_session.get(url, params={"pageSize": 100}).json()
    b = px_session.get(url, params={"pageSize": 100}).json()
    assert a["scrollId"] != b["scrollId"]
    a2 = px_session.get(url, params={"scrollId": a["scrollId"]}).json()
    b2 = px_session.get(url, params={"scrollId": b["scrollId"]}).json()
    assert a2["results"] == b2["results"] != a["results"]


@pytest.mark.parametrize("path,resource", [("/feature_match", "features"), ("/engagements", "engagements")])
def test_features_and_engagements_scroll(emulator, px_session, path, resource):
    records = scan(px_session, emulator.base_url + path, page_size=7)
    assert records == emulator.store.records(resource)
    assert len(records) == {"features": 40, "engagements": 30}[resource]


@pytest.mark.parametrize("param", [{"filter": "type==Dialog"}, {"sort": "name"}])
def test_filter_and_sort_are_rejected_where_not_supported(emulator, px_session, param):
    r = px_session.get(f"{emulator.base_url}/engagements", params=param)
    assert r.status_code == 400


def test_subscriptions_return_everything_without_paging(emulator, px_session):
    r = px_session.get(f"{emulator.base_url}/subscriptions", params={"pageSize": 1})
    assert r.status_code == 200
    assert r.json() == {"results": emulator.store.records("subscriptions")}
    assert len(r.json()["results"]) == 3


def test_rotating_scroll_ids_still_continue_the_scan(make_emulator, px_session):
    emu = make_emulator(rotate_scroll_ids=True)
    url = f"{emu.base_url}/users"
    first = px_session.get(url, params={"pageSize": 100}).json()
    second = px_session.get(url, params={"pageSize": 100, "scrollId": first["scrollId"]}).json()
    assert second["scrollId"] != first["scrollId"]
    third = px_session.get(url, params={"pageSize": 100, "scrollId": second["scrollId"]}).json()
    assert len(third["results"]) == 50
    assert first["results"] + second["results"] + third["results"] == emu.store.records("users")
    emu.control.expire_scrolls()
    r = px_session.get(url, params={"scrollId": third["scrollId"]})
    assert (r.status_code, api_status(r)) == (404, "SCROLL_EXPIRED")
