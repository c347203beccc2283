"""The Dagster integration, in-process: two tenants' assets materialised against two emulators.

Checks the warehouse, not Dagster's bookkeeping: rows per table, no duplicate
keys after a second run, views refreshed, tenants apart, and the schedules.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster_dlt import DagsterDltResource
from dlt_isolation import isolate
from gainsight_px.dagster_assets import definitions, tenant_assets
from gainsight_px.emulator import TenantSpec
from gainsight_px.emulator.events import EventSpec
from gainsight_px.endpoints import PUBLISHED
from gainsight_px.settings import EMULATOR_API_KEY


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate(tmp_path, monkeypatch)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))


def _configure(monkeypatch: pytest.MonkeyPatch, label: str, emulator, dialect: str) -> None:
    prefix = f"SOURCES__GAINSIGHT_PX__TENANTS__{label.upper()}__"
    monkeypatch.setenv(prefix + "API_KEY", EMULATOR_API_KEY)
    monkeypatch.setenv(prefix + "BASE_URL", emulator.base_url)
    monkeypatch.setenv(prefix + "DIALECT", dialect)


def _rows(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_materialize_two_tenants_entities_and_events(make_emulator, tmp_path: Path, monkeypatch) -> None:
    # acme speaks the contract (entities only), globex the published API (entities and events).
    acme = make_emulator(tenant=TenantSpec(users=60, accounts=6, seed=3))
    globex = make_emulator(tenant=TenantSpec(users=40, accounts=4, seed=4), dialect=PUBLISHED,
                           events=EventSpec(per_day=20, days=10))
    _configure(monkeypatch, "acme", acme, "contract")
    _configure(monkeypatch, "globex", globex, "published")
    defs = definitions()  # every configured tenant
    assets = [a for label in ("acme", "globex") for a in tenant_assets(label)]
    assert {key.path[0] for a in assets for key in a.keys} == {"acme", "globex"}

    result = dg.materialize(assets, resources={"dlt": DagsterDltResource()})
    assert result.success

    acme_db, globex_db = tmp_path / "gainsight-acme.duckdb", tmp_path / "gainsight-globex.duckdb"
    assert _rows(acme_db, "SELECT count(*) FROM gainsight_px_acme.users") == [(60,)]
    assert _rows(globex_db, "SELECT count(*) FROM gainsight_px_globex.users") == [(40,)]
    [(sessions,)] = _rows(globex_db, "SELECT count(*) FROM gainsight_px_globex.session_events")
    assert sessions > 0
    views = {r[0] for r in _rows(acme_db, "SELECT view_name FROM duckdb_views() "
                                          "WHERE schema_name = 'gainsight_px_acme_marts'")}
    assert {"user_activity", "account_health"} <= views

    # A second run merges: same keys, no duplicates, nothing re-read that did not change.
    acme.control.simulate_activity(count=2)
    globex.control.simulate_activity(count=2)
    again = dg.materialize(assets, resources={"dlt": DagsterDltResource()})
    assert again.success
    assert _rows(acme_db, "SELECT count(*), count(DISTINCT aptrinsic_id) FROM gainsight_px_acme.users") == [(60, 60)]
    assert _rows(globex_db, "SELECT count(*) FROM gainsight_px_globex.users") == [(40,)]
    [(events, distinct)] = _rows(globex_db, "SELECT count(*), count(DISTINCT event_id) "
                                            "FROM gainsight_px_globex.session_events")
    assert events == distinct >= sessions

    # acme's settings pointed at another tenant: its dataset refuses it before any request.
    monkeypatch.setenv("SOURCES__GAINSIGHT_PX__TENANTS__ACME__BASE_URL", globex.base_url)
    globex.control.reset_log()
    slip = dg.materialize(tenant_assets("acme"), resources={"dlt": DagsterDltResource()}, raise_on_error=False)
    assert not slip.success
    assert globex.control.requests() == []

    jobs = {j.name for j in defs.jobs}
    assert {"acme_entities", "acme_reconcile", "globex_entities", "globex_events"} <= jobs
    assert "acme_events" not in jobs  # the contract has no event streams
    crons = {s.job_name: s.cron_schedule for s in defs.schedules}
    assert crons["acme_entities"] == "0 * * * *" and crons["globex_events"] == "15 */6 * * *"


def test_the_reconcile_job_replaces_tables_in_one_transaction(make_emulator, tmp_path: Path, monkeypatch) -> None:
    # The weekly reconcile drops users deleted in PX, as `gainsight-px load --full-refresh` does:
    # the cursors reset and each table replaced by one merge, never truncated first (dlt's
    # refresh="drop_data" truncated them when the load step began: readers saw them empty).
    import dlt

    acme = make_emulator(tenant=TenantSpec(users=50, accounts=5, seed=8))
    _configure(monkeypatch, "acme", acme, "contract")
    defs = definitions(["acme"])
    assert defs.get_job_def("acme_entities").execute_in_process().success
    gone = [r["aptrinsicId"] for r in acme.control.records("users")[:3]]
    for key in gone:
        acme.control.delete_record("users", key)

    assert defs.get_job_def("acme_reconcile").execute_in_process().success

    db = tmp_path / "gainsight-acme.duckdb"
    keys = {k for (k,) in _rows(db, "SELECT aptrinsic_id FROM gainsight_px_acme.users")}
    assert len(keys) == 47 and not keys & set(gone)
    pipeline = dlt.attach(pipeline_name="gainsight_px_acme_entities")
    truncated = {name for load_id in pipeline.list_completed_load_packages()
                 for name in pipeline.get_load_package_state(load_id).get("applied_truncated_tables", [])}
    assert truncated == set()


def test_assets_load_as_the_cli_does_with_the_cap_fitted_and_empty_runs_stopped(make_emulator, tmp_path: Path,
                                                                                 monkeypatch, caplog) -> None:
    # Through Dagster too, a package too large for DuckDB's default cap gets a raised one (a wide
    # tenant at 1M users failed its merge without it); the per-cell figure is scaled so that a small
    # tenant needs it. A selected subset loads only its tables, and a run with nothing new stops
    # after the extract and still materializes its assets.
    import logging

    from gainsight_px import load

    acme = make_emulator(tenant=TenantSpec(users=300, accounts=6, seed=5))
    _configure(monkeypatch, "acme", acme, "contract")
    monkeypatch.setattr(load, "MERGE_BYTES_PER_CELL", 65536.0)
    [entities] = tenant_assets("acme")
    users = dg.AssetKey(["acme", "users"])
    with caplog.at_level(logging.INFO, logger="gainsight_px.load"):
        first = dg.materialize([entities], selection=[users], resources={"dlt": DagsterDltResource()})
    assert first.success
    assert f"DuckDB memory limit raised from {load.default_memory_limit()} to" in caplog.text
    db = tmp_path / "gainsight-acme.duckdb"
    assert _rows(db, "SELECT count(*), count(DISTINCT aptrinsic_id) FROM gainsight_px_acme.users") == [(300, 300)]
    tables = {name for (name,) in _rows(db, "SELECT table_name FROM duckdb_tables() "
                                            "WHERE schema_name = 'gainsight_px_acme'")}
    assert "accounts" not in tables
    [event] = first.get_asset_materialization_events()
    assert event.asset_key == users
    assert event.materialization.metadata["rows_loaded"].value == 300

    loads = _rows(db, "SELECT count(*) FROM gainsight_px_acme._dlt_loads")
    acme.control.reset_log()
    again = dg.materialize([entities], selection=[users], resources={"dlt": DagsterDltResource()})
    assert again.success
    [event] = again.get_asset_materialization_events()
    assert event.asset_key == users and event.materialization.metadata["rows_loaded"].value == 0
    assert len(acme.control.requests()) == 1
    assert _rows(db, "SELECT count(*) FROM gainsight_px_acme._dlt_loads") == loads  # nothing loaded
