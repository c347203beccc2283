"""Every injectable fault, as a client sees it."""

from __future__ import annotations

import time

import orjson
import pytest
import requests
from emu_helpers import api_status


@pytest.mark.parametrize("kind,api", [("500", "INTERNAL_SERVER_ERROR"), ("502", "BAD_GATEWAY"),
                                      ("503", "SERVICE_UNAVAILABLE"), ("504", "GATEWAY_TIMEOUT")])
def test_server_errors_have_json_bodies_and_are_used_up(emulator, px_session, kind, api):
    emulator.control.inject(kind, count=2)
    url = f"{emulator.base_url}/users"
    for _ in range(2):
        r = px_session.get(url)
        assert r.status_code == int(kind)
        assert r.headers["Content-Type"] == "application/json"
        assert api_status(r) == api
    assert px_session.get(url).status_code == 200
    assert emulator.control.stats()["faults_used"] == {kind: 2}


def test_injected_429_with_and_without_retry_after(emulator, px_session):
    c, url = emulator.control, f"{emulator.base_url}/users"
    c.inject("429", seconds=3)
    r = px_session.get(url)
    assert r.status_code == 429 and r.headers["Retry-After"] == "3" and api_status(r) == "TOO_MANY_REQUESTS"
    c.inject("429", retry_after=False)
    r = px_session.get(url)
    assert r.status_code == 429 and "Retry-After" not in r.headers
    c.inject("429", seconds=0.2)
    assert px_session.get(url).headers["Retry-After"] == "1"  # integer seconds, at least 1
    assert px_session.get(url).status_code == 200
    assert emulator.control.stats()["sent_429"] == 3


def test_retry_after_override_when_the_emulator_sends_none(make_emulator, px_session):
    emu = make_emulator(retry_after=False)
    emu.control.inject("429")
    assert "Retry-After" not in px_session.get(f"{emu.base_url}/users").headers
    emu.control.inject("429", retry_after=True, seconds=2)
    assert px_session.get(f"{emu.base_url}/users").headers["Retry-After"] == "2"


def test_html_502_from_a_proxy(emulator, px_session):
    emulator.control.inject("html_502")
    r = px_session.get(f"{emulator.base_url}/accounts")
    assert r.status_code == 502
    assert r.headers["Content-Type"].startswith("text/html")
    assert b"<html>" in r.content
    with pytest.raises(requests.exceptions.JSONDecodeError):
        r.json()


def test_empty_403(emulator, px_session):
    emulator.control.inject("empty_403")
    r = px_session.get(f"{emulator.base_url}/users")
    assert r.status_code == 403 and r.content == b""


def test_slow_answer(emulator, px_session):
    emulator.control.inject("slow", seconds=0.4)
    t0 = time.monotonic()
    r = px_session.get(f"{emulator.base_url}/users")
    assert r.status_code == 200 and time.monotonic() - t0 >= 0.4
    with pytest.raises(requests.exceptions.Timeout):
        emulator.control.inject("slow", seconds=0.5)
        px_session.get(f"{emulator.base_url}/users", timeout=0.1)


def test_reset_breaks_the_connection_mid_body(emulator, px_session):
    emulator.control.inject("reset", path="/v1/users")
    with pytest.raises((requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        px_session.get(f"{emulator.base_url}/users")
    # the same session recovers on a new connection
    assert px_session.get(f"{emulator.base_url}/users").status_code == 200


def test_reset_and_truncate_do_not_advance_the_scroll(emulator, px_session):
    url = f"{emulator.base_url}/users"
    first = px_session.get(url, params={"pageSize": 50}).json()
    q = {"pageSize": 50, "scrollId": first["scrollId"]}
    emulator.control.inject("reset", path="/v1/users")
    with pytest.raises((requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        px_session.get(url, params=q)
    emulator.control.inject("truncate", path="/v1/users")
    assert px_session.get(url, params=q).status_code == 200
    second = px_session.get(url, params=q).json()
    assert second["results"] == emulator.store.records("users")[50:100]


def test_truncate_sends_a_cut_json_body_with_matching_length(emulator, px_session):
    emulator.control.inject("truncate")
    r = px_session.get(f"{emulator.base_url}/users", params={"pageSize": 10},
                       headers={"Accept-Encoding": "identity"})  # Content-Length of the JSON itself
    assert r.status_code == 200
    assert int(r.headers["Content-Length"]) == len(r.content) > 0
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(r.content)
    assert r.content.startswith(b'{"results":[')


def test_reset_and_truncate_apply_writes(emulator, px_session):
    url = f"{emulator.base_url}/users"
    emulator.control.inject("reset", method="POST")
    with pytest.raises((requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        px_session.post(url, json={"identifyId": "reset-1"})
    emulator.control.inject("truncate", method="POST")
    r = px_session.post(url, json={"identifyId": "trunc-1"})
    assert r.status_code == 200
    assert emulator.store.get_by_write_key("users", "reset-1") is not None
    assert emulator.store.get_by_write_key("users", "trunc-1") is not None
    assert [w["fault"] for w in emulator.control.writes()] == ["reset", "truncate"]


def test_status_faults_do_not_apply_writes(emulator, px_session):
    emulator.control.inject("503", path="/custom_events")
    r = px_session.post(f"{emulator.base_url}/custom_events", json={"identifyId": "u-1", "eventName": "e"})
    assert r.status_code == 503
    assert emulator.control.events() == []
    assert emulator.control.writes()[0]["status"] == 503


def test_malformed_records(emulator, px_session):
    emulator.control.inject("malformed_records", count=2, path="/v1/users")
    url = f"{emulator.base_url}/users"
    fields = {f.name for f in emulator.dialect["users"].fields}
    # a non-list request does not use the fault up
    assert px_session.get(f"{url}/u-000001").json() == emulator.store.get_by_write_key("users", "u-000001")
    first = px_session.get(url, params={"pageSize": 20}).json()
    for rec in first["results"]:
        assert "aptrinsicId" in rec
        assert fields - set(rec)                       # a field is missing
        assert set(rec) - fields                       # new fields appear
        assert isinstance(rec.get("numberOfVisits", "0"), str) or isinstance(rec.get("score", "0"), str)
    assert any(isinstance(r.get("numberOfVisits"), str) for r in first["results"])
    second = px_session.get(url, params={"pageSize": 20, "scrollId": first["scrollId"]}).json()
    assert all(set(r) - fields for r in second["results"])
    third = px_session.get(url, params={"pageSize": 20, "scrollId": first["scrollId"]}).json()
    assert third["results"] == emulator.store.records("users")[40:60]


def test_faults_match_path_prefix_and_method(emulator, px_session):
    c, base = emulator.control, emulator.base_url
    c.inject("500", path="/v1/accounts")
    assert px_session.get(f"{base}/users").status_code == 200
    assert px_session.get(f"{base}/accounts/acc-00001").status_code == 500  # prefix match
    c.inject("502", path="/v1/users/u-000001")
    assert px_session.get(f"{base}/users/u-000002").status_code == 200
    assert px_session.get(f"{base}/users/u-000001").status_code == 502
    c.inject("503", method="PATCH")
    assert px_session.get(f"{base}/users/u-000001").status_code == 200
    assert px_session.patch(f"{base}/users/u-000001", json={"role": "r"}).status_code == 503


def test_faults_are_fifo_and_clearable(emulator, px_session):
    c = emulator.control
    c.inject("500")
    c.inject("502", count=2)
    assert [f["kind"] for f in c.faults()] == ["500", "502"]
    assert [px_session.get(f"{emulator.base_url}/users").status_code for _ in range(4)] == [500, 502, 502, 200]
    c.inject("503", count=10)
    c.clear_faults()
    assert px_session.get(f"{emulator.base_url}/users").status_code == 200
    assert c.faults() == []


def test_immediate_faults_through_inject(emulator, px_session):
    url = f"{emulator.base_url}/users"
    sid = px_session.get(url).json()["scrollId"]
    emulator.control.inject("expire_scrolls")
    assert api_status(px_session.get(url, params={"scrollId": sid})) == "SCROLL_EXPIRED"
    emulator.control.inject("revoke_auth")
    assert px_session.get(url).status_code == 401
    emulator.control.restore_auth()
    assert px_session.get(url).status_code == 200


def test_unknown_fault_kind_is_rejected(emulator):
    with pytest.raises(ValueError):
        emulator.control.inject("teapot")


def test_faults_never_touch_the_control_interface(emulator):
    emulator.control.inject("500", count=5)
    assert requests.get(f"{emulator.control_url}/stats").status_code == 200
    assert emulator.control.stats()["pending_faults"] == 1
