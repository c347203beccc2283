"""The API key goes to the configured host only, and nothing we keep holds it.

Each test runs the CLI (load or push, a subprocess) against the hostile server
(tests/hostile), which relays to a real emulator except for one misbehaviour:

- a 302 to another host, and a 301 from https to plain http: not followed,
  the target host receives nothing, a one-line error names it, nothing loads;
- a key with a line break: refused before any request, never printed;
- a server echoing the key back (error body and a header): the key is in no
  output, trace, state, ledger or rejects file;
- proxy variables set: loopback requests never reach the proxy, while a real
  host is still reached through HTTPS_PROXY (and the proxy never sees the key).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote, quote_plus

import duckdb
import pytest
from cli_runs import error_line, run, run_flow
from gainsight_px.settings import API_KEY_ENV, BASE_URL_ENV
from hostile_server import CA_FILE, ConnectionCounter, HostileServer, echo_headers, forward, redirect
from reliability_harness import LOAD_ARGS, Workdir, new_emulator
from secret_search import where_is

CANARY = "SECRET-KEY-canary-77e1d0"
NO_PROXY_ENV = {"NO_PROXY": "", "no_proxy": ""}


def loaded_users(work: Workdir) -> int:
    if not work.duckdb.exists():
        return 0
    with duckdb.connect(str(work.duckdb), read_only=True) as conn:
        found = conn.execute("SELECT count(*) FROM information_schema.tables "
                             "WHERE table_schema = 'gainsight_px' AND table_name = 'users'").fetchone()
        if not found or not found[0]:
            return 0
        return conn.execute("SELECT count(*) FROM gainsight_px.users").fetchone()[0]  # type: ignore[index]


@pytest.fixture
def emulator():
    emu = new_emulator(api_key=CANARY)
    yield emu
    emu.stop()


def origin(emulator) -> str:
    return emulator.base_url.removesuffix("/v1")


@pytest.mark.parametrize("flow", ["load", "push"])
def test_a_redirect_to_another_host_is_not_followed(flow: str, emulator, make_hostile, tmp_path: Path) -> None:
    elsewhere = make_hostile()  # another host ("localhost", not 127.0.0.1) that would serve real data
    elsewhere.on("*", "*", forward(origin(emulator)), absolute=True)
    hostile: HostileServer = make_hostile()
    hostile.on("*", "*", redirect(lambda r: f"http://localhost:{elsewhere.port}{r.path}", 302), absolute=True)
    work = Workdir(tmp_path, hostile.base_url, api_key=CANARY)

    result = run_flow(flow, work)

    assert result.code == 1, result.text
    line = error_line(result)
    assert "302" in line and "localhost" in line and BASE_URL_ENV in line, line
    assert "Traceback" not in result.text
    assert hostile.log, "the tool never asked"
    assert elsewhere.log == [] and elsewhere.connections == 0
    assert loaded_users(work) == 0 and emulator.control.requests() == []


@pytest.mark.parametrize("flow", ["load", "push"])
def test_a_redirect_from_https_to_plain_http_is_not_followed(flow: str, emulator, make_hostile,
                                                             tmp_path: Path) -> None:
    plain = make_hostile()  # plain http, on this machine: the key would travel in clear text
    plain.on("*", "*", forward(origin(emulator)), absolute=True)
    secure: HostileServer = make_hostile(tls=True)
    secure.on("*", "*", redirect(lambda r: f"http://127.0.0.1:{plain.port}{r.path}", 301), absolute=True)
    work = Workdir(tmp_path, secure.base_url, api_key=CANARY)

    result = run_flow(flow, work, {"REQUESTS_CA_BUNDLE": str(CA_FILE), "SSL_CERT_FILE": str(CA_FILE)})

    assert result.code == 1, result.text
    line = error_line(result)
    assert "301" in line and "http://127.0.0.1" in line, line
    assert secure.log and plain.log == [] and plain.connections == 0
    assert loaded_users(work) == 0 and emulator.control.requests() == []


@pytest.mark.parametrize("flow", ["load", "push"])
def test_a_key_with_a_line_break_is_refused_before_any_request(flow: str, hostile: HostileServer,
                                                               tmp_path: Path) -> None:
    hostile.on("*", "*", echo_headers(200), absolute=True)
    work = Workdir(tmp_path, hostile.base_url, api_key=f"px-key\n{CANARY}")

    result = run_flow(flow, work)

    assert result.code == 1, result.text
    line = error_line(result)
    assert API_KEY_ENV in line and "line break" in line, line
    assert "Traceback" not in result.text
    assert hostile.log == [] and hostile.connections == 0
    assert where_is(CANARY, tmp_path, [result]) == []


def test_a_server_echoing_the_key_cannot_put_it_into_anything_the_load_keeps(
        emulator, hostile: HostileServer, tmp_path: Path) -> None:
    hostile.on("*", "*", forward(origin(emulator)), absolute=True)
    hostile.on("GET", "/accounts", echo_headers(400))
    work = Workdir(tmp_path, hostile.base_url, api_key=CANARY)

    result = run(work, *LOAD_ARGS, extra_env={"RUNTIME__LOG_LEVEL": "DEBUG"})

    assert result.code == 1, result.text
    assert "request rejected" in error_line(result)  # the echo did arrive, and is reported
    assert (work.dlt_dir / "pipelines").is_dir()  # dlt wrote its trace and state: searched below
    assert where_is(CANARY, tmp_path, [result]) == []


# A key with characters that change when a server echoes it URL-encoded or JSON-escaped.
ODD_CANARY = "SECRET/key+canary=77e1d0"


@pytest.mark.parametrize("spelling", ["url-encoded", "url-encoded-plus", "json-escaped"])
def test_a_server_echoing_the_key_encoded_cannot_put_it_into_anything_the_load_keeps(
        spelling: str, hostile: HostileServer, tmp_path: Path) -> None:
    emulator = new_emulator(api_key=ODD_CANARY)
    try:
        _load_against_an_encoded_echo(spelling, emulator, hostile, tmp_path)
    finally:
        emulator.stop()


def _load_against_an_encoded_echo(spelling: str, emulator, hostile: HostileServer, tmp_path: Path) -> None:
    hostile.on("*", "*", forward(origin(emulator)), absolute=True)
    echo = {"url-encoded": echo_headers(400, encode=lambda v: quote(v, safe="")),
            "url-encoded-plus": echo_headers(400, encode=quote_plus),
            "json-escaped": echo_headers(400, escape_slashes=True)}[spelling]
    hostile.on("GET", "/accounts", echo)
    work = Workdir(tmp_path, hostile.base_url, api_key=ODD_CANARY)

    result = run(work, *LOAD_ARGS, extra_env={"RUNTIME__LOG_LEVEL": "DEBUG"})

    assert result.code == 1, result.text
    assert "request rejected" in error_line(result)  # the echo did arrive, and is reported
    for form in (ODD_CANARY, quote(ODD_CANARY, safe=""), quote_plus(ODD_CANARY), ODD_CANARY.replace("/", "\\/")):
        assert where_is(form, tmp_path, [result]) == [], form


def test_a_server_echoing_the_key_cannot_put_it_into_the_ledger_or_rejects(
        emulator, hostile: HostileServer, tmp_path: Path) -> None:
    hostile.on("*", "*", forward(origin(emulator)), absolute=True)
    echo = echo_headers(400)

    def some_rows_echo(ex) -> None:
        (echo if "0001" in ex.request.path or "0001" in ex.request.body.decode() else
         forward(origin(emulator)))(ex)
    hostile.on("*", "/users*", some_rows_echo)
    work = Workdir(tmp_path, hostile.base_url, api_key=CANARY)

    result = run_flow("push", work, {"RUNTIME__LOG_LEVEL": "DEBUG"})

    assert result.code == 2, result.text  # finished, with a rejected row
    rejects = (work.path / "u.rejects.csv").read_text()
    assert "request rejected" in rejects and "***" in rejects, rejects
    assert work.ledger.exists()
    assert where_is(CANARY, tmp_path, [result]) == []


@pytest.mark.parametrize("flow", ["load", "push"])
def test_loopback_requests_never_go_through_a_proxy(flow: str, emulator, tmp_path: Path) -> None:
    with ConnectionCounter() as proxy:
        env = {name: proxy.url for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
                                              "http_proxy", "https_proxy", "all_proxy")}
        work = Workdir(tmp_path, emulator.base_url, api_key=CANARY)

        result = run_flow(flow, work, {**env, **NO_PROXY_ENV})

        assert result.code == 0, result.text
        assert proxy.settled() == 0, proxy.received
    assert emulator.control.requests()


def test_a_real_host_still_goes_through_https_proxy_without_showing_it_the_key(tmp_path: Path) -> None:
    with ConnectionCounter() as proxy:
        work = Workdir(tmp_path, "https://px-api.example.com/v1", api_key=CANARY)

        result = run_flow("load", work, {"HTTPS_PROXY": proxy.url, "https_proxy": proxy.url, **NO_PROXY_ENV})

        assert result.code == 1, result.text
        assert proxy.settled() >= 1
        assert proxy.received[0].startswith(b"CONNECT px-api.example.com:443 "), proxy.received[0]
        assert not any(CANARY.encode() in data for data in proxy.received)
        assert "proxy" in error_line(result) and CANARY not in result.text


def test_a_garbled_answer_quoting_the_key_is_scrubbed_from_the_error(hostile: HostileServer) -> None:
    from gainsight_px.client import PXClient, TransportError
    from hostile_server import raw_bytes

    hostile.on("GET", "/users", raw_bytes(lambda r: f"key was {r.headers['x-aptrinsic-api-key']}\r\n\r\n".encode()))
    client = PXClient(hostile.base_url, CANARY, max_attempts=1)

    with pytest.raises(TransportError) as caught:
        client.get_json("/users")

    assert "key was ***" in str(caught.value) and CANARY not in str(caught.value), caught.value


def test_no_proxy_and_proxy_schemes_are_honoured_for_real_hosts(monkeypatch) -> None:
    from gainsight_px.client import HTTPTransport
    from gainsight_px.errors import ConfigError

    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp:3128")

    def proxy_for(url: str) -> str | None:
        return HTTPTransport(url, "k", api_key_header="X-APTRINSIC-API-KEY").proxy

    assert proxy_for("https://api.aptrinsic.com/v1") == "http://proxy.corp:3128"
    assert proxy_for("https://localhost:8443/v1") is None and proxy_for("http://[::1]:8080/v1") is None
    monkeypatch.setenv("NO_PROXY", "aptrinsic.com")
    assert proxy_for("https://api.aptrinsic.com/v1") is None
    assert proxy_for("https://api.eu.example.com/v1") == "http://proxy.corp:3128"
    monkeypatch.setenv("HTTPS_PROXY", "socks5://proxy.corp:1080")
    with pytest.raises(ConfigError, match="socks5"):
        proxy_for("https://api.eu.example.com/v1")
