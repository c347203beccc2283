"""Secret hygiene across both flows: a recognisable API key must end up nowhere.

One working directory sees a user's whole week, every command a subprocess
with dlt logging at DEBUG: loads (full, incremental, reconcile), pushes from
CSV (with rejects) and from the warehouse, a push killed with SIGKILL and
resumed, and a load and a push that fail on a revoked key. Then the key is
searched for in everything printed and in every file the runs left: the dlt
pipeline folder (state, traces, schemas, load packages, gzip- or
parquet-compressed or not), the DuckDB file (raw bytes, and every value of
every table, dlt's compressed state included), the ledger and the rejects
files.
"""

from __future__ import annotations

import gzip
import os
import signal
import time
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from gainsight_px.emulator import Emulator, TenantSpec
from reliability_harness import LOAD_ARGS, Run, Workdir, event_rows, user_rows, write_csv
from secret_search import where_is

CANARY = "SECRET-KEY-canary-8f3a1c"
DEBUG_ENV = {"RUNTIME__LOG_LEVEL": "DEBUG"}


def test_the_canary_is_searchable_where_it_is_planted(tmp_path: Path) -> None:
    """The search is not blind: a planted canary is found in a gzip file, a parquet file and DuckDB state."""
    import pyarrow as pa
    from dlt.common.versioned_state import compress_state

    (tmp_path / "a.gz").write_bytes(gzip.compress(f"x{CANARY}y".encode()))
    pq.write_table(pa.table({"v": [CANARY]}), tmp_path / "b.parquet", compression="zstd")
    with duckdb.connect(str(tmp_path / "c.duckdb")) as conn:
        conn.execute("CREATE TABLE _dlt_pipeline_state (state VARCHAR)")
        conn.execute("INSERT INTO _dlt_pipeline_state VALUES (?)", [compress_state({"k": CANARY})])
    found = where_is(CANARY, tmp_path, [Run(0, "", f"error: {CANARY}")])
    assert found == ["output of run 0", "a.gz", "b.parquet", "c.duckdb (table values)"], found


def test_the_api_key_appears_nowhere_after_a_week_of_loads_and_pushes(tmp_path: Path) -> None:
    emulator = Emulator(tenant=TenantSpec(users=300, accounts=30, seed=3), api_key=CANARY,
                        now_ms=1_732_579_200_000).start()
    try:
        work = Workdir(tmp_path / "work", emulator.base_url, api_key=CANARY)
        runs: list[Run] = []

        def run(*args: str | os.PathLike[str], expect: int) -> Run:
            result = work.run(*args, extra_env=DEBUG_ENV)
            runs.append(result)
            assert result.code == expect, (args, result.text)
            return result

        run(*LOAD_ARGS, expect=0)
        emulator.control.simulate_activity(count=20)
        run(*LOAD_ARGS, expect=0)
        run(*LOAD_ARGS, "--full-refresh", expect=0)

        header, rows = user_rows(40, prefix="sec")
        rows[3][1] = "not-an-email"  # a rejected row: the rejects file is written
        users_csv = write_csv(work.path / "users.csv", header, rows)
        run("push", "users", users_csv, expect=2)
        assert (work.path / "users.rejects.csv").exists()
        run("push", "users", "--from-duckdb", work.duckdb, "--query",
            'SELECT identify_id AS "identifyId", \'Ops\' AS "title" FROM gainsight_px.users '
            "WHERE identify_id IS NOT NULL ORDER BY 1 LIMIT 25", "--mode", "update", expect=0)

        # A push killed mid-run (SIGKILL), then resumed: leaves a ledger that had rows in flight.
        emulator.control.set_rate_limit(40.0)
        header, rows = event_rows(200, prefix="sec")
        events_csv = write_csv(work.path / "events.csv", header, rows)
        proc = work.start("push", "events", events_csv, "--rate", "35", extra_env=DEBUG_ENV)
        while len(emulator.control.events()) < 20:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate()
        runs.append(Run(proc.returncode, out, err))
        emulator.control.set_rate_limit(None)
        run("push", "events", events_csv, expect=0)

        # Failures print messages: they must name the setting, not the key.
        emulator.control.revoke_auth()
        run(*LOAD_ARGS, expect=1)
        run("push", "users", users_csv, "--force", expect=1)
        emulator.control.restore_auth()

        assert len(runs) == 9
        assert (work.dlt_dir / "pipelines").is_dir() and work.duckdb.exists() and work.ledger.exists()
        assert where_is(CANARY, tmp_path, runs) == []
    finally:
        emulator.stop()


@pytest.mark.parametrize("flow", ["load", "push"])
def test_a_key_in_the_url_query_or_path_is_never_echoed(flow: str, tmp_path: Path) -> None:
    """A user who pastes the key into the base URL by mistake: the refusal must not repeat it."""
    work = Workdir(tmp_path, f"http://px.example.com/v1?key={CANARY}", api_key=CANARY)
    if flow == "load":
        result = work.run(*LOAD_ARGS)
    else:
        header, rows = user_rows(2)
        result = work.run("push", "users", write_csv(tmp_path / "u.csv", header, rows))
    assert result.code == 1, result.text
    assert "Traceback" not in result.text
    assert CANARY not in result.text, result.text
