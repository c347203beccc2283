"""PostgreSQL as a destination: the same tables as DuckDB, row for row, through every kind of run."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from gainsight_px.emulator import Emulator
from gainsight_px.load import LoadSummary, run_load
from gainsight_px.settings import API_KEY_ENV, BASE_URL_ENV, EMULATOR_API_KEY
from warehouses import Warehouse

KEYS = {"users": "aptrinsic_id", "accounts": "id", "features": "id", "engagements": "id", "subscriptions": "id"}

# information_schema data types -> one name per kind, so DuckDB's and PostgreSQL's compare.
TYPE_KINDS = {
    "timestamp with time zone": "timestamptz", "double": "double", "double precision": "double",
    "bigint": "bigint", "boolean": "bool", "varchar": "text", "character varying": "text", "text": "text",
    "json": "json", "jsonb": "json", "date": "date", "integer": "int", "smallint": "int",
}


def load(emulator: Emulator, warehouse: Warehouse, tmp_path: Path, **kwargs: Any) -> LoadSummary:
    kwargs.setdefault("lookback_s", 0)  # exact row counts: no lookback window re-read
    return run_load(api_key=EMULATOR_API_KEY, base_url=emulator.base_url,
                    destination=warehouse.destination(), pipeline_name=f"px_{warehouse.kind}",
                    pipelines_dir=str(tmp_path / f"pipelines_{warehouse.kind}"), progress="none", **kwargs)


def column_kinds(warehouse: Warehouse, table: str) -> dict[str, str]:
    rows = warehouse.query("SELECT column_name, data_type FROM information_schema.columns WHERE "
                           f"table_schema = 'gainsight_px' AND table_name = '{table}'")
    return {r["column_name"]: TYPE_KINDS.get(r["data_type"].lower(), r["data_type"].lower())
            for r in rows if not r["column_name"].startswith("_dlt")}


def assert_same_tables(duck: Warehouse, pg: Warehouse) -> None:
    for table, key in KEYS.items():
        assert column_kinds(pg, table) == column_kinds(duck, table), table
        assert pg.table(table, key) == duck.table(table, key), table


def test_full_incremental_and_reconcile_leave_the_same_tables(
        emulator: Emulator, tmp_path: Path, postgres_url: str) -> None:
    duck = Warehouse.make("duckdb", tmp_path)
    pg = Warehouse.make("postgres", tmp_path, postgres_url)
    control = emulator.control

    for warehouse in (duck, pg):
        assert load(emulator, warehouse, tmp_path).rows["users"] == 250
    assert_same_tables(duck, pg)
    assert "timestamptz" in column_kinds(pg, "users").values()

    active = control.simulate_activity(count=4)
    merged = [load(emulator, w, tmp_path) for w in (duck, pg)]
    assert [m.rows["users"] for m in merged] == [4, 4]
    assert len(pg.table("users", "aptrinsic_id")) == 250  # merged on the key, not appended
    assert_same_tables(duck, pg)
    assert {pg.table("users", "aptrinsic_id")[k]["number_of_visits"] for k in active} != {0}

    users = control.records("users")
    renamed, deleted = users[3]["aptrinsicId"], users[7]["aptrinsicId"]
    control.update_record("users", renamed, {"title": "Chief Reconciler", "customAttributes": {"plan": "Gold"}})
    control.delete_record("users", deleted)
    control.delete_record("accounts", control.records("accounts")[0]["id"])
    for warehouse in (duck, pg):
        load(emulator, warehouse, tmp_path, full_refresh=True)
    assert_same_tables(duck, pg)
    got = pg.table("users", "aptrinsic_id")
    assert deleted not in got and len(got) == 249
    assert (got[renamed]["title"], got[renamed]["custom_attributes__plan"]) == ("Chief Reconciler", "Gold")
    assert len(pg.table("accounts", "id")) == 24


def test_cli_loads_postgres_from_dlt_credentials(emulator: Emulator, tmp_path: Path, postgres_url: str, cli) -> None:
    code, out, err = cli(["load", "--destination", "postgres", "--progress", "none"],
                         **{API_KEY_ENV: EMULATOR_API_KEY, BASE_URL_ENV: emulator.base_url,
                            "DESTINATION__POSTGRES__CREDENTIALS": postgres_url})

    assert code == 0, err
    assert "into postgres" in out and "Views refreshed: account_health" in out
    pg = Warehouse("postgres", postgres_url)
    assert len(pg.table("users", "aptrinsic_id")) == 250
    assert not (tmp_path / "gainsight.duckdb").exists()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cli_postgres_errors_are_one_clear_line(emulator: Emulator, cli, postgres_server) -> None:
    env = {API_KEY_ENV: EMULATOR_API_KEY, BASE_URL_ENV: emulator.base_url}
    args = ["load", "--destination", "postgres", "--progress", "none", "--resources", "subscriptions"]
    missing = cli(args, **env)
    refused = cli(args, **env, DESTINATION__POSTGRES__CREDENTIALS=(
        f"postgresql://loader:s3cret-pw@127.0.0.1:{_closed_port()}/warehouse"))
    no_db = cli(args, **env, DESTINATION__POSTGRES__CREDENTIALS=postgres_server.url("no_such_db"))

    for code, _, err in (missing, refused, no_db):
        assert code == 1, err
        assert len(err.strip().splitlines()) == 1, err
        assert "Traceback" not in err and "s3cret-pw" not in err
    assert "DESTINATION__POSTGRES__CREDENTIALS" in missing[2]
    assert "connection refused" in refused[2].lower() and "127.0.0.1" in refused[2]
    assert "no_such_db" in no_db[2]


def test_event_backfill_and_incremental_leave_the_same_tables(make_emulator, tmp_path: Path,
                                                               postgres_url: str) -> None:
    from gainsight_px.emulator import TenantSpec
    from gainsight_px.emulator.events import EventSpec
    from gainsight_px.endpoints import PUBLISHED

    emulator = make_emulator(tenant=TenantSpec(users=40, accounts=4, seed=5), dialect=PUBLISHED,
                             events=EventSpec(per_day=60, days=20))
    duck = Warehouse.make("duckdb", tmp_path)
    pg = Warehouse.make("postgres", tmp_path, postgres_url)
    streams = "session_events,feature_match_events,custom_events"
    kwargs = {"resources": streams, "dialect": "published", "initial": "2000-01-01"}

    first = [load(emulator, w, tmp_path, **kwargs) for w in (duck, pg)]
    assert first[0].rows == first[1].rows and first[0].rows["session_events"] > 0
    emulator.control.simulate_activity(count=5)  # new sessions among the events
    for warehouse in (duck, pg):
        load(emulator, warehouse, tmp_path, **kwargs)
    for table in streams.split(","):
        assert column_kinds(pg, table) == column_kinds(duck, table), table
        rows = pg.table(table, "event_id")
        assert rows == duck.table(table, "event_id"), table
        [(n,)] = [tuple(r.values()) for r in pg.query(f"SELECT count(*) FROM gainsight_px.{table}")]
        assert n == len(rows)  # one row per event id
