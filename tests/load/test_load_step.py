"""The load step's DuckDB settings bound its memory by design: one thread, then a cap.

DuckDB's memory need grows with its threads; under the same cap two threads
failed a wide tenant that one thread loads (bench/README.md has the figures).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
from gainsight_px.emulator import TenantSpec
from gainsight_px.load import duckdb_settings
from load_helpers import DATASET, cli_env, run_cli

WIDE = TenantSpec(users=10_000, accounts=100, extra_attributes=100, seed=5)
LOAD_USERS = ["load", "--resources", "users", "--progress", "none"]


def _load_wide_with_cap(emulator, tmp_path: Path, memory_limit: str) -> tuple[Path, dict[str, str], Any]:
    """`gainsight-px load --resources users` into a DuckDB file under a configured `memory_limit`."""
    db = tmp_path / "gainsight.duckdb"
    env = cli_env(emulator, tmp_path, DESTINATION__DUCKDB__CREDENTIALS=str(db),
                  DESTINATION__DUCKDB__CREDENTIALS__GLOBAL_CONFIG=f'{{"memory_limit": "{memory_limit}"}}',
                  SOURCES__GAINSIGHT_PX__DIALECT="contract")
    return db, env, run_cli(LOAD_USERS, env, tmp_path, timeout=300)


def _users_and_keys(db: Path) -> tuple[int, int]:
    with duckdb.connect(str(db), read_only=True) as conn:
        return conn.execute("SELECT count(*), count(DISTINCT aptrinsic_id) FROM gainsight_px.users").fetchone()


def test_the_default_duckdb_settings_run_one_thread_under_a_bounded_cap() -> None:
    settings = duckdb_settings()
    assert settings["threads"] == 1
    assert int(settings["memory_limit"].removesuffix("MB")) <= 120


def test_a_wide_first_load_fits_a_cap_that_two_threads_do_not(make_emulator, tmp_path: Path) -> None:
    # 96 MB: the former fixed cap, under which this tenant failed with DuckDB's OutOfMemoryException.
    db, _, result = _load_wide_with_cap(make_emulator(tenant=WIDE), tmp_path, "96MB")
    assert result.returncode == 0, result.stderr[-2000:]
    rows, keys = _users_and_keys(db)
    assert rows == keys == 10_000


def test_a_load_leaves_the_staging_dataset_empty_and_merges_still_work(loader) -> None:
    # Otherwise the staging table keeps the full load's rows, and the next merge's close pays to free them.
    loader.run(resources="users")
    users = loader.count("users")
    assert users > 0
    assert loader.query(f"SELECT count(*) FROM {DATASET}_staging.users")[0][0] == 0
    active = loader.control.simulate_activity(count=3)
    summary = loader.run(resources="users")
    assert summary.rows["users"] >= 3
    assert loader.count("users") == users
    assert loader.query(f"SELECT count(DISTINCT aptrinsic_id) FROM {DATASET}.users")[0][0] == users
    assert loader.query(f"SELECT count(*) FROM {DATASET}_staging.users")[0][0] == 0
    stored = dict(loader.query(f"SELECT aptrinsic_id, epoch_ms(last_seen_date) FROM {DATASET}.users "
                               "WHERE aptrinsic_id IN (SELECT unnest(?))", [list(active)]))
    seen = {u["aptrinsicId"]: u["lastSeenDate"] for u in loader.control.records("users")}
    assert stored == {key: seen[key] for key in active}


def _last_steps(loader) -> list[str]:
    import dlt

    trace = dlt.attach(loader.pipeline_name, pipelines_dir=str(loader.pipelines_dir)).last_trace
    return [step.step for step in trace.steps] if trace else []


def test_a_run_with_nothing_to_load_stops_after_the_extract_and_keeps_the_state(loader) -> None:
    loader.run(resources="users")
    loads = loader.count("_dlt_loads")
    for _ in range(2):  # the first right after the full load too: the remembered dialect is no state change
        summary = loader.run(resources="users")
        assert summary.rows == {"users": 0}
        assert summary.dialect == "contract (remembered)"
        assert not summary.resumed_pending
        assert _last_steps(loader) == ["extract"]  # no normalize, no load: nothing to commit
    assert loader.count("_dlt_loads") == loads
    import dlt

    assert not dlt.attach(loader.pipeline_name, pipelines_dir=str(loader.pipelines_dir)).has_pending_data
    # The cursor stayed where it was: activity after the quiet runs arrives.
    active = loader.control.simulate_activity(count=3)
    summary = loader.run(resources="users")
    assert summary.rows["users"] >= 3
    assert "load" in _last_steps(loader)
    stored = dict(loader.query(f"SELECT aptrinsic_id, epoch_ms(last_seen_date) FROM {DATASET}.users "
                               "WHERE aptrinsic_id IN (SELECT unnest(?))", [list(active)]))
    seen = {u["aptrinsicId"]: u["lastSeenDate"] for u in loader.control.records("users")}
    assert stored == {key: seen[key] for key in active}


def test_a_package_too_large_for_the_default_cap_loads_under_a_raised_one(make_emulator, tmp_path: Path,
                                                                          monkeypatch, caplog) -> None:
    # DuckDB's deduplicating merge needs memory in proportion to rows x columns (1M users x 100
    # attributes failed at 120 MB): the load raises the default cap for such a package. Here the
    # default is shrunk to a cap this tenant runs out of, and the per-cell figure scaled up: the
    # load must then pass at once, under the fitted cap, with no run out of memory to retry.
    import logging

    from gainsight_px import load

    emulator = make_emulator(tenant=WIDE)
    monkeypatch.setattr(load, "MERGE_BYTES_PER_CELL", 120.0)
    pipeline = _pipeline_with_default_cap(load, monkeypatch, tmp_path, "24MB")
    with caplog.at_level(logging.INFO, logger="gainsight_px.load"):
        _, loaded = load.run_source(pipeline, _users(emulator))
    assert loaded
    columns = len(pipeline.default_schema.get_table_columns("users"))
    expected_mb = int(10_000 * columns * 120.0) >> 20
    assert f"DuckDB memory limit raised from 24MB to {expected_mb}MB" in caplog.text
    assert "ran out of" not in caplog.text
    assert _users_and_keys(tmp_path / "cap.duckdb") == (10_000, 10_000)
    assert _cap_setting(pipeline) == "24MB"  # back to the default for the pipeline's next load


def test_a_load_that_runs_out_of_duckdb_memory_is_loaded_again_under_a_raised_cap(make_emulator, tmp_path: Path,
                                                                                   monkeypatch, caplog) -> None:
    # What DuckDB needs depends on the values as well as the shape, so the fitted cap is a guess:
    # when DuckDB runs out anyway, the package (kept by dlt) is loaded again under twice the cap.
    # Here the default cap is shrunk so that a small wide tenant runs out of it (at 24 and 48 MB).
    import logging

    from gainsight_px import load

    emulator = make_emulator(tenant=WIDE)
    pipeline = _pipeline_with_default_cap(load, monkeypatch, tmp_path, "24MB")
    with caplog.at_level(logging.WARNING, logger="gainsight_px.load"):
        _, loaded = load.run_source(pipeline, _users(emulator))
    assert loaded
    assert "DuckDB ran out of its 24MB memory limit loading this package; loading it again under 48MB" in caplog.text
    assert _users_and_keys(tmp_path / "cap.duckdb") == (10_000, 10_000)
    assert not pipeline.has_pending_data
    assert _cap_setting(pipeline) == "24MB"


def _pipeline_with_default_cap(load, monkeypatch, tmp_path: Path, cap: str) -> Any:
    import dlt

    monkeypatch.setattr(load, "default_memory_limit", lambda: cap)
    monkeypatch.setitem(load.DUCKDB_SETTINGS, "memory_limit", cap)
    return dlt.pipeline("duckdb_cap", pipelines_dir=str(tmp_path / "pipelines"), dataset_name=DATASET,
                        destination=load.transactional(load.duckdb_destination(str(tmp_path / "cap.duckdb"))))


def _users(emulator) -> Any:
    from gainsight_px.source import gainsight_px_source

    return gainsight_px_source(base_url=emulator.base_url, api_key=emulator.api_key).with_resources("users")


def _cap_setting(pipeline) -> str:
    return pipeline.destination.config_params["credentials"].global_config["memory_limit"]


def test_a_configured_cap_is_never_raised_and_the_message_says_what_to_change(make_emulator, tmp_path: Path) -> None:
    db, env, failed = _load_wide_with_cap(make_emulator(tenant=WIDE), tmp_path, "24MB")
    assert failed.returncode == 1, failed.stderr[-2000:]
    assert "Out of Memory Error" in failed.stderr
    assert "raise DuckDB's memory_limit (destination.duckdb.credentials.global_config) and rerun" in failed.stderr
    assert "Traceback" not in failed.stderr and "ran out of its" not in failed.stderr
    # Without the setting, the next run loads the package the failed one left (and then its own).
    del env["DESTINATION__DUCKDB__CREDENTIALS__GLOBAL_CONFIG"]
    again = run_cli(LOAD_USERS, env, tmp_path, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    rows, keys = _users_and_keys(db)
    assert rows == keys == 10_000
