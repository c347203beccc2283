"""HTTP plumbing: keep-alive, chunked bodies, shutdown, concurrency."""

from __future__ import annotations

import json
import socket
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from emu_helpers import scan
from gainsight_px.emulator import Emulator, TenantSpec
from gainsight_px.settings import EMULATOR_API_KEY


def test_keep_alive_reuses_one_connection(emulator, px_session):
    for _ in range(5):
        assert px_session.get(f"{emulator.base_url}/engagements").status_code == 200
    pool = px_session.get_adapter(emulator.base_url).poolmanager
    assert sum(p.num_connections for p in pool.pools._container.values()) == 1


def test_raw_http11_pipelined_requests_on_one_socket(emulator):
    host, port = "127.0.0.1", emulator.port
    req = (f"GET /v1/subscriptions HTTP/1.1\r\nHost: {host}\r\nX-APTRINSIC-API-KEY: {EMULATOR_API_KEY}\r\n\r\n")
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(req.encode() * 2)
        data = b""
        while data.count(b"HTTP/1.1 200") < 2 or not data.endswith(b"}]}"):
            chunk = sock.recv(65536)
            assert chunk
            data += chunk
    assert data.count(b"HTTP/1.1 200 OK") == 2


def test_chunked_request_body(emulator, px_session):
    body = json.dumps({"identifyId": "chunked-1", "firstName": "Chunk"}).encode()
    r = px_session.post(f"{emulator.base_url}/users", data=iter([body[:10], body[10:]]),
                        headers={"Content-Type": "application/json"})
    assert r.status_code == 200 and r.json()["firstName"] == "Chunk"
    assert px_session.get(f"{emulator.base_url}/users/chunked-1").status_code == 200


def test_stop_closes_keep_alive_connections():
    emu = Emulator(tenant=TenantSpec(users=10)).start()
    s = requests.Session()
    s.headers["X-APTRINSIC-API-KEY"] = EMULATOR_API_KEY
    assert s.get(f"{emu.base_url}/users").status_code == 200
    emu.stop()
    with pytest.raises(requests.exceptions.ConnectionError):
        s.get(f"{emu.base_url}/users", timeout=2)
    emu.stop()  # idempotent


def test_context_manager_and_urls():
    with Emulator(tenant=TenantSpec(users=10), port=0) as emu:
        assert emu.base_url == f"http://127.0.0.1:{emu.port}/v1"
        assert emu.control_url == f"http://127.0.0.1:{emu.port}/__emulator"
        assert requests.get(f"{emu.control_url}/stats").status_code == 200


def test_concurrent_clients_scan_consistently(emulator):
    def one_scan(_: int) -> list[str]:
        with requests.Session() as s:
            s.headers["X-APTRINSIC-API-KEY"] = EMULATOR_API_KEY
            return [u["aptrinsicId"] for u in scan(s, f"{emulator.base_url}/users", page_size=25)]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one_scan, range(16)))
    want = [u["aptrinsicId"] for u in emulator.store.records("users")]
    assert all(r == want for r in results)
    assert emulator.control.stats()["requests"] == 16 * 11
