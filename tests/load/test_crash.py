"""A run that dies half-way loses nothing, and its rerun gives exactly what a clean run gives."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from gainsight_px.emulator import Emulator, TenantSpec
from gainsight_px.errors import AuthError, GainsightPXError
from load_helpers import Loader, cli_env, run_cli

TENANT = TenantSpec(users=180, accounts=18, seed=13)
TABLES = {"users": "aptrinsic_id", "accounts": "id", "features": "id", "engagements": "id",
          "subscriptions": "id"}


def contents(loader: Loader) -> dict[str, dict[Any, dict[str, Any]]]:
    return {table: {k: {c: v for c, v in row.items() if not c.startswith("_dlt")}
                    for k, row in loader.rows(table, key=key).items()}
            for table, key in TABLES.items()}


def clean_result(emulator: Emulator, make_loader) -> dict[str, dict[Any, dict[str, Any]]]:
    """What one uninterrupted load of the emulator's current data gives."""
    clean: Loader = make_loader(emulator, name="clean")
    clean.run()
    return contents(clean)


@pytest.mark.parametrize("failing_page", [1, 3])
def test_an_api_failure_mid_run_then_a_rerun_gives_the_clean_result(make_emulator, make_loader,
                                                                    failing_page: int) -> None:
    emulator = make_emulator(tenant=TENANT)
    loader: Loader = make_loader(emulator)
    loader.run(page_size=25)
    active = emulator.control.simulate_activity(count=60)
    if failing_page > 1:
        emulator.control.inject("slow", count=failing_page - 1, path="/v1/users", seconds=0)
    emulator.control.inject("empty_403", path="/v1/users")

    with pytest.raises(AuthError):
        loader.run(page_size=25)

    # The failed run committed no cursor: the rerun fetches every active user again.
    summary = loader.run(page_size=25)
    assert summary.rows["users"] == len(active)
    assert contents(loader) == clean_result(emulator, make_loader)


def test_revoked_auth_mid_run_then_a_rerun(make_emulator, make_loader) -> None:
    emulator = make_emulator(tenant=TENANT)
    loader: Loader = make_loader(emulator)
    loader.run(resources="users")
    emulator.control.simulate_activity(count=40)
    emulator.control.revoke_auth()

    with pytest.raises(AuthError, match="SOURCES__GAINSIGHT_PX__API_KEY"):
        loader.run()

    emulator.control.restore_auth()
    loader.run()
    assert contents(loader) == clean_result(emulator, make_loader)


def test_a_locked_warehouse_fails_cleanly_and_changes_nothing(make_emulator, make_loader) -> None:
    emulator = make_emulator(tenant=TENANT)
    loader: Loader = make_loader(emulator)
    loader.run()
    before = contents(loader)
    emulator.control.simulate_activity(count=30)
    # Another process holds the DuckDB file (an analyst's session).
    locker = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
                               "print('locked', flush=True); time.sleep(120)", str(loader.db_path)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert locker.stdout.readline().strip() == "locked"
        with pytest.raises(GainsightPXError, match="is in use by another process"):
            loader.run(full_refresh=True)
    finally:
        locker.kill()
        locker.wait()

    assert contents(loader) == before
    loader.run()
    assert contents(loader) == clean_result(emulator, make_loader)


def test_a_package_left_before_its_load_is_finished_by_the_next_run(make_emulator, make_loader) -> None:
    import dlt
    from gainsight_px.settings import EMULATOR_API_KEY
    from gainsight_px.source import gainsight_px_source

    emulator = make_emulator(tenant=TENANT)
    loader: Loader = make_loader(emulator)
    loader.run()
    emulator.control.simulate_activity(count=30)
    # A reconcile that died after extract and normalize, before its load (e.g. killed).
    pipeline = dlt.pipeline(loader.pipeline_name, pipelines_dir=str(loader.pipelines_dir),
                            destination=dlt.destinations.duckdb(str(loader.db_path)),
                            dataset_name="gainsight_px")
    pipeline.extract(gainsight_px_source(api_key=EMULATOR_API_KEY, base_url=emulator.base_url),
                     refresh="drop_data")
    pipeline.normalize()
    assert pipeline.has_pending_data
    emulator.control.delete_record("users", emulator.control.records("users")[0]["aptrinsicId"])
    emulator.control.simulate_activity(count=5)

    summary = loader.run()

    assert summary.resumed_pending
    assert summary.rows["users"] == 5  # the new run still happened, after the pending one
    assert loader.count("users") == TENANT.users  # the user deleted since is only gone after a reconcile
    loader.run(full_refresh=True)
    assert contents(loader) == clean_result(emulator, make_loader)


def _wait_for(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def test_a_load_killed_with_sigkill_then_rerun_gives_the_clean_result(make_emulator, make_loader,
                                                                     tmp_path: Path) -> None:
    emulator = make_emulator(tenant=TENANT)
    db = tmp_path / "killed.duckdb"
    env = cli_env(emulator, tmp_path, DESTINATION__DUCKDB__CREDENTIALS=str(db))
    first = run_cli(["load", "--page-size", "20"], env, tmp_path)
    assert first.returncode == 0, first.stderr
    emulator.control.simulate_activity(count=70)
    emulator.control.reset_log()
    # Slow down the scan so the process is certainly mid-extract when it dies.
    emulator.control.inject("slow", count=3, path="/v1/users", seconds=0.3)
    proc = subprocess.Popen([sys.executable, "-m", "gainsight_px.cli", "load", "--page-size", "20"],
                            env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _wait_for(lambda: emulator.control.request_counts().get("GET /v1/users", 0) >= 2)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL

    rerun = run_cli(["load", "--page-size", "20"], env, tmp_path)

    assert rerun.returncode == 0, rerun.stderr
    killed = Loader(emulator, tmp_path, name="killed")
    killed.db_path = db
    assert contents(killed) == clean_result(emulator, make_loader)
