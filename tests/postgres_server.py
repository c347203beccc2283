"""A throwaway PostgreSQL server for the tests: initdb in a temp folder, a loopback port.

Uses the PostgreSQL that Debian packages (/usr/lib/postgresql/<version>/bin, or
`pg_config --bindir`). `initdb` refuses to run as root, so as root the cluster
is created and run by the `postgres` user. Each pytest(-xdist) worker starts
its own server (a session fixture in tests/conftest.py), and each test gets its
own database, so nothing is shared between tests or workers.

The server runs in the foreground of a child process with a parent-death
signal (`setpriv --pdeathsig KILL`), so a test run that is killed (a timeout,
kill -9) takes its server with it instead of leaving it running.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

USER = "postgres"
PASSWORD = "pg-test-password"  # the cluster trusts loopback; dlt's credentials still want one


def find_bindir() -> Path | None:
    """The newest PostgreSQL server binaries on this machine, or None."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                        key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
    if candidates:
        return Path(candidates[-1]).parent
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True).stdout.strip()
        if out and (Path(out) / "initdb").exists():
            return Path(out)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PostgresServer:
    """One running cluster; `dsn(db)` / `url(db)` connect to a database on it."""

    bindir: Path
    root: Path
    port: int = 0
    _as_postgres: bool = field(default=False, repr=False)
    _process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = list(args)
        if self._as_postgres:
            cmd = ["runuser", "-u", USER, "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=120)

    def start(self) -> PostgresServer:
        self._as_postgres = os.geteuid() == 0
        self.root.mkdir(parents=True, exist_ok=True)
        if self._as_postgres:
            shutil.chown(self.root, USER)
        self._run(str(self.bindir / "initdb"), "-D", str(self.datadir), "-U", USER, "-A", "trust",
                  "-E", "UTF8", "--no-sync", "--locale=C")
        for attempt in range(5):  # another process may take the port between bind and listen
            self.port = _free_port()
            if self._spawn():
                return self
            if attempt == 4:
                log = (self.root / "server.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"PostgreSQL did not start on 127.0.0.1:{self.port}:\n{log}")
        return self

    def _spawn(self) -> bool:
        """Start the postmaster; True once it accepts connections, False if it exited."""
        import psycopg2

        user = ["--reuid", USER, "--regid", USER, "--init-groups"] if self._as_postgres else []
        cmd = ["setpriv", *user, "--pdeathsig", "KILL", "--",
               str(self.bindir / "postgres"), "-D", str(self.datadir), "-p", str(self.port),
               "-c", "listen_addresses=127.0.0.1", "-k", str(self.root), "-c", "fsync=off",
               "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=60"]
        with open(self.root / "server.log", "ab") as log:  # the child keeps its own copy of the fd
            self._process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return False
            try:
                psycopg2.connect(self.dsn(), connect_timeout=2).close()
                return True
            except psycopg2.OperationalError:
                time.sleep(0.1)
        self._process.kill()
        return False

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGQUIT)  # immediate shutdown: the data is thrown away
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        """A sqlalchemy-style URL, which dlt's postgres credentials accept."""
        return f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{database}"

    def dsn(self, database: str = "postgres") -> str:
        """A libpq key=value DSN."""
        return f"host=127.0.0.1 port={self.port} user={USER} password={PASSWORD} dbname={database}"

    def create_database(self, prefix: str = "t") -> str:
        import psycopg2

        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        con = psycopg2.connect(self.dsn())
        con.autocommit = True
        try:
            with con.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}"')
        finally:
            con.close()
        return name


def start_server() -> PostgresServer:
    bindir = find_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL server binaries not found (initdb): install postgresql-15 "
                           "(apt-get install postgresql-15), as .ci/run does")
    root = Path(tempfile.mkdtemp(prefix="gpx-pg-"))
    os.chmod(root, 0o755)
    return PostgresServer(bindir=bindir, root=root).start()
