"""`push --from-sql`: rows from a PostgreSQL warehouse, with the same validation, ledger and summary
as `--from-duckdb` (compared by pushing the same rows from both)."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import psycopg2
from push_helpers import PushHarness

ROWS = [("wh-1", "w1@example.com", 7, "2024-05-01 00:00:00+00", True, 12.50),
        ("wh-2", "broken", 2, None, False, None),
        ("wh-3", "w3@example.com", 1, "2024-06-02 10:30:00+00", False, 0.25)]
QUERY = ('SELECT uid AS "identifyId", mail AS email, seats AS "customAttributes.seats", '
         'paid AS "customAttributes.paid", price AS "customAttributes.price", signup AS "signUpDate" '
         'FROM usage ORDER BY uid')


def _fill_postgres(url: str) -> None:
    con = psycopg2.connect(url)
    with con, con.cursor() as cur:
        cur.execute("CREATE TABLE usage (uid TEXT, mail TEXT, seats INTEGER, signup TIMESTAMPTZ, "
                    "paid BOOLEAN, price NUMERIC(10, 2))")
        cur.executemany("INSERT INTO usage VALUES (%s, %s, %s, %s, %s, %s)", ROWS)
        cur.execute("CREATE SCHEMA crm")
        cur.execute("""CREATE TABLE crm.px_accounts AS SELECT 'acc-pg'::TEXT AS id, 'Postgres Inc'::TEXT AS name,
                       42 AS "customAttributes.seats" """)
    con.close()


def _fill_duckdb(path: Path) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE usage (uid VARCHAR, mail VARCHAR, seats INTEGER, signup TIMESTAMPTZ, "
                    "paid BOOLEAN, price DECIMAL(10, 2))")
        con.executemany("INSERT INTO usage VALUES (?, ?, ?, ?, ?, ?)", [list(r) for r in ROWS])


def _rejects(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_push_from_postgres_matches_push_from_duckdb(px: PushHarness, postgres_url: str) -> None:
    _fill_postgres(postgres_url)
    db = px.workdir / "warehouse.duckdb"
    _fill_duckdb(db)

    from_pg = px.push("users", "--from-sql", postgres_url, "--query", QUERY)
    pg_bodies = {w["key"]: w["body"] for w in px.writes("users")}
    pg_rejects = _rejects(px.workdir / "users.rejects.csv")
    px.control.reset_log()
    from_duck = px.push("users", "--from-duckdb", db, "--query", QUERY, "--ledger", px.workdir / "other.sqlite")
    duck_bodies = {w["key"]: w["body"] for w in px.writes("users")}

    assert from_pg.code == from_duck.code == 2  # one row rejected, the rest delivered
    assert set(pg_bodies) == {"wh-1", "wh-3"}
    assert pg_bodies == duck_bodies
    assert pg_bodies["wh-1"]["customAttributes"] == {"seats": 7, "paid": True, "price": 12.5}
    assert pg_bodies["wh-1"]["signUpDate"] == 1714521600000
    assert [(r["identifyId"], r["row_number"]) for r in pg_rejects] == [("wh-2", "2")]
    assert "email" in pg_rejects[0]["reason"]
    assert from_pg.count("rejected") == from_duck.count("rejected") == 1
    assert postgres_url.split(":")[2].split("@")[0] not in from_pg.out + from_pg.err  # the password

    # The ledger: the same push again sends nothing.
    px.control.reset_log()
    again = px.push("users", "--from-sql", postgres_url, "--query", QUERY)
    assert again.code == 2 and px.writes("users") == []
    assert again.count("unchanged") == 2


def test_push_from_sql_accepts_sqlalchemy_urls_dsns_and_tables(px: PushHarness, postgres_server) -> None:
    database = postgres_server.create_database()
    _fill_postgres(postgres_server.url(database))
    sqlalchemy_url = postgres_server.url(database).replace("postgresql://", "postgresql+psycopg2://")

    by_table = px.push("accounts", "--from-sql", sqlalchemy_url, "--table", "crm.px_accounts")
    by_dsn = px.push("users", "--from-sql", postgres_server.dsn(database), "--query",
                     QUERY.replace("ORDER BY uid", "WHERE uid = 'wh-3'"))

    assert by_table.code == 0 and by_dsn.code == 0, by_table.err + by_dsn.err
    assert {w["key"]: w["body"]["customAttributes"] for w in px.writes("accounts")} == {"acc-pg": {"seats": 42}}
    assert {w["key"] for w in px.writes("users")} == {"wh-3"}


def test_from_sql_errors_are_one_line_and_send_nothing(px: PushHarness, postgres_server) -> None:
    database = postgres_server.create_database()
    url = postgres_server.url(database)
    runs = {
        "bad column": px.push("users", "--from-sql", url, "--query", "SELECT nope FROM pg_class"),
        "no table": px.push("users", "--from-sql", url, "--table", "missing_table"),
        "no query": px.push("users", "--from-sql", url),
        "writes": px.push("users", "--from-sql", url, "--query",
                          "CREATE TABLE sneaky AS SELECT 1 AS \"identifyId\"; SELECT 1 AS \"identifyId\""),
        "refused": px.push("users", "--from-sql", "postgresql://px:hunter2-pw@127.0.0.1:1/db", "--query", "SELECT 1"),
        "mysql": px.push("users", "--from-sql", "mysql://u:hunter2-pw@host/db", "--query", "SELECT 1"),
    }
    for what, run in runs.items():
        assert run.code == 1, what
        assert len(run.err.strip().splitlines()) == 1, (what, run.err)
        assert "hunter2-pw" not in run.err, what
    assert "nope" in runs["bad column"].err and "missing_table" in runs["no table"].err
    assert "--query or --table" in runs["no query"].err
    assert "read-only" in runs["writes"].err
    assert "cannot connect" in runs["refused"].err and "127.0.0.1" in runs["refused"].err
    assert "unsupported database 'mysql'" in runs["mysql"].err
    assert px.control.requests() == []
