"""The lake: dlt's filesystem destination with delta tables merges, reconciles, and reads like DuckDB.

DuckDB's own `delta_scan` needs its delta extension, which DuckDB downloads on
first use; offline (as here and in CI) the tables are read with the `deltalake`
package, which is the same Delta protocol any engine speaks, and handed to DuckDB
as an Arrow dataset. `test_duckdb_delta_scan_reads_the_lake` runs where the
extension can be loaded and says it skipped otherwise.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pytest
from deltalake import DeltaTable
from gainsight_px.emulator import Emulator
from gainsight_px.load import run_load
from gainsight_px.settings import API_KEY_ENV, BASE_URL_ENV, EMULATOR_API_KEY
from warehouses import Warehouse, normalise

KEYS = {"users": "aptrinsic_id", "accounts": "id", "features": "id", "engagements": "id", "subscriptions": "id"}


def lake_rows(bucket: Path, table: str) -> list[dict[str, Any]]:
    """Every row of one delta table, dlt's columns left out, values normalised like the warehouse's."""
    data = DeltaTable(str(bucket / "gainsight_px" / table)).to_pyarrow_table().to_pylist()
    return [{c: normalise(v) for c, v in row.items() if not c.startswith("_dlt")} for row in data]


def by_key(rows: list[dict[str, Any]], key: str) -> dict[Any, dict[str, Any]]:
    duplicates = [k for k, n in Counter(r[key] for r in rows).items() if n > 1]
    assert duplicates == [], f"duplicate keys: {duplicates[:5]}"
    return {r[key]: r for r in rows}


def load(emulator: Emulator, tmp_path: Path, destination: Any, name: str, **kwargs: Any):
    kwargs.setdefault("lookback_s", 0)  # exact row counts: no lookback window re-read
    return run_load(api_key=EMULATOR_API_KEY, base_url=emulator.base_url, destination=destination,
                    pipeline_name=name, pipelines_dir=str(tmp_path / f"pipelines_{name}"), progress="none",
                    **kwargs)


def assert_lake_equals_duckdb(bucket: Path, duck: Warehouse) -> None:
    for table, key in KEYS.items():
        assert by_key(lake_rows(bucket, table), key) == duck.table(table, key), table


def test_delta_merges_reconciles_and_matches_duckdb(emulator: Emulator, tmp_path: Path) -> None:
    bucket = tmp_path / "lake"
    lake = dlt.destinations.filesystem(bucket_url=bucket.as_uri())
    duck = Warehouse.make("duckdb", tmp_path)
    control = emulator.control

    first = load(emulator, tmp_path, lake, "to_lake", table_format="delta")
    load(emulator, tmp_path, duck.destination(), "to_duckdb")
    assert first.destination == "filesystem" and first.rows["users"] == 250
    assert (bucket / "gainsight_px" / "users" / "_delta_log").is_dir()
    assert_lake_equals_duckdb(bucket, duck)

    active = control.simulate_activity(count=5)
    merged = load(emulator, tmp_path, lake, "to_lake", table_format="delta")
    load(emulator, tmp_path, duck.destination(), "to_duckdb")
    assert merged.rows["users"] == 5
    users = by_key(lake_rows(bucket, "users"), "aptrinsic_id")  # no second copy of the 5
    assert len(users) == 250 and all(users[k]["number_of_visits"] > 0 for k in active)
    assert_lake_equals_duckdb(bucket, duck)

    records = control.records("users")
    deleted, renamed = records[1]["aptrinsicId"], records[2]["aptrinsicId"]
    control.delete_record("users", deleted)
    control.delete_record("engagements", control.records("engagements")[0]["id"])
    control.update_record("users", renamed, {"title": "Lake Keeper"})
    load(emulator, tmp_path, lake, "to_lake", table_format="delta", full_refresh=True)
    load(emulator, tmp_path, duck.destination(), "to_duckdb", full_refresh=True)
    users = by_key(lake_rows(bucket, "users"), "aptrinsic_id")
    assert deleted not in users and len(users) == 249 and users[renamed]["title"] == "Lake Keeper"
    assert len(lake_rows(bucket, "engagements")) == 29
    assert_lake_equals_duckdb(bucket, duck)

    # DuckDB queries the lake through the Delta protocol (an Arrow dataset from deltalake).
    dataset = DeltaTable(str(bucket / "gainsight_px" / "users")).to_pyarrow_dataset()  # noqa: F841
    with duckdb.connect() as con:
        assert con.execute("SELECT count(*), count(DISTINCT aptrinsic_id) FROM dataset").fetchone() == (249, 249)


def test_cli_flag_and_config_choose_delta(emulator: Emulator, tmp_path: Path, cli) -> None:
    env = {API_KEY_ENV: EMULATOR_API_KEY, BASE_URL_ENV: emulator.base_url}
    flagged, configured, plain = (tmp_path / n for n in ("flagged", "configured", "plain"))
    args = ["load", "--destination", "filesystem", "--resources", "users", "--progress", "none"]

    by_flag = cli([*args, "--table-format", "delta"], **env, DESTINATION__FILESYSTEM__BUCKET_URL=flagged.as_uri())
    by_config = cli([*args, "--pipeline-name", "cfg"], **env, DESTINATION__FILESYSTEM__BUCKET_URL=configured.as_uri(),
                    DESTINATION__FILESYSTEM__TABLE_FORMAT="delta")
    without = cli([*args, "--pipeline-name", "plain"], **env, DESTINATION__FILESYSTEM__BUCKET_URL=plain.as_uri())

    for code, _, err in (by_flag, by_config, without):
        assert code == 0, err
    for bucket in (flagged, configured):
        assert (bucket / "gainsight_px" / "users" / "_delta_log").is_dir()
        assert len(by_key(lake_rows(bucket, "users"), "aptrinsic_id")) == 250
    assert not (plain / "gainsight_px" / "users" / "_delta_log").exists()
    assert list((plain / "gainsight_px" / "users").glob("*.parquet"))


def test_cli_table_format_errors_are_one_line(emulator: Emulator, tmp_path: Path, cli) -> None:
    env = {API_KEY_ENV: EMULATOR_API_KEY, BASE_URL_ENV: emulator.base_url}
    on_duckdb = cli(["load", "--table-format", "delta", "--progress", "none"], **env)
    no_bucket = cli(["load", "--destination", "filesystem", "--table-format", "delta", "--progress", "none"], **env)
    bad_config = cli(["load", "--destination", "filesystem", "--progress", "none"], **env,
                     DESTINATION__FILESYSTEM__BUCKET_URL=(tmp_path / "b").as_uri(),
                     DESTINATION__FILESYSTEM__TABLE_FORMAT="hudi")

    for code, _, err in (on_duckdb, no_bucket, bad_config):
        assert code == 1, err
        assert len(err.strip().splitlines()) == 1, err
    assert "--table-format" in on_duckdb[2] and "filesystem" in on_duckdb[2]
    assert "DESTINATION__FILESYSTEM__BUCKET_URL" in no_bucket[2]
    assert "DESTINATION__FILESYSTEM__TABLE_FORMAT" in bad_config[2] and "hudi" in bad_config[2]
    assert not (tmp_path / "gainsight.duckdb").exists()
    assert sum(emulator.control.request_counts().values()) == 0


def test_duckdb_delta_scan_reads_the_lake(emulator: Emulator, tmp_path: Path) -> None:
    con = duckdb.connect()
    try:
        con.execute("LOAD delta")
    except duckdb.Error:
        try:
            con.execute("INSTALL delta")
            con.execute("LOAD delta")
        except duckdb.Error as exc:
            pytest.skip(f"DuckDB's delta extension is not available offline ({type(exc).__name__}); "
                        "the other tests read the lake with the deltalake package")
    bucket = tmp_path / "lake"
    load(emulator, tmp_path, dlt.destinations.filesystem(bucket_url=bucket.as_uri()), "lake",
         table_format="delta", resources="users")
    path = bucket / "gainsight_px" / "users"
    assert con.execute(f"SELECT count(*) FROM delta_scan('{path}')").fetchone() == (250,)


def test_delta_event_streams_insert_each_event_once(make_emulator, tmp_path: Path) -> None:
    from gainsight_px.emulator import TenantSpec
    from gainsight_px.emulator.events import EventSpec
    from gainsight_px.endpoints import PUBLISHED

    emulator = make_emulator(tenant=TenantSpec(users=30, accounts=3, seed=6), dialect=PUBLISHED,
                             events=EventSpec(per_day=80, days=15))
    bucket = tmp_path / "lake"
    lake = dlt.destinations.filesystem(bucket_url=bucket.as_uri())
    duck = Warehouse.make("duckdb", tmp_path)
    kwargs = {"resources": "session_events,feature_match_events", "dialect": "published"}

    for _ in range(2):  # the second run re-reads the lookback: nothing may be inserted twice
        load(emulator, tmp_path, lake, "to_lake", table_format="delta", **kwargs)
        load(emulator, tmp_path, duck.destination(), "to_duckdb", **kwargs)
    for table in ("session_events", "feature_match_events"):
        rows = by_key(lake_rows(bucket, table), "event_id")
        assert rows and rows == duck.table(table, "event_id"), table
