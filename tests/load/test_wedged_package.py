"""A load package that cannot be loaded does not wedge the pipeline: every run says so in one line
naming `--drop-pending`, and `--drop-pending` (or `--full-refresh`) discards it and fetches its rows again."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from gainsight_px.emulator import TenantSpec
from load_helpers import cli_env, run_cli

TENANT = TenantSpec(users=1000, accounts=10, extra_attributes=30, seed=3)
STARVED = '{"memory_limit": "8MB"}'  # DuckDB cannot insert this tenant's users under it


@pytest.mark.parametrize("recovery", ["--drop-pending", "--full-refresh"])
def test_a_package_that_cannot_load_is_reported_and_recovered(make_emulator, tmp_path: Path, recovery: str) -> None:
    emulator = make_emulator(tenant=TENANT)
    db = tmp_path / "gainsight.duckdb"
    env = cli_env(emulator, tmp_path, DESTINATION__DUCKDB__CREDENTIALS=str(db),
                  SOURCES__GAINSIGHT_PX__DIALECT="contract")
    # dlt retries a failing job 5 times per run before giving up; once is enough to show it.
    starved = {**env, "DESTINATION__DUCKDB__CREDENTIALS__GLOBAL_CONFIG": STARVED, "LOAD__RAISE_ON_MAX_RETRIES": "1"}
    args = ["load", "--progress", "none"]
    for attempt in ("this run's", "an earlier run left"):
        result = run_cli(args, starved, tmp_path)
        assert result.returncode == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert attempt in lines[0] and "Out of Memory" in lines[0] and "--drop-pending" in lines[0]

    result = run_cli([*args, recovery], env, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "discarded" in result.stdout
    with duckdb.connect(str(db), read_only=True) as conn:
        rows, keys = conn.execute("SELECT count(*), count(DISTINCT aptrinsic_id) FROM gainsight_px.users").fetchone()
    assert rows == keys == 1000
