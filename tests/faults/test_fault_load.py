"""The fault matrix, load side: each fault the emulator can inject, during `gainsight-px load`.

Every case ends one of two ways:
- **identical**: the DuckDB tables equal those of a fault-free load of an
  identical tenant (same seed, same clock), and a second run then fetches no
  user or account rows (the stored cursor is right);
- **fails cleanly**: exit 1, a message naming the cause and the setting to fix
  (never the key), the tables and the cursor untouched, and a rerun that
  completes to exactly the clean result.

Faults land mid-scan: `slow` faults of 0 seconds let the first requests of a
path through, so the fault hits a scroll continuation (the hard case: the
server may already have moved on, so the scan must restart, not skip).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from gainsight_px.settings import API_KEY_ENV, EMULATOR_API_KEY, REQUEST_TIMEOUT_ENV
from reliability_harness import (
    LOAD_ARGS,
    PAGE_SIZE,
    TENANT,
    Snapshot,
    assert_same_tables,
    clean_load_snapshot,
    new_emulator,
    ok_requests,
    snapshot,
    when,
)

USERS = "/users"
CLEAN_USER_REQUESTS = TENANT.users // PAGE_SIZE + 1  # full pages and the closing empty one


@dataclass(frozen=True)
class Fault:
    """One row of the matrix: what to inject, and what proves it happened."""

    id: str
    inject: tuple[tuple[str, int, str, dict[str, Any]], ...]
    shows_status: int | None = None  # the emulator must have answered this status at least once
    restarts: bool = False  # the users scan had to start again (more requests than a clean scan)
    emulator: dict[str, Any] = field(default_factory=dict)
    subprocess_env: dict[str, str] | None = None  # run the CLI as a subprocess with this environment


def after(n: int, path: str) -> tuple[str, int, str, dict[str, Any]]:
    """Let the first `n` requests to `path` through untouched (FIFO: this fault is used up first)."""
    return ("slow", n, path, {"seconds": 0})


LOAD_FAULTS = [
    Fault("429-storm-with-retry-after",
          (after(2, USERS), ("429", 3, USERS, {"retry_after": True, "seconds": 1})), shows_status=429),
    Fault("429-storm-without-retry-after",
          (after(2, USERS), ("429", 3, USERS, {"retry_after": False})), shows_status=429),
    *[Fault(f"{status}-burst-mid-scan", (after(2, USERS), (status, 3, USERS, {})),
            shows_status=int(status), restarts=True) for status in ("500", "502", "503", "504")],
    Fault("503-burst-on-first-page", (("503", 2, "/feature_match", {}),), shows_status=503),
    Fault("html-502-from-a-proxy", (after(3, USERS), ("html_502", 2, USERS, {})), shows_status=502, restarts=True),
    Fault("connection-reset-mid-body", (after(2, USERS), ("reset", 1, USERS, {})), restarts=True),
    Fault("truncated-json-body", (after(2, USERS), ("truncate", 1, USERS, {})), restarts=True),
    Fault("read-timeout", (after(2, USERS), ("slow", 1, USERS, {"seconds": 2.5})), restarts=True,
          subprocess_env={REQUEST_TIMEOUT_ENV: "1"}),
    # The scroll idles past its TTL while the next request is held up: 404 SCROLL_EXPIRED.
    Fault("scroll-expired-mid-scan", (after(2, USERS), ("slow", 1, USERS, {"seconds": 2.0})),
          shows_status=404, restarts=True, emulator={"scroll_ttl": 1.0}),
]


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Snapshot:
    """The tables of a fault-free load of the shared tenant."""
    emulator = new_emulator()
    try:
        return clean_load_snapshot(emulator.base_url, tmp_path_factory.mktemp("clean-load"))
    finally:
        emulator.stop()


def rows_loaded(output: str, table: str) -> int:
    for line in output.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == table:
            return int(parts[1].replace(",", ""))
    raise AssertionError(f"no row count for {table} in:\n{output}")


@pytest.mark.parametrize("fault", LOAD_FAULTS, ids=lambda f: f.id)
def test_load_fault_ends_identical_to_a_clean_run(fault: Fault, clean: Snapshot, make_work: Any,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    emulator = new_emulator(**fault.emulator)
    try:
        work = make_work(emulator)
        for kind, count, path, params in fault.inject:
            emulator.control.inject(kind, count=count, path=path, **params)

        if fault.subprocess_env is not None:
            run = work.run(*LOAD_ARGS, extra_env=fault.subprocess_env)
        else:
            run = work.cli(*LOAD_ARGS, capsys=capsys)

        assert run.code == 0, run.text
        stats = emulator.control.stats()
        assert stats["pending_faults"] == 0, f"not every fault was used: {emulator.control.faults()}"
        if fault.shows_status is not None:
            assert stats["statuses"].get(str(fault.shows_status), 0) >= 1, stats
        if fault.restarts:
            assert emulator.control.request_counts()["GET /v1/users"] > CLEAN_USER_REQUESTS, \
                "the fault did not break the scan (no new scan was needed)"
        assert_same_tables(snapshot(work.duckdb), clean)

        # The cursor was stored right: an unchanged tenant now costs no user or account rows.
        again = work.cli(*LOAD_ARGS, capsys=capsys)
        assert again.code == 0, again.text
        assert rows_loaded(again.out, "users") == 0 and rows_loaded(again.out, "accounts") == 0, again.out
        assert_same_tables(snapshot(work.duckdb), clean)
    finally:
        emulator.stop()


def test_load_with_malformed_records_loads_what_was_sent(clean: Snapshot, make_work: Any,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """A page whose records lack a field, carry numbers as strings and bring brand-new fields:
    the load succeeds; present values equal the clean load's (types coerced back), the missing
    field is NULL, the new fields are new columns; a reconcile run restores the missing values."""
    emulator = new_emulator()
    try:
        work = make_work(emulator)
        emulator.control.inject("slow", count=1, path=USERS, seconds=0)
        emulator.control.inject("malformed_records", count=1, path=USERS)

        run = work.cli(*LOAD_ARGS, capsys=capsys)

        assert run.code == 0, run.text
        assert emulator.control.stats()["faults_used"].get("malformed_records") == 1
        got = snapshot(work.duckdb)
        assert_same_tables({t: got[t] for t in got if t != "users"}, {t: clean[t] for t in clean if t != "users"})
        columns, rows = got["users"]
        clean_columns, clean_rows = clean["users"]
        new_columns = set(columns) - set(clean_columns)
        assert {"brand_new_field", "px_internal_flags"} <= new_columns, new_columns
        assert set(clean_columns) <= set(columns)
        key = clean_columns.index("aptrinsic_id")
        baseline = {r[key]: dict(zip(clean_columns, r, strict=True)) for r in clean_rows}
        assert len(rows) == len(clean_rows)
        malformed = 0
        for row in rows:
            record = dict(zip(columns, row, strict=True))
            expected = baseline[record["aptrinsic_id"]]
            differing = {c for c in clean_columns if record[c] != expected[c]}
            assert all(record[c] is None for c in differing), (record["aptrinsic_id"], differing)
            if record["brand_new_field"] is not None:
                malformed += 1
                assert record["brand_new_field"].startswith("surprise-")
            else:
                assert not differing, (record["aptrinsic_id"], differing)
        assert malformed == PAGE_SIZE  # exactly one page was malformed

        # Reconcile: every value is back; the new columns stay, empty.
        refresh = work.cli(*LOAD_ARGS, "--full-refresh", capsys=capsys)
        assert refresh.code == 0, refresh.text
        columns, rows = snapshot(work.duckdb)["users"]
        kept = [columns.index(c) for c in clean_columns]
        assert sorted((tuple(r[i] for i in kept) for r in rows), key=repr) == clean_rows
        assert all(r[columns.index(c)] is None for r in rows for c in new_columns)
    finally:
        emulator.stop()


def test_load_with_auth_revoked_mid_run_fails_cleanly_and_the_rerun_completes(
        make_work: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    emulator = new_emulator()
    try:
        work = make_work(emulator)
        first = work.cli(*LOAD_ARGS, capsys=capsys)
        assert first.code == 0, first.text
        before = snapshot(work.duckdb)
        active = emulator.control.simulate_activity(count=200)  # 4 full pages + 1 for the next run

        # Hold up every users page after the first, and revoke the key once that first page is served.
        emulator.control.reset_log()
        emulator.control.inject("slow", count=1, path=USERS, seconds=0)
        emulator.control.inject("slow", count=5, path=USERS, seconds=0.2)
        when(lambda: ok_requests(emulator, "GET /v1/users") >= 1, emulator.control.revoke_auth)

        failed = work.cli(*LOAD_ARGS, capsys=capsys)

        assert failed.code == 1, failed.text
        assert "401" in failed.err and API_KEY_ENV in failed.err, failed.err
        assert EMULATOR_API_KEY not in failed.text
        assert "Traceback" not in failed.text
        assert emulator.control.stats()["statuses"].get("401", 0) >= 1
        assert snapshot(work.duckdb) == before, "a failed run changed the tables"

        emulator.control.restore_auth()
        emulator.control.clear_faults()
        rerun = work.cli(*LOAD_ARGS, capsys=capsys)

        assert rerun.code == 0, rerun.text
        # The cursor had not moved: the rerun fetches every active user again (and the lookback window).
        assert rows_loaded(rerun.out, "users") >= len(active), rerun.out
        assert_same_tables(snapshot(work.duckdb), clean_load_snapshot(emulator.base_url, tmp_path / "clean"))
    finally:
        emulator.stop()
