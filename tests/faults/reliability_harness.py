"""What the fault, crash and security suites share: the CLI against an emulator, and the oracles.

Everything checked is what a user could check: exit codes, printed output, the
tables in the DuckDB file, the ledger, the rejects file, and what the emulator
received. (tests/crash and tests/security import this module by name; their
conftest.py puts this folder on sys.path.)
"""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
from gainsight_px.cli import main
from gainsight_px.emulator import Emulator, TenantSpec
from gainsight_px.push.ledger import LEDGER_ENV
from gainsight_px.settings import API_KEY_ENV, BASE_URL_ENV, DEFAULT_DATASET, EMULATOR_API_KEY

# One tenant for every comparison: same seed and clock, so two emulators hold the same data.
NOW_MS = 1_732_579_200_000  # 2024-11-26T00:00:00Z
TENANT = TenantSpec(users=300, accounts=30, features=40, engagements=30, subscriptions=3, seed=7)
PAGE_SIZE = 50  # 300 users -> 6 full pages and an empty one: faults can land mid-scan
TABLES = ("users", "accounts", "features", "engagements", "subscriptions")
KEY_COLUMNS = {"users": "aptrinsic_id", "accounts": "id", "features": "id", "engagements": "id",
               "subscriptions": "id"}


def new_emulator(**kwargs: Any) -> Emulator:
    """A started emulator holding the shared tenant (the caller stops it)."""
    kwargs.setdefault("tenant", TENANT)
    kwargs.setdefault("now_ms", NOW_MS)
    return Emulator(**kwargs).start()


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err

    def count(self, label: str) -> int:
        """A number from the push summary, e.g. `run.count("in doubt")`."""
        match = re.search(rf"^\s*{re.escape(label)}\s+([\d,]+)", self.out, re.MULTILINE)
        assert match, f"no {label!r} line in:\n{self.out}\n{self.err}"
        return int(match.group(1).replace(",", ""))


class Workdir:
    """One working directory: a DuckDB file, a dlt data dir, a ledger; the CLI pointed at `base_url`."""

    def __init__(self, path: Path, base_url: str, api_key: str = EMULATOR_API_KEY) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.base_url = base_url
        self.api_key = api_key
        self.duckdb = path / "gainsight.duckdb"
        self.dlt_dir = path / "dlt"
        self.ledger = path / "ledger.sqlite"

    @property
    def env(self) -> dict[str, str]:
        """The environment a user would set (the key travels only here)."""
        return {
            API_KEY_ENV: self.api_key,
            BASE_URL_ENV: self.base_url,
            "DLT_DATA_DIR": str(self.dlt_dir),
            "DESTINATION__DUCKDB__CREDENTIALS": str(self.duckdb),
            LEDGER_ENV: str(self.ledger),
            "RUNTIME__DLTHUB_TELEMETRY": "false",
            "PYTHONUNBUFFERED": "1",
        }

    def cli(self, *args: str | os.PathLike[str], capsys: Any) -> Run:
        """`gainsight-px ARGS` in this process (the caller has applied `env` with monkeypatch)."""
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    def start(self, *args: str | os.PathLike[str], extra_env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        """`gainsight-px ARGS` as a subprocess, in this directory."""
        env = {**os.environ, **self.env, **(extra_env or {})}
        return subprocess.Popen([sys.executable, "-m", "gainsight_px.cli", *map(str, args)], cwd=self.path,
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def run(self, *args: str | os.PathLike[str], extra_env: dict[str, str] | None = None,
            timeout: float = 120) -> Run:
        proc = self.start(*args, extra_env=extra_env)
        out, err = proc.communicate(timeout=timeout)
        return Run(proc.returncode, out, err)


LOAD_ARGS = ("load", "--page-size", str(PAGE_SIZE), "--progress", "none")


# ---------------------------------------------------------------- warehouse oracle

Snapshot = dict[str, tuple[tuple[str, ...], list[tuple[Any, ...]]]]


def snapshot(duckdb_path: Path, dataset: str = DEFAULT_DATASET) -> Snapshot:
    """Every PX table as (columns, sorted rows), without dlt's bookkeeping columns."""
    out: Snapshot = {}
    if not duckdb_path.exists():
        return out
    with duckdb.connect(str(duckdb_path), read_only=True) as conn:
        present = {r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ?", [dataset]).fetchall()}
        for table in TABLES:
            if table not in present:
                continue
            columns = tuple(sorted(
                r[0] for r in conn.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?",
                    [dataset, table]).fetchall()
                if not r[0].startswith("_dlt")))
            select = ", ".join(f'"{c}"' for c in columns)
            rows = conn.execute(f'SELECT {select} FROM "{dataset}"."{table}"').fetchall()
            out[table] = (columns, sorted(rows, key=repr))
    return out


def duplicate_keys(snap: Snapshot) -> dict[str, list[Any]]:
    """Keys that appear more than once, per table (must be empty)."""
    found: dict[str, list[Any]] = {}
    for table, (columns, rows) in snap.items():
        index = columns.index(KEY_COLUMNS[table])
        counts = Counter(row[index] for row in rows)
        dupes = [k for k, n in counts.items() if n > 1]
        if dupes:
            found[table] = dupes
    return found


def assert_same_tables(got: Snapshot, expected: Snapshot) -> None:
    """Table for table, column for column, row for row; a readable diff when not."""
    assert not duplicate_keys(got), f"duplicate keys: {duplicate_keys(got)}"
    assert sorted(got) == sorted(expected), f"tables differ: {sorted(got)} != {sorted(expected)}"
    for table in expected:
        got_cols, got_rows = got[table]
        exp_cols, exp_rows = expected[table]
        assert got_cols == exp_cols, f"{table}: columns differ: {set(got_cols) ^ set(exp_cols)}"
        if got_rows != exp_rows:
            index = exp_cols.index(KEY_COLUMNS[table])
            got_by = {r[index]: r for r in got_rows}
            exp_by = {r[index]: r for r in exp_rows}
            missing = sorted(set(exp_by) - set(got_by))[:5]
            extra = sorted(set(got_by) - set(exp_by))[:5]
            changed = [k for k in exp_by if k in got_by and got_by[k] != exp_by[k]][:3]
            detail = [(k, [(c, a, b) for c, a, b in zip(exp_cols, exp_by[k], got_by[k], strict=True) if a != b])
                      for k in changed]
            raise AssertionError(f"{table}: {len(got_rows)} rows vs {len(exp_rows)} expected; missing {missing}, "
                                 f"extra {extra}, changed {detail}")


def clean_load_snapshot(base_url: str, where: Path) -> Snapshot:
    """A fault-free load of whatever the emulator at `base_url` holds now, in a subprocess."""
    work = Workdir(where, base_url)
    run = work.run(*LOAD_ARGS)
    assert run.code == 0, run.text
    return snapshot(work.duckdb)


# ---------------------------------------------------------------- push helpers

def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def user_rows(count: int, prefix: str = "rel") -> tuple[list[str], list[list[str]]]:
    """New users (ids with characters that need URL-encoding on update paths)."""
    header = ["identifyId", "email", "firstName", "customAttributes.plan", "customAttributes.seats"]
    rows = [[f"{prefix}/{i:04d}+x@y", f"{prefix}{i}@example.com", f"Näme {i}", ["Free", "Pro"][i % 2], str(i)]
            for i in range(count)]
    return header, rows


def event_rows(count: int, prefix: str = "rel") -> tuple[list[str], list[list[str]]]:
    """Custom events; every fifth row repeats the previous one (two identical events, both must go)."""
    header = ["identifyId", "eventName", "date", "attributes.step"]
    rows: list[list[str]] = []
    for i in range(count):
        if i % 5 == 4:
            rows.append(list(rows[-1]))
        else:
            rows.append([f"{prefix}-user-{i % 7}", "report_exported", str(NOW_MS - i * 1000), str(i)])
    return header, rows


def event_identity(event: dict[str, Any]) -> tuple[Any, ...]:
    attributes = event.get("attributes") or {}
    return (event.get("identifyId"), event.get("eventName"), event.get("date"),
            tuple(sorted(attributes.items())))


def expected_event_identities(rows: Sequence[Sequence[str]]) -> Counter[tuple[Any, ...]]:
    return Counter((r[0], r[1], int(r[2]), (("step", int(r[3])),)) for r in rows)


def users_state(emulator: Emulator, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The emulator's records for these identifyIds, without the server-assigned aptrinsicId."""
    wanted = set(ids)
    return {r["identifyId"]: {k: v for k, v in r.items() if k != "aptrinsicId"}
            for r in emulator.control.records("users") if r.get("identifyId") in wanted}


def ok_writes_per_key(emulator: Emulator, resource: str) -> Counter[Any]:
    return Counter(w["key"] for w in emulator.control.writes(resource) if 200 <= w["status"] < 300)


# ---------------------------------------------------------------- timing-free coordination

def when(condition: Callable[[], bool], action: Callable[[], None], *, poll_s: float = 0.005,
         give_up_s: float = 60.0) -> threading.Thread:
    """Run `action` once `condition()` holds (a background watcher; e.g. revoke auth mid-run)."""
    def watch() -> None:
        deadline = time.monotonic() + give_up_s
        while time.monotonic() < deadline:
            if condition():
                action()
                return
            time.sleep(poll_s)

    thread = threading.Thread(target=watch, name="fault-watcher", daemon=True)
    thread.start()
    return thread


def ok_requests(emulator: Emulator, route: str) -> int:
    """Answered-2xx requests to a route such as "GET /v1/users" (from the emulator's log)."""
    method, path = route.split(" ", 1)
    return sum(1 for r in emulator.control.requests()
               if r["method"] == method and r["path"] == path and 200 <= r["status"] < 300)
