"""Helpers for the push tests: the CLI against the emulator, in-process or as a subprocess.

Everything a test checks is what a user could check: exit codes, printed
output, the rejects file, and what the emulator received (its write log,
events and request log). The ledger is read with plain sqlite3.
"""

from __future__ import annotations

import contextlib
import csv
import os
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from gainsight_px.cli import main
from gainsight_px.emulator import Emulator
from gainsight_px.push.ledger import LEDGER_ENV
from gainsight_px.settings import API_KEY_ENV, BASE_URL_ENV, DIALECT_ENV, EMULATOR_API_KEY

WRITE_METHODS = ("POST", "PATCH", "PUT", "DELETE")


@dataclass
class Run:
    code: int
    out: str
    err: str

    def count(self, label: str) -> int:
        """A number from the summary, e.g. `run.count("in doubt")`."""
        return summary_count(self.out, label)


def summary_count(output: str, label: str) -> int:
    """A number from a printed push summary."""
    match = re.search(rf"^\s*{re.escape(label)}\s+([\d,]+)", output, re.MULTILINE)
    assert match, f"no {label!r} line in:\n{output}"
    return int(match.group(1).replace(",", ""))


class PushHarness:
    """One emulator, one working directory, one ledger; `push(...)` runs the CLI."""

    def __init__(self, emulator: Emulator, workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.emulator = emulator
        self.control = emulator.control
        self.workdir = workdir
        self.ledger = workdir / "ledger.sqlite"
        self._capsys = capsys

    @property
    def env(self) -> dict[str, str]:
        """Environment for a subprocess push (the key only ever travels in the environment)."""
        env = dict(os.environ)
        env.update({API_KEY_ENV: EMULATOR_API_KEY, BASE_URL_ENV: self.emulator.base_url,
                    LEDGER_ENV: str(self.ledger), "DLT_DATA_DIR": str(self.workdir / "dlt"),
                    DIALECT_ENV: self.emulator.dialect.name,
                    "PYTHONUNBUFFERED": "1", "RUNTIME__DLTHUB_TELEMETRY": "false"})
        return env

    def push(self, *args: str | os.PathLike[str]) -> Run:
        """`gainsight-px push ARGS` in this process; returns exit code and output."""
        self._capsys.readouterr()
        code = main(["push", *map(str, args)])
        captured = self._capsys.readouterr()
        return Run(code, captured.out, captured.err)

    def start(self, *args: str | os.PathLike[str]) -> subprocess.Popen[str]:
        """`gainsight-px push ARGS` as a subprocess (for kill -9 and Ctrl-C)."""
        return subprocess.Popen([sys.executable, "-m", "gainsight_px.cli", "push", *map(str, args)],
                                cwd=self.workdir, env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def csv(self, name: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> Path:
        path = self.workdir / name
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(header)
            writer.writerows(rows)
        return path

    def writes(self, resource: str | None = None, *, ok: bool | None = None) -> list[dict[str, Any]]:
        """Write requests the emulator received (`ok=True`: answered 2xx)."""
        out = self.control.writes(resource)
        if ok is not None:
            out = [w for w in out if (200 <= w["status"] < 300) == ok]
        return out

    def write_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.control.requests() if r["method"] in WRITE_METHODS]

    def ledger_rows(self) -> list[tuple[str, str, bool]]:
        """(key, status, pending?) of every ledger row; [] when there is no ledger file."""
        if not self.ledger.exists():
            return []
        with contextlib.closing(sqlite3.connect(self.ledger)) as conn:
            try:
                rows = conn.execute("SELECT key, status, pending FROM deliveries ORDER BY key").fetchall()
            except sqlite3.OperationalError:  # a push is creating the file right now
                return []
        return [(k, s, p is not None) for k, s, p in rows]

    def pending(self) -> int:
        return sum(1 for _, _, pending in self.ledger_rows() if pending)

    def wait_for(self, condition: Callable[[], bool], *, proc: subprocess.Popen[str] | None = None,
                 timeout: float = 60.0) -> None:
        """Poll until `condition()`; fail early if `proc` exits first."""
        deadline = time.monotonic() + timeout
        while not condition():
            if proc is not None and proc.poll() is not None:
                out, err = proc.communicate()
                pytest.fail(f"push exited with {proc.returncode} before the condition held:\n{out}\n{err}")
            if time.monotonic() > deadline:
                pytest.fail("timed out waiting for the condition")
            time.sleep(0.02)

    def settle(self) -> None:
        """Wait until the emulator has stopped receiving requests (a killed client's last ones)."""
        last = -1
        while True:
            now = self.control.stats()["requests"]
            if now == last:
                return
            last = now
            time.sleep(0.6)
