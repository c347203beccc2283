"""Authentication (401/403) and the rate limit (429, with and without Retry-After)."""

from __future__ import annotations

import time

import pytest
import requests
from emu_helpers import api_status
from gainsight_px.settings import EMULATOR_API_KEY, EMULATOR_READ_ONLY_KEY


@pytest.mark.parametrize("headers", [{}, {"X-APTRINSIC-API-KEY": "wrong"}, {"X-APTRINSIC-API-KEY": ""}])
def test_missing_or_unknown_key_is_401(emulator, headers):
    for method, path in (("GET", "/users"), ("GET", "/subscriptions"), ("POST", "/custom_events"),
                         ("DELETE", "/users/u-000001")):
        r = requests.request(method, emulator.base_url + path, headers=headers, json={})
        assert r.status_code == 401
        err = r.json()["externalapierror"]
        assert err == {"status": "UNAUTHORIZED", "message": err["message"], "debugMessage": None,
                       "subErrors": None}
        assert err["message"]
    assert emulator.store.get_by_write_key("users", "u-000001") is not None


def test_read_only_key_reads_but_cannot_write(emulator):
    s = requests.Session()
    s.headers["X-APTRINSIC-API-KEY"] = EMULATOR_READ_ONLY_KEY
    assert s.get(f"{emulator.base_url}/users").status_code == 200
    assert s.get(f"{emulator.base_url}/users/u-000001").status_code == 200
    for method, path, body in (("POST", "/users", {"identifyId": "ro-1"}),
                               ("PATCH", "/users/u-000001", {"role": "x"}),
                               ("DELETE", "/users/u-000001", None),
                               ("POST", "/accounts", {"id": "a", "name": "b"}),
                               ("POST", "/custom_events", {"identifyId": "u-000001", "eventName": "e"}),
                               ("POST", "/subscriptions", {"name": "n", "callbackUrl": "https://x/y",
                                                           "eventType": "E"})):
        r = s.request(method, emulator.base_url + path, json=body)
        assert r.status_code == 403, (method, path)
        assert api_status(r) == "FORBIDDEN"
    assert emulator.store.get_by_write_key("users", "ro-1") is None
    assert emulator.store.get_by_write_key("users", "u-000001")["role"] != "x"
    assert emulator.control.events() == []
    assert {w["status"] for w in emulator.control.writes()} == {403}


def test_custom_keys(make_emulator):
    emu = make_emulator(api_key="k1", read_only_key=None)
    assert requests.get(f"{emu.base_url}/users", headers={"X-APTRINSIC-API-KEY": "k1"}).status_code == 200
    assert requests.get(f"{emu.base_url}/users",
                        headers={"X-APTRINSIC-API-KEY": EMULATOR_API_KEY}).status_code == 401


def test_revoked_auth_until_restored(emulator, px_session):
    emulator.control.revoke_auth()
    r = px_session.get(f"{emulator.base_url}/users")
    assert r.status_code == 401 and api_status(r) == "UNAUTHORIZED"
    assert px_session.get(f"{emulator.base_url}/users").status_code == 401
    emulator.control.restore_auth()
    assert px_session.get(f"{emulator.base_url}/users").status_code == 200


def test_rate_limit_sends_429_with_retry_after(make_emulator, px_session):
    emu = make_emulator(rate_limit=5)
    statuses = [px_session.get(f"{emu.base_url}/engagements") for _ in range(12)]
    codes = [r.status_code for r in statuses]
    assert codes[:5] == [200] * 5  # burst = rate
    limited = [r for r in statuses if r.status_code == 429]
    assert len(limited) >= 5
    for r in limited:
        assert api_status(r) == "TOO_MANY_REQUESTS"
        assert int(r.headers["Retry-After"]) >= 1
    assert emu.control.stats()["sent_429"] == len(limited)
    time.sleep(0.25)  # refills at 5/s
    assert px_session.get(f"{emu.base_url}/engagements").status_code == 200


def test_rate_limit_without_retry_after(make_emulator, px_session):
    emu = make_emulator(rate_limit=2, retry_after=False)
    codes = [px_session.get(f"{emu.base_url}/users").status_code for _ in range(6)]
    assert codes.count(429) >= 3
    r = px_session.get(f"{emu.base_url}/users")
    assert r.status_code == 429 and "Retry-After" not in r.headers


def test_rate_limit_holds_over_time(make_emulator, px_session):
    emu = make_emulator(rate_limit=20)
    t0 = time.monotonic()
    ok = 0
    while time.monotonic() - t0 < 1.0:
        ok += px_session.get(f"{emu.base_url}/engagements").status_code == 200
    # burst of 20 + 20/s for about a second
    assert 20 <= ok <= 45


def test_control_interface_is_not_rate_limited_or_authenticated(make_emulator):
    emu = make_emulator(rate_limit=1)
    for _ in range(20):
        assert requests.get(f"{emu.control_url}/stats").status_code == 200
    emu.control.revoke_auth()
    assert requests.get(f"{emu.control_url}/stats").status_code == 200


def test_rate_limit_can_change_at_runtime(emulator, px_session):
    emulator.control.set_rate_limit(1, retry_after=False)
    codes = [px_session.get(f"{emulator.base_url}/users").status_code for _ in range(3)]
    assert codes[0] == 200 and 429 in codes
    emulator.control.set_rate_limit(None)
    assert all(px_session.get(f"{emulator.base_url}/users").status_code == 200 for _ in range(20))
