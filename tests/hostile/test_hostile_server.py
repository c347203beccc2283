"""The hostile server does what each behaviour says, seen from a plain socket or urllib3."""

from __future__ import annotations

import gzip
import json
import socket
import time

import pytest
import urllib3
from hostile_server import (
    CA_FILE,
    ConnectionCounter,
    HostileServer,
    drop,
    echo_headers,
    forward,
    gzip_bomb,
    gzip_reply,
    hang,
    huge,
    json_reply,
    redirect,
    sequence,
    times,
    trickle,
)


def get(url: str, **kw):
    return urllib3.PoolManager(retries=False, ca_certs=str(CA_FILE)).request(
        "GET", url, redirect=False, **kw)


def test_routes_log_and_sequences(hostile: HostileServer) -> None:
    hostile.on("GET", "/users", sequence(json_reply({"n": 1}), json_reply({"n": 2})))
    hostile.on("GET", "/feat*", times(1, json_reply({}, 503), json_reply({"ok": True})))
    bodies = [get(hostile.url("/users?a=1&a=2"), headers={"X-K": "v"}).json()["n"] for _ in range(3)]
    assert bodies == [1, 2, 2]
    assert [get(hostile.url("/feature")).status for _ in range(2)] == [503, 200]
    assert get(hostile.url("/nothing")).status == 404
    first = hostile.requests("GET", "/users")[0]
    assert first.params == [("a", "1"), ("a", "2")] and first.headers["x-k"] == "v" and first.seq == 1
    assert len(hostile.log) == 6


def test_redirect_echo_and_gzip(hostile: HostileServer) -> None:
    hostile.on("GET", "/r", redirect("http://elsewhere.example/v1/users", 302))
    hostile.on("GET", "/echo", echo_headers(500))
    hostile.on("GET", "/z", gzip_reply({"x": 1}))
    r = get(hostile.url("/r"))
    assert r.status == 302 and r.headers["Location"] == "http://elsewhere.example/v1/users"
    r = get(hostile.url("/echo"), headers={"X-Secret": "s3"})
    assert r.status == 500 and "s3" in r.data.decode() and "s3" in r.headers["X-Echo"]
    r = get(hostile.url("/z"), headers={"Accept-Encoding": "gzip"}, decode_content=False,
            preload_content=True)
    assert r.headers["Content-Encoding"] == "gzip" and json.loads(gzip.decompress(r.data)) == {"x": 1}
    assert get(hostile.url("/z")).headers.get("Content-Encoding") is None


def test_trickle_hang_drop_huge_and_bomb(hostile: HostileServer) -> None:
    hostile.on("GET", "/t", trickle(b'{"a": 1}', interval=0.01))
    hostile.on("GET", "/h", hang())
    hostile.on("GET", "/d", drop())
    hostile.on("GET", "/big", huge(3_000_000, chunked=True))
    hostile.on("GET", "/bomb", gzip_bomb(50_000_000))
    assert get(hostile.url("/t")).json() == {"a": 1}
    with pytest.raises(urllib3.exceptions.ReadTimeoutError):
        get(hostile.url("/h"), timeout=0.2)
    with pytest.raises(urllib3.exceptions.ProtocolError):
        get(hostile.url("/d"))
    assert len(get(hostile.url("/big")).data) == 3_000_000
    r = get(hostile.url("/bomb"), decode_content=False)
    assert len(r.data) < 100_000 and r.headers["Content-Encoding"] == "gzip"


def test_tls_with_the_test_ca(make_hostile) -> None:
    server = make_hostile(tls=True)
    server.on("GET", "/users", json_reply({"ok": 1}))
    assert server.base_url.startswith("https://127.0.0.1:")
    assert get(server.url("/users")).json() == {"ok": 1}
    with pytest.raises(urllib3.exceptions.SSLError):
        urllib3.PoolManager(retries=False).request("GET", server.url("/users"))  # not trusted by default


def test_stop_ends_hanging_behaviours_quickly() -> None:
    server = HostileServer().start()
    server.on("GET", "/h", hang(3600))
    sock = socket.create_connection((server.host, server.port))
    sock.sendall(b"GET /v1/h HTTP/1.1\r\nHost: x\r\n\r\n")
    while not server.log:
        time.sleep(0.01)
    server.stop()  # must return although a request is in hang()
    sock.settimeout(5)
    assert sock.recv(100) == b""
    sock.close()


def test_connection_counter_counts_and_keeps_first_bytes() -> None:
    with ConnectionCounter() as counter:
        with socket.create_connection(("127.0.0.1", counter.port)) as s:
            s.sendall(b"GET http://x/ HTTP/1.1\r\n\r\n")
            s.recv(100)
        assert counter.settled() == 1
        assert counter.received[0].startswith(b"GET http://x/")


def test_forward_relays_to_a_real_server_and_can_bend_the_answer(hostile: HostileServer, make_hostile) -> None:
    real = make_hostile()
    real.on("GET", "/users", json_reply({"results": [{"id": "a"}]}))

    def bend(request, status, headers, body):
        return 203, headers, body.replace(b'"a"', b'"b"')
    hostile.on("GET", "/users", forward(real.origin, bend, compress=True))
    r = get(hostile.url("/users?pageSize=1"), headers={"X-K": "v", "Accept-Encoding": "gzip"})
    assert r.status == 203 and r.json() == {"results": [{"id": "b"}]}
    sent = real.requests("GET", "/users")[0]
    assert sent.params == [("pageSize", "1")] and sent.headers["x-k"] == "v"
