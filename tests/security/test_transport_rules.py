"""Where the key may travel, and where the emulator listens.

- A plain `http://` base URL to a host that is not loopback is refused before
  any connection is made: proven with a listener that would see the request
  (0.0.0.0 reaches this machine; a named host goes through an HTTP proxy that
  is that listener).
- The emulator binds 127.0.0.1 unless told otherwise (in-process and the CLI).
- `.dlt/secrets.toml` files are git-ignored wherever dlt looks for them.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from gainsight_px.emulator import Emulator, TenantSpec
from gainsight_px.settings import BASE_URL_ENV
from reliability_harness import LOAD_ARGS, Run, Workdir, user_rows, write_csv

REPO = Path(__file__).resolve().parents[2]


class Listener:
    """A TCP listener on 127.0.0.1 that counts the connections it is offered."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            conn.close()

    def seen_after(self, probe: tuple[str, int]) -> int:
        """Connections seen before a probe connection, once the probe itself has been counted
        (so nothing is left in flight, and no sleeping on a guess)."""
        before = self.connections
        with socket.create_connection(probe, timeout=5):
            pass
        while self.connections == before:
            self._stop.wait(0.01)
        return self.connections - 1

    def close(self) -> None:
        self._stop.set()
        self.sock.close()
        self._thread.join(timeout=5)


@pytest.fixture
def listener() -> Iterator[Listener]:
    lst = Listener()
    yield lst
    lst.close()


def run_flow(flow: str, work: Workdir, extra_env: dict[str, str]) -> Run:
    if flow == "load":
        return work.run(*LOAD_ARGS, extra_env=extra_env)
    header, rows = user_rows(3)
    return work.run("push", "users", write_csv(work.path / "u.csv", header, rows), extra_env=extra_env)


@pytest.mark.parametrize("flow", ["load", "push"])
def test_plain_http_to_this_machines_unspecified_address_is_refused_without_a_request(
        flow: str, listener: Listener, tmp_path: Path) -> None:
    """0.0.0.0 is not loopback, yet connecting to it reaches this machine: the listener would see it."""
    work = Workdir(tmp_path, f"http://0.0.0.0:{listener.port}/v1")

    result = run_flow(flow, work, {})

    assert result.code == 1, result.text
    assert BASE_URL_ENV in result.err and "https" in result.err, result.err
    assert "Traceback" not in result.text
    # The listener does see a connection to that address (control), and saw none from the tool.
    assert listener.seen_after(("0.0.0.0", listener.port)) == 0


@pytest.mark.parametrize("flow", ["load", "push"])
def test_plain_http_to_a_named_host_is_refused_without_a_request(flow: str, listener: Listener,
                                                                 tmp_path: Path) -> None:
    """Any request to the named host would go to the proxy, which is the listener."""
    proxy = f"http://127.0.0.1:{listener.port}"
    env = {"HTTP_PROXY": proxy, "HTTPS_PROXY": proxy, "ALL_PROXY": proxy,
           "http_proxy": proxy, "https_proxy": proxy, "NO_PROXY": "", "no_proxy": ""}
    work = Workdir(tmp_path, "http://px-api.example.com/v1")

    result = run_flow(flow, work, env)

    assert result.code == 1, result.text
    assert BASE_URL_ENV in result.err and "px-api.example.com" in result.err, result.err
    assert listener.seen_after(("127.0.0.1", listener.port)) == 0


def listening_hosts(port: int) -> set[str]:
    """Local addresses with a LISTEN socket on `port`, from /proc/net/tcp{,6}."""
    hosts = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            address, hex_port = fields[1].split(":")
            if int(hex_port, 16) == port and fields[3] == "0A":  # 0A: LISTEN
                if width == 8:
                    hosts.add(socket.inet_ntop(socket.AF_INET, bytes.fromhex(address)[::-1]))
                else:
                    words = bytes.fromhex(address)
                    raw = b"".join(words[i:i + 4][::-1] for i in range(0, 16, 4))
                    hosts.add(socket.inet_ntop(socket.AF_INET6, raw))
    return hosts


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux's socket table")
def test_the_emulator_listens_on_loopback_only_by_default() -> None:
    emulator = Emulator(tenant=TenantSpec(users=5, seed=1)).start()
    try:
        assert listening_hosts(emulator.port) == {"127.0.0.1"}
    finally:
        emulator.stop()


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux's socket table")
def test_the_emulator_command_listens_on_loopback_only_by_default() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "gainsight_px.cli", "emulator", "--port", "0", "--users", "5"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = None
        assert proc.stdout is not None
        for line in proc.stdout:
            found = re.search(r"base URL:\s+http://([^:/]+):(\d+)/v1", line)
            if found:
                assert found.group(1) == "127.0.0.1", line
                port = int(found.group(2))
                break
        assert port is not None, proc.stderr.read() if proc.stderr else ""
        assert listening_hosts(port) == {"127.0.0.1"}
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


@pytest.mark.parametrize("path", [".dlt/secrets.toml", "pipelines/.dlt/secrets.toml", "elsewhere/.dlt/secrets.toml"])
def test_dlt_secrets_files_are_git_ignored(path: str) -> None:
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    result = subprocess.run(["git", "check-ignore", "--no-index", "-q", path], cwd=REPO, capture_output=True)
    assert result.returncode == 0, f"{path} is not git-ignored"
