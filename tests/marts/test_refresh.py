"""Creating and refreshing the views: every load, other dataset names, by hand, and what is refused."""

from __future__ import annotations

import logging
import re
import shutil
from importlib.resources import files
from pathlib import Path

import dlt
import duckdb
import pytest
from gainsight_px import marts
from gainsight_px.errors import InputError
from marts_helpers import DB_FILE, load, rows, view_names

ALL_VIEWS = {"active_users_daily", "user_activity", "account_health", "dormant_accounts",
             "feature_adoption", "engagements_by_state"}
# Views over event streams (published dialect only; tested in tests/events/).
EVENT_VIEWS = {"feature_usage_weekly", "engagement_performance", "survey_results", "sessions_per_account_weekly"}


def copy_of(loaded, tmp_path):
    """A private copy of the module's loaded file, for tests that change it."""
    return shutil.copy(loaded.path, tmp_path / "gainsight.duckdb")


def execute(path, *statements: str) -> None:
    with duckdb.connect(str(path)) as con:
        for sql in statements:
            con.execute(sql)


def view_sql(path, name: str, schema: str = "gainsight_px_marts") -> str:
    [row] = rows(path, "SELECT sql FROM duckdb_views() WHERE schema_name = ? AND view_name = ?", [schema, name])
    return row["sql"]


def test_sql_files_are_the_views_and_say_what_they_cannot_tell():
    sql_files = sorted(p.name for p in files("gainsight_px").joinpath("sql").iterdir() if p.name.endswith(".sql"))
    assert [f"{v.name}.sql" for v in marts.load_views()] == sql_files
    assert {v.name for v in marts.load_views()} == ALL_VIEWS | EVENT_VIEWS
    for view in marts.load_views():
        assert view.sql.startswith(f"-- {view.name}: "), view.name
        assert "-- Answers:" in view.sql and "-- Cannot tell:" in view.sql, view.name
        assert view.tables <= {"users", "accounts", "features", "engagements", "_dlt_loads"} | marts.EVENT_TABLES


def test_each_view_is_one_portable_file_for_both_destinations():
    sql_dir = files("gainsight_px").joinpath("sql")
    assert [e.name for e in sql_dir.iterdir() if e.is_dir()] == []  # no per-destination copies
    for dialect in ("duckdb", "postgres"):
        views = marts.load_views(dialect)
        assert {v.name for v in views} == ALL_VIEWS | EVENT_VIEWS, dialect
        assert all(v.dialects == {"duckdb", "postgres"} for v in views)
        assert [v.sql for v in views] == [v.sql for v in marts.load_views()]  # the same text on both


def test_substitution_markers_are_known_or_refused():
    text = "-- x: y\n-- dialects: duckdb postgres\nSELECT 1 AS a /* custom_attributes: users AS u */"
    assert marts._parse("x", text).select_for("gainsight_px", lambda s: f'"{s}"', {
        "users": ["aptrinsic_id", "custom_attributes__plan"]}) == \
        '-- x: y\n-- dialects: duckdb postgres\nSELECT 1 AS a ,\n    u."custom_attributes__plan"'
    with pytest.raises(ValueError, match="unknown substitution marker"):
        marts._parse("x", text.replace("custom_attributes:", "custom_attribute:"))
    with pytest.raises(ValueError, match="unknown dialect"):
        marts._parse("x", text.replace("postgres", "snowflake"))


def test_each_sql_file_builds_and_runs_as_written_on_a_default_load(demo_load):
    # Every view that this load can feed exists, from its one file; an analyst can paste
    # the file into DuckDB or PostgreSQL as it is and get the view's rows.
    dialect = "duckdb" if isinstance(demo_load.path, Path) else "postgres"
    assert view_names(demo_load.path) == ALL_VIEWS
    for view in marts.load_views(dialect):
        if view.tables & marts.EVENT_TABLES:  # no events on this load: the fallback, if any
            if view.fallback is None:
                continue
            view = view.fallback
        [row] = rows(demo_load.path, f"""
            SELECT (SELECT count(*) FROM ({view.sql}) AS v) AS as_written,
                   (SELECT count(*) FROM gainsight_px_marts.{view.name}) AS as_view""")
        assert row["as_written"] == row["as_view"] > 0, view.name


def test_every_load_creates_and_refreshes_the_views(emulator, tmp_path):
    summary = load(emulator, tmp_path)
    db = tmp_path / DB_FILE
    assert set(summary.views) == ALL_VIEWS and not summary.warnings
    assert view_names(db) == ALL_VIEWS
    [first] = rows(db, "SELECT DISTINCT as_of FROM gainsight_px_marts.user_activity")

    # Someone breaks two views between loads; a user visits.
    execute(db, "CREATE OR REPLACE VIEW gainsight_px_marts.feature_adoption AS SELECT 1 AS stale",
            "DROP VIEW gainsight_px_marts.dormant_accounts")
    [visitor] = emulator.control.simulate_activity(count=1)
    summary = load(emulator, tmp_path)  # incremental

    assert set(summary.views) == ALL_VIEWS
    assert view_names(db) == ALL_VIEWS
    assert "stale" not in view_sql(db, "feature_adoption")
    [second] = rows(db, "SELECT DISTINCT as_of FROM gainsight_px_marts.user_activity")
    assert second["as_of"] > first["as_of"]  # the views describe the newest load
    [row] = rows(db, "SELECT days_since_last_seen, active_7d FROM gainsight_px_marts.user_activity"
                     " WHERE aptrinsic_id = ?", [visitor])
    assert row == {"days_since_last_seen": 0, "active_7d": True}


def test_views_follow_the_dataset_name(emulator, tmp_path):
    load(emulator, tmp_path, dataset="px_eu")
    db = tmp_path / DB_FILE
    assert view_names(db, "px_eu_marts") == ALL_VIEWS
    assert view_names(db, "gainsight_px_marts") == set()
    [row] = rows(db, "SELECT count(*) AS n FROM px_eu_marts.user_activity")
    assert row["n"] == len(emulator.store.records("users"))
    assert "gainsight_px." not in view_sql(db, "user_activity", "px_eu_marts")


def test_views_name_no_catalog_so_a_renamed_or_attached_file_works(duckdb_demo_load, tmp_path):
    copy = shutil.copy(duckdb_demo_load.path, tmp_path / "renamed.duckdb")
    with duckdb.connect() as con:
        con.execute(f"ATTACH '{copy}' AS elsewhere (READ_ONLY)")
        [(n,)] = con.execute("SELECT count(*) FROM elsewhere.gainsight_px_marts.account_health").fetchall()
    assert n == len(duckdb_demo_load.records["accounts"])


def test_refresh_views_duckdb_recreates_the_views(duckdb_demo_load, tmp_path):
    db = copy_of(duckdb_demo_load, tmp_path)
    execute(db, "DROP SCHEMA gainsight_px_marts CASCADE")
    assert view_names(db) == set()
    assert sorted(marts.refresh_views_duckdb(db)) == sorted(ALL_VIEWS)
    assert view_names(db) == ALL_VIEWS
    [row] = rows(db, "SELECT sum(engagements) AS n FROM gainsight_px_marts.engagements_by_state")
    assert row["n"] == len(duckdb_demo_load.records["engagements"])


def test_a_view_that_does_not_fit_changes_nothing(duckdb_demo_load, tmp_path):
    db = copy_of(duckdb_demo_load, tmp_path)
    execute(db, "CREATE OR REPLACE VIEW gainsight_px_marts.feature_adoption AS SELECT 1 AS stale",
            "ALTER TABLE gainsight_px.users DROP COLUMN email")
    with pytest.raises(InputError, match=r"analyst view (dormant_accounts|user_activity) .* dataset 'gainsight_px'"):
        marts.refresh_views_duckdb(db)
    assert "stale" in view_sql(db, "feature_adoption")  # rolled back as a whole


def test_a_load_of_some_resources_says_once_which_views_wait_for_which_table(emulator, tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="gainsight_px.marts"):
        summary = load(emulator, tmp_path, resources="users,accounts")
    feedable = ALL_VIEWS - {"feature_adoption", "engagements_by_state"}
    assert set(summary.views) == feedable and not summary.warnings
    assert view_names(tmp_path / DB_FILE) == feedable
    # One info line names every skipped view and its table (contract: the event views too).
    [record] = [r for r in caplog.records if r.name == "gainsight_px.marts"]
    assert record.levelno == logging.INFO
    message = record.getMessage()
    assert "in dataset 'gainsight_px'" in message
    assert "engagements_by_state (waits for engagements)" in message
    assert "feature_adoption (waits for features)" in message
    assert "sessions_per_account_weekly (waits for accounts" not in message
    assert re.search(r"sessions_per_account_weekly \(waits for session_events\)", message)


def test_a_view_whose_fallback_lacks_a_table_waits_for_it(tmp_path, caplog):
    """Published features carry no counts: feature_adoption then reads feature match events,
    and a load without them skips the view instead of failing every view on the missing column."""
    con = duckdb.connect(str(tmp_path / "partial.duckdb"))
    con.execute("CREATE SCHEMA gainsight_px")
    con.execute("CREATE TABLE gainsight_px.features (id TEXT, name TEXT, type TEXT)")
    con.execute("CREATE TABLE gainsight_px.users (aptrinsic_id TEXT, last_seen_date TIMESTAMPTZ)")
    con.execute("CREATE TABLE gainsight_px._dlt_loads (inserted_at TIMESTAMPTZ, status BIGINT)")
    columns = {"features": ["id", "name", "type"], "users": ["aptrinsic_id", "last_seen_date"]}
    views = [v for v in marts.load_views() if v.name == "feature_adoption"]
    with caplog.at_level(logging.INFO, logger="gainsight_px.marts"):
        created = marts._create_views(con.execute, views, "gainsight_px", set(columns) | {"_dlt_loads"},
                                      lambda s: f'"{s}"', columns=columns)
    assert created == []
    assert "feature_adoption (waits for feature_match_events)" in caplog.text


def test_refresh_views_duckdb_refuses_a_missing_file(tmp_path):
    missing = tmp_path / "nope.duckdb"
    with pytest.raises(InputError, match=re.escape(f"{missing}: no such DuckDB file")):
        marts.refresh_views_duckdb(missing)
    assert not missing.exists()


def test_refresh_views_duckdb_refuses_an_unknown_dataset(duckdb_demo_load, tmp_path):
    db = copy_of(duckdb_demo_load, tmp_path)
    with pytest.raises(InputError, match=r"dataset \(schema\) 'px_typo' not found"):
        marts.refresh_views_duckdb(db, dataset="px_typo")
    assert view_names(db, "px_typo_marts") == set()


def test_other_destinations_are_skipped_with_a_warning(tmp_path, caplog):
    pipeline = dlt.pipeline("marts_fs", destination=dlt.destinations.filesystem(str(tmp_path / "bucket")),
                            dataset_name="gainsight_px", pipelines_dir=str(tmp_path / "pipelines"))
    with caplog.at_level(logging.WARNING, logger="gainsight_px.marts"):
        assert marts.refresh_views(pipeline) == []
    assert "written for duckdb and postgres; not created on destination 'filesystem'" in caplog.text
    assert not (tmp_path / "bucket").exists()


def test_postgres_loads_refresh_views_whose_columns_changed(emulator, tmp_path, postgres_url):
    import psycopg2
    from warehouses import Warehouse

    pg = Warehouse("postgres", postgres_url)
    assert set(load(emulator, tmp_path, warehouse=pg).views) == ALL_VIEWS
    # Someone replaces a view with other columns; a new custom attribute appears.
    con = psycopg2.connect(postgres_url)
    with con, con.cursor() as cur:
        cur.execute("DROP VIEW gainsight_px_marts.feature_adoption")
        cur.execute("CREATE VIEW gainsight_px_marts.feature_adoption AS SELECT 1 AS stale")
    con.close()
    [visitor] = emulator.control.simulate_activity(count=1)
    emulator.control.update_record("users", visitor, {"customAttributes": {"shoeSize": 44}})

    summary = load(emulator, tmp_path, warehouse=pg, full_refresh=True)

    assert set(summary.views) == ALL_VIEWS and not summary.warnings
    assert pg.views() == ALL_VIEWS
    assert "users" in rows(pg, "SELECT * FROM gainsight_px_marts.feature_adoption LIMIT 1")[0]
    [row] = rows(pg, "SELECT custom_attributes__shoe_size FROM gainsight_px_marts.user_activity"
                     " WHERE aptrinsic_id = ?", [visitor])
    assert row == {"custom_attributes__shoe_size": 44.0}


def test_postgres_views_that_analysts_built_on_survive_a_refresh(emulator, tmp_path, postgres_url):
    import psycopg2
    from warehouses import Warehouse

    pg = Warehouse("postgres", postgres_url)
    load(emulator, tmp_path, warehouse=pg)
    con = psycopg2.connect(postgres_url)
    with con, con.cursor() as cur:
        cur.execute("CREATE SCHEMA team")
        cur.execute("CREATE VIEW team.active AS SELECT aptrinsic_id FROM gainsight_px_marts.user_activity "
                    "WHERE active_30d")
    con.close()

    summary = load(emulator, tmp_path, warehouse=pg)

    assert set(summary.views) == ALL_VIEWS and not summary.warnings
    assert "team" in {r["schema_name"] for r in pg.query("SELECT schema_name FROM information_schema.schemata")}
    assert rows(pg, "SELECT count(*) AS n FROM team.active")[0]["n"] >= 0


def test_a_postgres_view_that_does_not_fit_changes_nothing(emulator, tmp_path, postgres_url):
    import psycopg2
    from warehouses import Warehouse

    pg = Warehouse("postgres", postgres_url)
    load(emulator, tmp_path, warehouse=pg)
    con = psycopg2.connect(postgres_url)
    with con, con.cursor() as cur:
        cur.execute("DROP VIEW gainsight_px_marts.feature_adoption")
        cur.execute("CREATE VIEW gainsight_px_marts.feature_adoption AS SELECT 1 AS stale")
        cur.execute("ALTER TABLE gainsight_px.users DROP COLUMN email CASCADE")  # takes two views with it
    con.close()
    pipeline = dlt.pipeline("gainsight_px", pipelines_dir=str(tmp_path / "pipelines"),
                            destination=pg.destination(), dataset_name="gainsight_px")

    with pytest.raises(InputError, match=r"analyst view (dormant_accounts|user_activity) .* dataset 'gainsight_px'"):
        marts.refresh_views(pipeline)

    assert rows(pg, "SELECT * FROM gainsight_px_marts.feature_adoption") == [{"stale": 1}]  # rolled back
    assert "user_activity" not in pg.views()
