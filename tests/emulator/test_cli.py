"""`gainsight-px emulator` prints how to connect, serves, and stops cleanly on SIGINT/SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time

import pytest
import requests
from gainsight_px.settings import EMULATOR_API_KEY, EMULATOR_READ_ONLY_KEY


def start_cli(*extra: str) -> tuple[subprocess.Popen, list[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "gainsight_px.cli", "emulator", "--port", "0", "--users", "60", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        # A shell starting the suite in the background ignores SIGINT, and children inherit that:
        # Ctrl-C (SIGINT) is what these tests send, so give the CLI the default disposition.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    lines: list[str] = []
    deadline = time.monotonic() + 30
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if line.startswith("Press Ctrl-C"):
            return proc, lines
    proc.kill()
    raise AssertionError(f"CLI did not start: {lines} {proc.stderr.read() if proc.stderr else ''}")


def value(lines: list[str], label: str) -> str:
    for line in lines:
        if line.strip().startswith(label):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no '{label}' in {lines}")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_cli_prints_connection_details_serves_and_stops(sig):
    proc, lines = start_cli("--seed", "3", "--rate-limit", "1000")
    try:
        base = value(lines, "base URL")
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/v1", base)
        assert value(lines, "API key") == EMULATOR_API_KEY
        assert value(lines, "read-only key") == EMULATOR_READ_ONLY_KEY
        control = value(lines, "control URL")
        assert control == base.removesuffix("/v1") + "/__emulator"
        export = next(line for line in lines if "export " in line)
        assert f"SOURCES__GAINSIGHT_PX__BASE_URL={base}" in export
        assert f"SOURCES__GAINSIGHT_PX__API_KEY={EMULATOR_API_KEY}" in export

        r = requests.get(f"{base}/users", params={"pageSize": 100}, headers={"X-APTRINSIC-API-KEY": EMULATOR_API_KEY})
        assert r.status_code == 200 and r.json()["totalHits"] == 60
        assert requests.get(f"{control}/stats").json()["rate_limit"] == 1000
    finally:
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "Emulator stopped." in out


def test_cli_options_reach_the_emulator():
    proc, lines = start_cli("--api-key", "my-key", "--accounts", "3", "--no-retry-after", "--scroll-ttl", "5")
    try:
        base = value(lines, "base URL")
        assert value(lines, "API key") == "my-key"
        s = requests.Session()
        s.headers["X-APTRINSIC-API-KEY"] = "my-key"
        assert s.get(f"{base}/accounts").json()["totalHits"] == 3
        requests.post(base.removesuffix("/v1") + "/__emulator/faults", json={"kind": "429"})
        assert "Retry-After" not in s.get(f"{base}/users").headers
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=20)
    assert proc.returncode == 0


def test_the_command_is_registered():
    from gainsight_px.cli import build_parser

    args = build_parser().parse_args(["emulator", "--port", "0", "--users", "5"])
    assert args.port == 0 and args.users == 5 and callable(args.run)


def test_clients_hanging_up_mid_answer_print_no_tracebacks():
    # Timeouts, Ctrl-C and fault tests drop connections all the time; the
    # emulator's stderr must stay readable (it printed one traceback per hang-up).
    proc, lines = start_cli("--users", "3000")
    try:
        port = int(value(lines, "base URL").rsplit(":", 1)[1].split("/")[0])
        request = (f"GET /v1/users?pageSize=500 HTTP/1.1\r\nHost: x\r\n"
                   f"X-APTRINSIC-API-KEY: {EMULATOR_API_KEY}\r\n\r\n").encode()
        for _ in range(20):
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(request)
            # Abortive close (RST), so the server's write of the 500-user page fails.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
        # The server still answers afterwards.
        r = requests.get(f"http://127.0.0.1:{port}/v1/users", params={"pageSize": 1},
                         headers={"X-APTRINSIC-API-KEY": EMULATOR_API_KEY})
        assert r.status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert "Traceback" not in err, err[:2000]
