"""The control interface, in process and over HTTP (RemoteControl)."""

from __future__ import annotations

import pytest
import requests
from emu_helpers import NOW_MS, scan
from gainsight_px.emulator import RemoteControl


@pytest.fixture
def emu(make_emulator):
    return make_emulator(now_ms=NOW_MS)


@pytest.fixture(params=["local", "remote"])
def ctl(request, emu):
    """The same tests against `emu.control` and against RemoteControl(emu.control_url)."""
    if request.param == "local":
        yield emu.control
        return
    remote = RemoteControl(emu.control_url)
    yield remote
    remote.close()


def test_simulate_activity_bumps_users_and_their_accounts(emu, ctl, px_session):
    before = {u["aptrinsicId"]: u for u in emu.store.records("users")}
    newest = max(u["lastSeenDate"] for u in before.values())
    touched = ctl.simulate_activity(count=5)
    assert len(touched) == len(set(touched)) == 5
    for key in touched:
        now = emu.store.get("users", key)
        assert now["lastSeenDate"] > newest and now["lastSeenDate"] >= NOW_MS
        assert now["numberOfVisits"] == before[key]["numberOfVisits"] + 1
        assert 0 < now["firstVisitDate"] <= now["lastSeenDate"]
        if now["accountId"]:
            assert emu.store.get("accounts", now["accountId"])["lastSeenDate"] == now["lastSeenDate"]
    # an incremental read on lastSeenDate finds exactly them
    got = scan(px_session, f"{emu.base_url}/users", filter=f"lastSeenDate>{newest}")
    assert sorted(u["aptrinsicId"] for u in got) == sorted(touched)
    # the next call is later still
    again = ctl.simulate_activity(ids=[touched[0]])
    assert emu.store.get("users", again[0])["lastSeenDate"] > emu.store.get("users", touched[1])["lastSeenDate"]


def test_simulate_activity_with_ids_and_time(emu, ctl):
    key = emu.store.records("users")[7]["aptrinsicId"]
    assert ctl.simulate_activity(ids=[key], at_ms=NOW_MS + 5) == [key]
    assert emu.store.get("users", key)["lastSeenDate"] == NOW_MS + 5
    with pytest.raises(KeyError):
        ctl.simulate_activity(ids=["nobody"])


def test_simulate_activity_is_deterministic_per_seed(make_emulator):
    a = make_emulator(now_ms=NOW_MS)
    b = make_emulator(now_ms=NOW_MS)
    assert a.control.simulate_activity(10) == b.control.simulate_activity(10)
    assert a.control.simulate_activity(3) == b.control.simulate_activity(3)
    assert a.store.records("users") == b.store.records("users")


def test_update_record_merges_and_leaves_last_seen_alone(emu, ctl, px_session):
    old = emu.store.records("users")[0]
    new = ctl.update_record("users", old["aptrinsicId"], {"title": "Boss", "customAttributes": {"plan": "X"}})
    assert new == {**old, "title": "Boss", "customAttributes": {**old["customAttributes"], "plan": "X"}}
    assert px_session.get(f"{emu.base_url}/users/{old['identifyId']}").json() == new
    acc = ctl.update_record("accounts", "acc-00003", {"numberOfUsers": "lots"})  # unvalidated on purpose
    assert acc["numberOfUsers"] == "lots"
    with pytest.raises(KeyError):
        ctl.update_record("users", "nobody", {"title": "x"})
    with pytest.raises(KeyError):
        ctl.update_record("widgets", "x", {})


def test_update_record_can_change_the_identify_id(emu, ctl, px_session):
    old = emu.store.records("users")[0]
    ctl.update_record("users", old["aptrinsicId"], {"identifyId": "renamed"})
    assert px_session.get(f"{emu.base_url}/users/{old['identifyId']}").status_code == 404
    assert px_session.get(f"{emu.base_url}/users/renamed").json()["aptrinsicId"] == old["aptrinsicId"]


def test_add_and_delete_records(emu, ctl, px_session):
    user = ctl.add_record("users", {"identifyId": "added", "email": "a@example.com"})
    assert user["aptrinsicId"] and user["lastSeenDate"] == 0
    assert px_session.get(f"{emu.base_url}/users/added").json() == user
    feat = ctl.add_record("features", {"id": "feat-new", "name": "New"})
    assert scan(px_session, f"{emu.base_url}/feature_match")[-1] == feat
    ctl.delete_record("users", user["aptrinsicId"])
    assert px_session.get(f"{emu.base_url}/users/added").status_code == 404
    with pytest.raises(KeyError):
        ctl.delete_record("users", user["aptrinsicId"])
    assert ctl.records("users") == emu.store.records("users")


def test_request_log_counts_and_reset(emu, ctl, px_session):
    base = emu.base_url
    px_session.get(f"{base}/users", params={"pageSize": 5, "filter": ["a==1", "lastSeenDate>0"]})
    px_session.get(f"{base}/users/u-000001")
    px_session.get(f"{base}/users/u%2F2")
    px_session.patch(f"{base}/users/u-000001", json={"role": "x"})
    px_session.post(f"{base}/custom_events", json={"identifyId": "u-000001", "eventName": "e"})
    px_session.get(f"{base}/nothing-here")  # not a contract path: not logged
    assert ctl.request_counts() == {
        "GET /v1/users": 1, "GET /v1/users/{identifyId}": 2,
        "PATCH /v1/users/{identifyId}": 1, "POST /v1/custom_events": 1}
    reqs = ctl.requests()
    assert [(r["method"], r["path"], r["status"]) for r in reqs] == [
        ("GET", "/v1/users", 400), ("GET", "/v1/users/u-000001", 200), ("GET", "/v1/users/u%2F2", 404),
        ("PATCH", "/v1/users/u-000001", 200), ("POST", "/v1/custom_events", 200)]
    assert reqs[0]["query"] == {"pageSize": ["5"], "filter": ["a==1", "lastSeenDate>0"]}
    stats = ctl.stats()
    assert stats["requests"] == 5 and stats["records"]["users"] == 250 and stats["events"] == 1
    ctl.reset_log()
    assert ctl.requests() == [] and ctl.writes() == [] and ctl.request_counts() == {}
    assert len(ctl.events()) == 1  # events and records stay


def test_control_requests_are_not_logged(emu, ctl):
    ctl.stats()
    ctl.records("accounts")
    assert ctl.requests() == []


def test_faults_through_the_control(emu, ctl, px_session):
    ctl.inject("503", count=2, path="/v1/accounts")
    assert [f["kind"] for f in ctl.faults()] == ["503"]
    assert px_session.get(f"{emu.base_url}/accounts").status_code == 503
    ctl.clear_faults()
    assert px_session.get(f"{emu.base_url}/accounts").status_code == 200
    sid = px_session.get(f"{emu.base_url}/users").json()["scrollId"]
    assert ctl.expire_scrolls() == 2  # the /accounts and the /users scans
    assert px_session.get(f"{emu.base_url}/users", params={"scrollId": sid}).status_code == 404
    ctl.inject("revoke_auth")
    assert px_session.get(f"{emu.base_url}/users").status_code == 401
    ctl.restore_auth()
    assert px_session.get(f"{emu.base_url}/users").status_code == 200
    ctl.set_rate_limit(1, retry_after=False)
    assert 429 in [px_session.get(f"{emu.base_url}/users").status_code for _ in range(3)]
    ctl.set_rate_limit(None)


def test_remote_control_errors(emu):
    rc = RemoteControl(emu.control_url)
    with pytest.raises(KeyError):
        rc.records("widgets")
    with pytest.raises(ValueError):
        rc.inject("teapot")
    assert rc.record("users", "nobody") is None
    r = requests.get(f"{emu.control_url}/no/such/thing")
    assert r.status_code == 404 and "error" in r.json()
    r = requests.post(f"{emu.control_url}/activity", data=b"{bad")
    assert r.status_code == 400


def test_remote_control_keys_with_special_characters(emu):
    rc = RemoteControl(emu.control_url)
    rc.add_record("accounts", {"id": "acc/ü +1", "name": "Odd"})
    assert rc.record("accounts", "acc/ü +1")["name"] == "Odd"
    assert rc.update_record("accounts", "acc/ü +1", {"plan": "Pro"})["plan"] == "Pro"
    rc.delete_record("accounts", "acc/ü +1")
    assert emu.store.get("accounts", "acc/ü +1") is None


def test_http_control_raw_routes(emu):
    url = emu.control_url
    assert requests.post(f"{url}/activity", json={"count": 2}).json()["ids"]
    assert requests.post(f"{url}/faults", json={"kind": "429", "count": 5}).status_code == 200
    assert requests.get(f"{url}/faults").json()[0]["remaining"] == 5
    assert requests.delete(f"{url}/faults").status_code == 200
    assert requests.post(f"{url}/expire_scrolls").json() == {"expired": 0}
    assert requests.get(f"{url}/records/engagements").json() == emu.store.records("engagements")
    assert requests.get(f"{url}/writes", params={"resource": "users"}).json() == []
    assert requests.get(f"{url}/request_counts").json() == {}
    assert requests.post(f"{url}/reset_log").status_code == 200
