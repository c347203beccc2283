"""The transport against servers that misbehave: deadlines, size limits, throttles, wrong URLs.

The CLI (load and push, subprocesses) or the library's `PXClient` talk to the
hostile server, which relays to a real emulator except for one thing:

- a body (or the whole answer) trickled a byte at a time: the attempt fails on
  its overall deadline and is retried;
- gzip: asked for by every request, with a User-Agent naming the tool;
- bodies past the size limits, and a gzip bomb: a clean error naming the URL;
- "Duplicate request blocked. Please wait before retrying": a throttle, waited out;
- a closed port, an unknown host, https to a plain-http server: one line naming the
  URL and the setting, retries announced as they happen, exit 1, no traceback.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

import pytest
from cli_runs import error_line, run_flow
from gainsight_px.client import (
    MAX_DECODED_BYTES,
    MAX_RESPONSE_BYTES,
    REQUEST_TIMEOUT_SETTING,
    USER_AGENT,
    PXClient,
    ResponseTooLarge,
    TransportError,
    backoff_delay,
    request_timeout,
)
from gainsight_px.settings import BASE_URL_ENV, REQUEST_TIMEOUT_ENV
from hostile_server import HostileServer, forward, gzip_bomb, huge, json_reply, times, trickle
from reliability_harness import TABLES, Workdir, new_emulator, snapshot

KEY = "px-transport-test-key"
DUPLICATE_BLOCKED = {"externalapierror": {"status": "BAD_REQUEST",
                                          "message": "Duplicate request blocked. Please wait before retrying",
                                          "debugMessage": None}}


@pytest.fixture
def emulator():
    emu = new_emulator(api_key=KEY)
    yield emu
    emu.stop()


def origin(emulator) -> str:
    return emulator.base_url.removesuffix("/v1")


def relay(hostile: HostileServer, emulator, **kwargs) -> None:
    hostile.on("*", "*", forward(origin(emulator), **kwargs), absolute=True)


def rows_loaded(work: Workdir) -> dict[str, int]:
    return {table: len(rows) for table, (_, rows) in snapshot(work.duckdb).items()}


def rows_served(emulator) -> dict[str, int]:
    return {table: len(emulator.control.records(table)) for table in TABLES}


# --------------------------------------------------------------------------- deadlines


def test_a_trickled_page_fails_on_its_deadline_and_the_load_retries_it(emulator, hostile, tmp_path) -> None:
    relay(hostile, emulator)
    # 2 bytes a second of a 50 kB body: without an overall deadline this takes seven hours.
    hostile.on("GET", "/users", times(1, trickle(b" " * 50_000, interval=0.5), forward(origin(emulator))))
    work = Workdir(tmp_path, hostile.base_url, api_key=KEY)

    result = run_flow("load", work, {REQUEST_TIMEOUT_SETTING: "1"}, timeout=120)  # the dlt setting

    assert result.code == 0, result.text
    assert "GET /users: no complete answer within 1 s, retrying in" in result.err, result.err
    assert rows_loaded(work) == rows_served(emulator)
    assert hostile.requests("GET", "/users")[0].seq == 1 and len(hostile.requests("GET", "/users")) >= 2


def test_a_push_answer_trickled_head_and_all_is_a_lost_answer_and_retried(emulator, hostile, tmp_path) -> None:
    relay(hostile, emulator)
    hostile.on("*", "/users*", times(1, trickle(b"{}", interval=0.5, head_too=True), forward(origin(emulator))))
    work = Workdir(tmp_path, hostile.base_url, api_key=KEY)

    result = run_flow("push", work, {REQUEST_TIMEOUT_ENV: "1"}, users=3, timeout=120)  # the older variable

    assert result.code == 0, result.text
    writes = [r for r in hostile.log if r.method != "GET" and r.path.startswith("/v1/users")]
    assert len(writes) == 4  # one row sent twice: its first answer never came whole
    ids = {u["identifyId"] for u in emulator.control.records("users")}
    assert {f"home/{i:04d}+x@y" for i in range(3)} <= ids


def test_the_deadline_covers_a_server_that_answers_nothing(hostile) -> None:
    hostile.on("GET", "/users", trickle(b"x" * 1000, interval=0.3, head_too=True))
    client = PXClient(hostile.base_url, KEY, timeout=0.5, max_attempts=2, backoff_factor=0.01)

    with pytest.raises(TransportError, match=r"GET /users: no complete answer within 0.5 s after 2 attempts"):
        client.get_json("/users", {"pageSize": 1})
    assert len(hostile.requests("GET", "/users")) == 2


def test_the_request_timeout_setting_is_checked(monkeypatch) -> None:
    from gainsight_px.errors import ConfigError

    monkeypatch.setenv(REQUEST_TIMEOUT_SETTING, "2.5")
    assert request_timeout() == 2.5 and request_timeout(7) == 7
    monkeypatch.setenv(REQUEST_TIMEOUT_SETTING, "soon")
    with pytest.raises(ConfigError, match=REQUEST_TIMEOUT_SETTING):
        request_timeout()


# --------------------------------------------------------------------------- what every request carries


@pytest.mark.parametrize("flow", ["load", "push"])
def test_every_request_asks_for_gzip_and_names_the_tool(flow: str, emulator, hostile, tmp_path) -> None:
    relay(hostile, emulator, compress=True)
    work = Workdir(tmp_path, hostile.base_url, api_key=KEY)

    result = run_flow(flow, work)

    assert result.code == 0, result.text
    assert hostile.log
    for request in hostile.log:
        assert "gzip" in request.headers.get("accept-encoding", ""), request
        assert request.headers.get("user-agent") == USER_AGENT, request
    assert USER_AGENT.startswith("gainsight-px/") and USER_AGENT.endswith(" (+dlt)")
    if flow == "load":  # the pages came gzip-compressed, and loaded whole
        assert rows_loaded(work) == rows_served(emulator)


# --------------------------------------------------------------------------- size limits


def test_a_gzip_bomb_is_refused_at_the_decompressed_limit(hostile) -> None:
    hostile.on("GET", "/users", gzip_bomb(MAX_DECODED_BYTES + 1_000_000))
    client = PXClient(hostile.base_url, KEY)

    with pytest.raises(ResponseTooLarge) as caught:
        client.get_json("/users", {"pageSize": 1})

    message = str(caught.value)
    assert "decompressed body is over 256 MiB" in message and hostile.url("/users") in message, message
    assert len(hostile.log) == 1  # not retried: it would be the same again


@pytest.mark.parametrize("chunked", [False, True])
def test_a_body_past_the_limit_is_refused(chunked: bool, hostile) -> None:
    hostile.on("GET", "/users", huge(MAX_RESPONSE_BYTES + 1, chunked=chunked))
    client = PXClient(hostile.base_url, KEY)

    with pytest.raises(ResponseTooLarge, match=r"the body is over 64 MiB"):
        client.get_json("/users", {"pageSize": 1})


def test_a_gzip_bomb_fails_the_load_in_one_line(emulator, hostile, tmp_path) -> None:
    relay(hostile, emulator)
    hostile.on("GET", "/accounts", gzip_bomb(MAX_DECODED_BYTES + 1_000_000))
    work = Workdir(tmp_path, hostile.base_url, api_key=KEY)

    result = run_flow("load", work)

    assert result.code == 1, result.text
    assert "decompressed body is over 256 MiB" in error_line(result)
    assert "Traceback" not in result.text


# --------------------------------------------------------------------------- throttles


def test_backoff_is_exponential_with_jitter() -> None:
    rng = random.Random(7)
    delays = [backoff_delay(3, 0.5, 30.0, rng) for _ in range(50)]
    assert all(1.0 <= d <= 2.0 for d in delays)  # 0.5 * 2**2, times 0.5-1.0
    assert len({round(d, 6) for d in delays}) == 50  # no two clients retry in lockstep
    assert backoff_delay(20, 0.5, 30.0, rng) <= 30.0
    assert [round(backoff_delay(n, 1.0, 100.0, random.Random(1)), 3) for n in (1, 2, 3)] == [
        round(random.Random(1).uniform(0.5, 1.0) * f, 3) for f in (1, 2, 4)]


def test_duplicate_request_blocked_is_a_throttle_for_the_load(emulator, hostile, tmp_path) -> None:
    relay(hostile, emulator)
    hostile.on("GET", "/users", times(2, json_reply(DUPLICATE_BLOCKED, 400), forward(origin(emulator))))
    work = Workdir(tmp_path, hostile.base_url, api_key=KEY)

    result = run_flow("load", work)

    assert result.code == 0, result.text
    assert rows_loaded(work) == rows_served(emulator)
    first_pages = [r for r in hostile.requests("GET", "/users") if r.param("scrollId") is None]
    assert len(first_pages) >= 3  # refused twice, then answered


def test_duplicate_request_blocked_is_a_throttle_for_the_push(emulator, hostile, tmp_path) -> None:
    relay(hostile, emulator)
    hostile.on("*", "/users*", times(2, json_reply(DUPLICATE_BLOCKED, 409), forward(origin(emulator))))
    work = Workdir(tmp_path, hostile.base_url, api_key=KEY)

    result = run_flow("push", work, users=3)

    assert result.code == 0, result.text
    assert not (work.path / "u.rejects.csv").exists()
    ids = {u["identifyId"] for u in emulator.control.records("users")}
    assert {f"home/{i:04d}+x@y" for i in range(3)} <= ids


# --------------------------------------------------------------------------- wrong or unreachable URLs


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("flow", ["load", "push"])
def test_a_closed_port_fails_in_one_line_naming_the_url_and_the_setting(flow: str, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    work = Workdir(tmp_path, url, api_key=KEY)

    result = run_flow(flow, work, timeout=60)

    assert result.code == 1, result.text
    line = error_line(result)
    assert line.startswith(f"error: cannot connect to {url} (connection refused"), line
    assert BASE_URL_ENV in line and "Traceback" not in result.text
    assert "connection refused), retrying in" in result.err or "connection refused, retrying in" in result.err, \
        result.err  # retries are announced as they happen


def test_an_unknown_host_fails_in_one_line(tmp_path: Path) -> None:
    work = Workdir(tmp_path, "https://px-typo.invalid/v1", api_key=KEY)

    result = run_flow("load", work, timeout=60)

    assert result.code == 1, result.text
    line = error_line(result)
    assert "https://px-typo.invalid/v1" in line and "resolve" in line and BASE_URL_ENV in line, line
    assert "Traceback" not in result.text


@pytest.mark.parametrize("flow", ["load", "push"])
def test_https_to_a_plain_http_server_fails_in_one_line(flow: str, emulator, tmp_path: Path) -> None:
    url = emulator.base_url.replace("http://", "https://")
    work = Workdir(tmp_path, url, api_key=KEY)

    result = run_flow(flow, work, timeout=60)

    assert result.code == 1, result.text
    line = error_line(result)
    assert url in line and "TLS" in line and BASE_URL_ENV in line, line
    assert "Traceback" not in result.text


def test_the_emulator_compresses_big_answers_for_clients_that_ask(emulator) -> None:
    import urllib3

    http = urllib3.PoolManager(retries=False)
    url = emulator.base_url + "/users?pageSize=100"
    asked = http.request("GET", url, headers={"X-APTRINSIC-API-KEY": KEY, "Accept-Encoding": "gzip"},
                         decode_content=False)
    plain = http.request("GET", url, headers={"X-APTRINSIC-API-KEY": KEY, "Accept-Encoding": "identity"})
    small = http.request("GET", emulator.base_url + "/users?pageSize=1&filter=aptrinsicId==nobody",
                         headers={"X-APTRINSIC-API-KEY": KEY, "Accept-Encoding": "gzip"}, decode_content=False)

    assert asked.headers.get("Content-Encoding") == "gzip" and len(asked.data) < len(plain.data) / 2
    assert plain.headers.get("Content-Encoding") is None
    assert small.headers.get("Content-Encoding") is None  # not worth it under 1 KiB


def test_an_answer_left_unread_does_not_poison_the_next_request(hostile) -> None:
    from gainsight_px.client import RedirectError
    from hostile_server import raw_reply

    hostile.on("GET", "/moved", raw_reply(302, b"x" * 5000, {"Location": "https://elsewhere.example/v1"}))
    hostile.on("GET", "/users", json_reply({"results": [], "scrollId": None}))
    client = PXClient(hostile.base_url, KEY, max_attempts=1)

    with pytest.raises(RedirectError, match="redirecting to https://elsewhere.example"):
        client.get_json("/moved")
    assert client.get_json("/users") == {"results": [], "scrollId": None}
