"""kill -9 inside the *load step* of a first load and of a reconcile (`--full-refresh`).

The load step is where dlt copies files into DuckDB and merges staging into
the tables. Kill points are drawn by a seeded RNG as (moment, delay): the
moment is seen in the load package on disk (the users copy job started, the
copy job done, the users merge job queued or started), the delay 0-80 ms
after it. After every kill:

- what a reader sees is never half-done: every table equals its content
  before the run or a clean load's, with no duplicate key;
- the same command run again gives exactly a clean load's tables.

A reconcile test changes the tenant before each kill (records deleted,
attributes changed), so "before" and "after" differ and a truncated or
half-filled table would show. `--slow` tries three times as many points.
"""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from crash_helpers import SEED
from reliability_harness import (
    LOAD_ARGS,
    Snapshot,
    Workdir,
    assert_same_tables,
    clean_load_snapshot,
    duplicate_keys,
    new_emulator,
    snapshot,
)

POINTS = 5  # per test; 10 in all (x3 with --slow)
MOMENTS = ("copy-started", "copy-done", "merge-queued", "merge-started")


def _package_files(work: Workdir) -> list[Path]:
    # dlt moves job files and whole packages while this looks: a folder that vanishes mid-glob
    # means "look again", not a failure.
    try:
        return list((work.dlt_dir / "pipelines").glob("*/load/normalized/*/*/users.*"))
    except FileNotFoundError:
        return []


def _reached(work: Workdir, moment: str) -> bool:
    for path in _package_files(work):
        folder, is_sql = path.parent.name, path.name.endswith(".sql")
        if moment == "copy-started" and not is_sql and folder in ("started_jobs", "completed_jobs"):
            return True
        if moment == "copy-done" and not is_sql and folder == "completed_jobs":
            return True
        if moment == "merge-queued" and is_sql:
            return True
        if moment == "merge-started" and is_sql and folder in ("started_jobs", "completed_jobs"):
            return True
    return False


def _kill_in_load_step(work: Workdir, args: tuple[str, ...], moment: str, delay: float) -> bool:
    """Run `args`, SIGKILL it `delay` s after `moment`; False if it finished first."""
    proc = work.start(*args)
    started = time.monotonic()
    seen: float | None = None
    while proc.poll() is None:
        now = time.monotonic()
        if seen is None and _reached(work, moment):
            seen = now
        if seen is not None and now - seen >= delay:
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=30)
            return True
        assert now - started < 90, "the load never reached its load step"
        time.sleep(0.001)
    out, err = proc.communicate()
    assert proc.returncode == 0, out + err
    return False


def _assert_each_table_is_one_of(got: Snapshot, allowed: list[Snapshot], where: str) -> None:
    assert not duplicate_keys(got), f"{where}: duplicate keys {duplicate_keys(got)}"
    for table, content in got.items():
        # A table that did not exist before may exist empty (created before its first rows).
        options = [a[table] if table in a else (content[0], []) for a in allowed]
        assert content in options, f"{where}: table {table} is half-done ({len(content[1])} rows)"


def _users_as_in(got: Snapshot, emulator: Any) -> bool:
    """The users table holds exactly the tenant's users, with their current plans."""
    if "users" not in got:
        return False
    columns, rows = got["users"]
    key, plan = columns.index("aptrinsic_id"), columns.index("custom_attributes__plan")
    tenant = {r["aptrinsicId"]: (r.get("customAttributes") or {}).get("plan")
              for r in emulator.control.records("users")}
    return len(rows) == len(tenant) and {r[key]: r[plan] for r in rows} == tenant


def _points(request: pytest.FixtureRequest, salt: str) -> list[tuple[str, float]]:
    rng = random.Random(f"{SEED}:{salt}")
    count = POINTS * (3 if request.config.getoption("--slow") else 1)
    # Every moment at least once, then drawn at random.
    moments = list(MOMENTS) + [rng.choice(MOMENTS) for _ in range(count - len(MOMENTS))]
    return [(m, rng.uniform(0.0, 0.08)) for m in moments]


def test_kill_9_in_the_load_step_of_a_first_load(tmp_path: Path, request: pytest.FixtureRequest,
                                                  record_property: Any) -> None:
    emulator = new_emulator()
    try:
        clean = clean_load_snapshot(emulator.base_url, tmp_path / "clean")
        killed = 0
        points = _points(request, "first")
        for i, (moment, delay) in enumerate(points):
            work = Workdir(tmp_path / f"w{i}", emulator.base_url)
            landed = _kill_in_load_step(work, LOAD_ARGS, moment, delay)
            killed += landed
            where = f"first load {i} killed {delay * 1000:.0f} ms after {moment}"
            _assert_each_table_is_one_of(snapshot(work.duckdb), [{}, clean], where)
            rerun = work.run(*LOAD_ARGS)
            assert rerun.code == 0, rerun.text
            assert_same_tables(snapshot(work.duckdb), clean)
        record_property("reliability", {"suite": "kill-load-step-first", "points": len(points),
                                        "landed": killed, "duplicates": 0, "lost": 0})
        assert killed >= len(points) - 1, "too few kills landed inside the load step"
    finally:
        emulator.stop()


def test_kill_9_in_the_load_step_of_a_reconcile(tmp_path: Path, request: pytest.FixtureRequest,
                                                record_property: Any) -> None:
    emulator = new_emulator()
    try:
        work = Workdir(tmp_path / "work", emulator.base_url)
        assert work.run(*LOAD_ARGS).code == 0
        reconcile = (*LOAD_ARGS, "--full-refresh")
        rng = random.Random(f"{SEED}:tenant")
        killed = 0
        points = _points(request, "reconcile")
        for i, (moment, delay) in enumerate(points):
            # What only a reconcile sees: deletions and attribute-only changes.
            users = emulator.control.records("users")
            for record in rng.sample(users, 3):
                emulator.control.delete_record("users", record["aptrinsicId"])
            for record in rng.sample(users, 5):
                emulator.control.update_record("users", record["aptrinsicId"],
                                               {"customAttributes": {"plan": f"plan-{i}"}})
            before = snapshot(work.duckdb)
            assert not _users_as_in(before, emulator)
            landed = _kill_in_load_step(work, reconcile, moment, delay)
            killed += landed
            where = f"reconcile {i} killed {delay * 1000:.0f} ms after {moment}"
            seen = snapshot(work.duckdb)
            assert not duplicate_keys(seen), f"{where}: duplicate keys {duplicate_keys(seen)}"
            # Only users changed: the other tables are as before, users as before or as now.
            _assert_each_table_is_one_of({t: c for t, c in seen.items() if t != "users"}, [before], where)
            assert seen["users"] == before["users"] or _users_as_in(seen, emulator), \
                f"{where}: table users is half-done ({len(seen['users'][1])} rows)"
            rerun = work.run(*reconcile)
            assert rerun.code == 0, rerun.text
            assert _users_as_in(snapshot(work.duckdb), emulator), f"{where}: the rerun did not reconcile"
        assert_same_tables(snapshot(work.duckdb), clean_load_snapshot(emulator.base_url, tmp_path / "clean"))
        record_property("reliability", {"suite": "kill-load-step-reconcile", "points": len(points),
                                        "landed": killed, "duplicates": 0, "lost": 0})
        assert killed >= len(points) - 1, "too few kills landed inside the load step"
    finally:
        emulator.stop()
