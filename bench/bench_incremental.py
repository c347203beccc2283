"""Incremental loads (no change, then 1% activity), as a fraction of the full load.

    python bench/bench_incremental.py                  # 1M users
    python bench/bench_incremental.py --users 100000

One emulator process serves the tenant. `ours` runs a full load into a fresh
DuckDB file, then again with nothing changed (the fixed cost of a run: one
request, no rows); the emulator then simulates activity on 1% of the users
(through its HTTP control interface, from this process); `ours` runs again on
the same pipeline state and must fetch exactly the active users plus the users
of the lookback window: those whose previous lastSeenDate lies within
`lookback_s` (the source's default) behind the previous cursor, computed from
the destination before the run. Requests are counted on the emulator side; the
destination is checked afterwards: every user is still there once, and every
active user has the new lastSeenDate.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _harness as h
from gainsight_px import settings
from gainsight_px.lookback import DEFAULT_RECORD_LOOKBACK_S
from gainsight_px.source import to_epoch_ms

DEFAULT_USERS = 1_000_000
ACTIVE_SHARE = 0.01
# Targets: an incremental run after 1% activity takes at most 8% of the full load's time;
# a run with nothing changed sends one request per resource and takes at most 5%.
TIME_SHARE_LIMIT = 0.08
NO_CHANGE_SHARE_LIMIT = 0.05
PIPELINE_NAME = "bench_incremental"


@dataclass
class IncrementalResult:
    users: int
    active: int
    full: dict[str, Any]
    no_change: dict[str, Any]
    incremental: dict[str, Any]
    stale_rows: int  # active users whose new lastSeenDate did not reach the destination
    errors: list[str]
    lookback_rows: int = 0  # users re-read only because they lie in the lookback window

    @property
    def time_share(self) -> float:
        return self.incremental["seconds"] / self.full["seconds"]

    @property
    def no_change_share(self) -> float:
        return self.no_change["seconds"] / self.full["seconds"]


def _destination_check(duckdb_file: Path, ids: list[str], at_ms: int) -> tuple[int, int, int]:
    """(rows, distinct keys, active users whose lastSeenDate is `at_ms`) in the destination."""
    import duckdb

    key, cursor = h.column_name(h.USERS.primary_key), h.column_name(h.USERS.cursor or "lastSeenDate")
    table = f"{settings.DEFAULT_DATASET}.{h.USERS.name}"
    with duckdb.connect(str(duckdb_file), read_only=True) as con:
        rows, distinct = con.execute(f"SELECT count(*), count(DISTINCT {key}) FROM {table}").fetchone()
        seen = con.execute(f"SELECT {cursor} FROM {table} WHERE {key} IN (SELECT unnest(?))", [ids]).fetchall()
    return rows, distinct, sum(1 for (v,) in seen if to_epoch_ms(v) == at_ms)


def _lookback_window(duckdb_file: Path, lookback_s: float = DEFAULT_RECORD_LOOKBACK_S) -> set[str]:
    """Users whose lastSeenDate lies within `lookback_s` behind the highest one loaded (the cursor)."""
    import duckdb

    key, cursor = h.column_name(h.USERS.primary_key), h.column_name(h.USERS.cursor or "lastSeenDate")
    table = f"{settings.DEFAULT_DATASET}.{h.USERS.name}"
    with duckdb.connect(str(duckdb_file), read_only=True) as con:
        rows = con.execute(f"SELECT {key} FROM {table} WHERE epoch_ms({cursor}) >= "
                           f"(SELECT max(epoch_ms({cursor})) FROM {table}) - ?", [round(lookback_s * 1000)]).fetchall()
    return {k for (k,) in rows}


def run(users: int, *, workroot: Path, active_share: float = ACTIVE_SHARE) -> IncrementalResult:
    workdir = workroot / "incremental"
    child_args = ["ours", "--workdir", str(workdir), "--pipeline-name", PIPELINE_NAME]
    errors: list[str] = []
    h.progress(f"starting the emulator with {users:,} users")
    with h.emulator_process(users) as emulator:
        control = h.remote_control(emulator)

        h.progress(f"ours: full load of {users:,} users")
        control.reset_log()
        full = h.run_child("contenders.py", child_args, workdir=workdir, handle=emulator)
        full["requests"] = h.list_requests(control)
        if full["rows"] != users:
            errors.append(f"full load put {full['rows']:,} rows in the destination; expected {users:,}")

        h.progress("ours: incremental load, nothing changed")
        control.reset_log()
        no_change = h.run_child("contenders.py", child_args, workdir=workdir, handle=emulator)
        no_change["requests"] = h.list_requests(control)
        if no_change.get("extracted"):
            errors.append(f"a run with nothing changed fetched {no_change['extracted']:,} rows; expected 0")

        active = max(1, round(users * active_share))
        h.progress(f"simulating activity on {active:,} users")
        window = _lookback_window(workdir / f"{PIPELINE_NAME}.duckdb")
        ids = control.simulate_activity(count=active)
        at_ms = control.record(h.USERS.name, ids[0])[h.USERS.cursor]
        lookback_rows = len(window - set(ids))

        h.progress("ours: incremental load")
        control.reset_log()
        incremental = h.run_child("contenders.py", child_args, workdir=workdir, handle=emulator)
        incremental["requests"] = h.list_requests(control)
        if incremental.get("extracted") not in (None, len(ids) + lookback_rows):
            errors.append(f"the incremental run fetched {incremental['extracted']:,} rows; expected the "
                          f"{len(ids):,} active users + {lookback_rows:,} of the lookback window")

    rows, distinct, fresh = _destination_check(workdir / f"{PIPELINE_NAME}.duckdb", ids, at_ms)
    if rows != users or distinct != users:
        errors.append(f"after the incremental load the destination has {rows:,} rows "
                      f"({distinct:,} distinct keys); expected {users:,}")
    if fresh != len(ids):
        errors.append(f"{len(ids) - fresh:,} of {len(ids):,} active users kept a stale lastSeenDate")
    return IncrementalResult(users, len(ids), full, no_change, incremental, len(ids) - fresh, errors,
                             lookback_rows)


def tables(result: IncrementalResult) -> list[h.Table]:
    table = h.Table(
        f"Incremental load after activity on {result.active:,} of {result.users:,} users",
        ["run", "rows fetched", "requests", "wall s", "peak RSS MB", "load avg", "share of full"],
    )
    for label, run in (("full", result.full), ("no change", result.no_change), ("incremental", result.incremental)):
        fetched = run.get("extracted")
        table.add(label, "-" if fetched is None else h.fmt_int(fetched), h.fmt_int(run["requests"]),
                  h.fmt_s(run["seconds"]), f"{run['peak_rss_mb']:,.0f}", h.fmt_load(run),
                  f"{run['seconds'] / result.full['seconds']:.1%}")
    table.notes.append(
        "rows fetched: rows the run extracted (dlt's normalize count); requests: GET /users as the emulator "
        f"counted them; active users stale in the destination: {result.stale_rows:,}; of the incremental "
        f"run's rows, {result.lookback_rows:,} are the lookback window ({DEFAULT_RECORD_LOOKBACK_S:,.0f} s "
        "behind the previous cursor), the rest the active users"
    )
    return [table]


def targets(result: IncrementalResult) -> list[h.Target]:
    fetched = result.incremental.get("extracted")
    return [
        h.Target("incremental / full time", result.time_share * 100, TIME_SHARE_LIMIT * 100, "<=", "%",
                 f"{result.active:,} active of {result.users:,} users"),
        h.Target("incremental rows fetched", fetched, result.active + result.lookback_rows, "<=", "",
                 f"the active users + {result.lookback_rows:,} of the lookback window; checked equal "
                 "(an error otherwise)"),
        h.Target("no-change requests", result.no_change["requests"], 1, "<=", "", "one resource (users)"),
        h.Target("no-change / full time", result.no_change_share * 100, NO_CHANGE_SHARE_LIMIT * 100, "<=", "%",
                 f"{result.users:,} users"),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Incremental-load bench: full load, 1% activity, incremental.")
    parser.add_argument("--users", type=int, default=DEFAULT_USERS, help=f"tenant size (default {DEFAULT_USERS:,})")
    parser.add_argument("--markdown-out", type=Path, help="also write the tables as markdown to this file")
    args = parser.parse_args(argv)
    machine = h.machine_table()
    with tempfile.TemporaryDirectory(prefix="px-bench-") as tmp:
        result = run(args.users, workroot=Path(tmp))
    h.finish_machine_table(machine)
    report = [machine, *tables(result), h.targets_table(targets(result))]
    return h.publish(report, args.markdown_out, result.errors)


if __name__ == "__main__":
    sys.exit(main())
