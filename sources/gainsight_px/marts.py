"""Ready-made analyst views over the loaded dataset.

Each view is one plain SQL file in `gainsight_px/sql/`, the same for DuckDB and
PostgreSQL: a header comment (what the view answers, what it cannot tell, and a
`-- dialects: duckdb postgres` line naming the engines it runs on) and one
SELECT. The file name is the view name. The SELECTs name the default dataset
(`gainsight_px.users`), so every file runs as-is in a DuckDB or PostgreSQL shell
on a default load; for another dataset the `gainsight_px.` qualifiers are rewritten.

The SQL is written in what both engines accept: `extract(epoch FROM ts)` for
elapsed seconds, `timezone('UTC', ts)` for UTC days, intervals in hours (not
days, which follow the session's daylight saving time), `DISTINCT ON` instead of
`arg_max`, a cast to DOUBLE PRECISION before dividing integers, and
`generate_series` in FROM. Where the engines truly differ, a file holds a
marker comment, `/* <name>: <argument> */`, that the view's creation replaces;
pasted as written it is a comment. The markers (SUBSTITUTIONS):

- `/* custom_attributes: <table> AS <alias> */`: `, <alias>."custom_attributes__..."`
  for each custom-attribute column `<table>` has, in table order (DuckDB's
  `COLUMNS(...)` and `EXCLUDE` have no PostgreSQL equivalent).

Views go into the schema `<dataset>_marts` and name no catalog, so they keep
working when the DuckDB file is renamed or ATTACHed under another alias.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from gainsight_px.endpoints import PUBLISHED
from gainsight_px.errors import InputError
from gainsight_px.settings import DEFAULT_DATASET

logger = logging.getLogger(__name__)

MARTS_SUFFIX = "_marts"
# Destinations that speak DuckDB SQL and keep what we create. (dlt's filesystem
# destination also answers SQL through DuckDB, but in a throwaway in-memory
# database, so views there would vanish.)
DUCKDB_DESTINATIONS = frozenset({"duckdb", "motherduck"})
# The SQL dialects a view file may name on its `-- dialects:` line.
DIALECTS = frozenset({"duckdb", "postgres"})

_QUALIFIED_TABLE = re.compile(rf"\b{re.escape(DEFAULT_DATASET)}\.(\w+)")
_DIALECTS_LINE = re.compile(r"^--[ \t]*dialects:[ \t]*(\w+(?:[ \t]+\w+)*)[ \t]*$", re.MULTILINE)
# Tables of the event streams (only the published dialect has them).
EVENT_TABLES = frozenset(e.name for e in PUBLISHED.endpoints.values() if e.is_event_stream)
# `-- fallback when <table>[.<column>], ... is not loaded:` starts a file's second SELECT.
_FALLBACK = re.compile(r"^--\s*fallback when (.+?) (?:is|are) not loaded:.*$", re.MULTILINE)
# `/* <name>: <argument> */`: a substitution marker (any block comment is one).
_MARKER = re.compile(r"/\*\s*(\w+):\s*(.*?)\s*\*/", re.DOTALL)
_TABLE_AS_ALIAS = re.compile(r"(\w+)\s+AS\s+(\w+)")

Escape = Callable[[str], str]


def _custom_attributes(argument: str, escape: Escape, columns: dict[str, list[str]]) -> str:
    """`users AS u` -> `,\n    u."custom_attributes__plan", ...` (nothing without such columns)."""
    match = _TABLE_AS_ALIAS.fullmatch(argument)
    assert match is not None, argument  # _parse refuses a file with another argument
    table, alias = match.groups()
    names = [c for c in columns.get(table, []) if c.startswith("custom_attributes__")]
    return "".join(f",\n    {alias}.{escape(c)}" for c in names)


# name -> (the argument it takes, what it becomes: f(argument, escape, table -> columns)).
SUBSTITUTIONS: dict[str, tuple[re.Pattern[str], Callable[[str, Escape, dict[str, list[str]]], str]]] = {
    "custom_attributes": (_TABLE_AS_ALIAS, _custom_attributes),
}


@dataclass(frozen=True)
class View:
    """One analyst view, as written in its SQL file."""

    name: str
    sql: str  # the SELECT, against the default dataset
    dialects: frozenset[str]  # the engines it runs on (its `-- dialects:` line)
    # What to create instead when one of `fallback_when` (tables, or `table.column`)
    # is not loaded: a second SELECT after a `-- fallback when ...` line in the file.
    fallback: View | None = None
    fallback_when: tuple[str, ...] = ()

    def needs_fallback(self, tables: set[str], columns: dict[str, list[str]] | None) -> bool:
        for need in self.fallback_when:
            table, _, column = need.partition(".")
            if table not in tables or (column and columns is not None and column not in columns.get(table, ())):
                return True
        return False

    @property
    def tables(self) -> frozenset[str]:
        """Dataset tables the view reads."""
        return frozenset(_QUALIFIED_TABLE.findall(self.sql))

    def select_for(self, dataset: str, escape: Escape, columns: dict[str, list[str]] | None = None) -> str:
        """The SELECT with its tables qualified by `dataset` and its markers
        (SUBSTITUTIONS) filled in from `columns` (table -> column names, in table order)."""
        def substitute(m: re.Match) -> str:
            return SUBSTITUTIONS[m.group(1)][1](m.group(2), escape, columns or {})

        sql = _MARKER.sub(substitute, self.sql)
        return _QUALIFIED_TABLE.sub(lambda m: f"{escape(dataset)}.{escape(m.group(1))}", sql)


def marts_schema(dataset: str = DEFAULT_DATASET) -> str:
    """Schema that holds the views of `dataset`."""
    return f"{dataset}{MARTS_SUFFIX}"


def load_views(dialect: str = "duckdb") -> list[View]:
    """Every view that runs on `dialect` ("duckdb" or "postgres"), in name order,
    from gainsight_px/sql/*.sql (one file per view, for both engines)."""
    views = []
    for entry in sorted(files("gainsight_px").joinpath("sql").iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".sql"):
            continue
        view = _parse(entry.name.removesuffix(".sql"), entry.read_text(encoding="utf-8"))
        if dialect in view.dialects:
            views.append(view)
    return views


def _parse(name: str, text: str) -> View:
    # A malformed file is a packaging bug, not user input: fail loudly on load.
    where = f"gainsight_px/sql/{name}.sql"
    line = _DIALECTS_LINE.search(text)
    if line is None:
        raise ValueError(f"{where}: missing a '-- dialects: duckdb postgres' header line")
    dialects = frozenset(line.group(1).split())
    if not dialects <= DIALECTS:
        raise ValueError(f"{where}: unknown dialect(s) {', '.join(sorted(dialects - DIALECTS))}")
    for marker in _MARKER.finditer(text):
        known = SUBSTITUTIONS.get(marker.group(1))
        if known is None or not known[0].fullmatch(marker.group(2)):
            raise ValueError(f"{where}: unknown substitution marker {marker.group(0)!r}")
    main, *rest = _FALLBACK.split(text, maxsplit=1)
    fallback, when = None, ()
    if rest:
        when = tuple(t.strip() for t in rest[0].split(",") if t.strip())
        fallback = View(name, rest[1].strip().rstrip(";"), dialects)
    return View(name=name, sql=main.strip().rstrip(";"), dialects=dialects, fallback=fallback, fallback_when=when)


def refresh_views(pipeline: Any) -> list[str]:
    """Create or replace the analyst views after a load; returns the views created.

    Runs on DuckDB-like destinations and PostgreSQL through the pipeline's own
    sql_client. On any other destination it logs a warning and creates nothing.
    Views whose tables were not loaded (yet) are skipped, named in one info line.
    All views change in one transaction: if one does not fit the tables,
    InputError names it and no view changes.
    """
    if pipeline.destination is None:
        return []
    destination = pipeline.destination.destination_type.rsplit(".", 1)[-1]
    dialect = "duckdb" if destination in DUCKDB_DESTINATIONS else destination
    if dialect not in DIALECTS:
        logger.warning("analyst views are written for %s; not created on destination %r",
                       " and ".join(sorted(DIALECTS)), destination)
        return []
    runnable = load_views(dialect)
    if not runnable:
        return []
    with pipeline.sql_client() as client:
        dataset = client.dataset_name
        escape = client.capabilities.escape_identifier
        rows = client.execute_sql(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_catalog = current_database() AND table_schema = %s",
            dataset,
        )
        columns: dict[str, list[str]] = {}
        for table, column in client.execute_sql(
                "SELECT table_name, column_name FROM information_schema.columns"
                " WHERE table_catalog = current_database() AND table_schema = %s"
                " ORDER BY table_name, ordinal_position", dataset):
            columns.setdefault(table, []).append(column)
        with client.begin_transaction():
            # PostgreSQL's CREATE OR REPLACE VIEW cannot drop or rename columns; its DDL is
            # transactional, so a view may be dropped and created and every view still changes
            # at once or not at all. Its statements go to the driver directly: dlt's
            # execute_sql resets the connection on an error, which would end the transaction
            # that the savepoints need.
            execute = client.execute_sql if dialect == "duckdb" else _native_execute(client.native_connection)
            return _create_views(execute, runnable, dataset, {r[0] for r in rows}, escape,
                                 columns=columns, replace=dialect == "duckdb")


def _native_execute(connection: Any) -> Callable[[str], Any]:
    def execute(sql: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute(sql)

    return execute


def refresh_views_duckdb(path: str | Path, dataset: str = DEFAULT_DATASET) -> list[str]:
    """Create or replace the analyst views in a DuckDB file; returns the views created.

    For notebooks and files loaded by an older version. The file must exist and
    hold `dataset`; it is opened read-write, so close other connections first.
    """
    import dlt
    import duckdb

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such DuckDB file (run a load first; the demo writes gainsight_demo.duckdb)")
    escape = dlt.destinations.duckdb().capabilities().escape_identifier
    with duckdb.connect(str(path)) as con:
        tables = {r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_catalog = current_database() AND table_schema = ?", [dataset]).fetchall()}
        if not tables:
            raise InputError(f"{path}: dataset (schema) {dataset!r} not found or empty; "
                             f"pass the dataset name the load used as `dataset`")
        con.begin()
        try:
            columns: dict[str, list[str]] = {}
            for table, column in con.execute(
                    "SELECT table_name, column_name FROM information_schema.columns"
                    " WHERE table_catalog = current_database() AND table_schema = ?"
                    " ORDER BY table_name, ordinal_position", [dataset]).fetchall():
                columns.setdefault(table, []).append(column)
            created = _create_views(con.execute, load_views(), dataset, tables, escape, columns=columns)
        except BaseException:
            con.rollback()
            raise
        con.commit()
    return created


def _create_views(execute: Callable[[str], Any], views: Iterable[View], dataset: str,
                  tables: set[str], escape: Escape, columns: dict[str, list[str]] | None = None,
                  replace: bool = True) -> list[str]:
    """CREATE OR REPLACE each view whose tables exist; the caller owns the transaction."""
    schema = marts_schema(dataset)
    execute(f"CREATE SCHEMA IF NOT EXISTS {escape(schema)}")
    created = []
    waiting: dict[str, list[str]] = {}  # view -> the tables it waits for
    for view in views:
        missing = sorted(view.tables - tables)
        if view.fallback is not None and view.needs_fallback(tables, columns):
            # The main SELECT cannot bind: the fallback, if it binds or lacks fewer tables
            # (a view waits for what is least to load: `features`, not `feature_match_events`).
            fallback_missing = sorted(view.fallback.tables - tables)
            if not missing or len(fallback_missing) < len(missing):
                view, missing = view.fallback, fallback_missing
        if missing:
            # A load of selected resources, or a dialect without event streams: the
            # view would not bind. Expected, so one info line for all, not a warning each.
            waiting[view.name] = missing
            continue
        try:
            name = f"{escape(schema)}.{escape(view.name)}"
            select = view.select_for(dataset, escape, columns)
            if replace:
                execute(f"CREATE OR REPLACE VIEW {name} AS\n{select}")
            else:
                _replace_in_place_or_recreate(execute, name, select)
        except Exception as exc:  # duckdb's or dlt's database error; the caller rolls back
            raise InputError(
                f"analyst view {view.name} (gainsight_px/sql/{view.name}.sql) does not fit the tables "
                f"in dataset {dataset!r}; no view was changed: {exc}"
            ) from exc
        created.append(view.name)
    if waiting:
        logger.info("analyst views not created until their tables are loaded in dataset %r: %s",
                    dataset, _waiting_text(waiting))
    return created


def _waiting_text(waiting: dict[str, list[str]]) -> str:
    """`{"feature_adoption": ["features"]}` -> `feature_adoption (waits for features)`."""
    return "; ".join(f"{name} (waits for {', '.join(tables)})" for name, tables in sorted(waiting.items()))


def _replace_in_place_or_recreate(execute: Callable[[str], Any], name: str, select: str) -> None:
    """PostgreSQL: CREATE OR REPLACE keeps views that analysts built on ours, but it
    cannot drop or rename columns; then drop and create (inside the caller's transaction)."""
    execute("SAVEPOINT gainsight_px_view")
    try:
        execute(f"CREATE OR REPLACE VIEW {name} AS\n{select}")
    except Exception:
        execute("ROLLBACK TO SAVEPOINT gainsight_px_view")
        execute(f"DROP VIEW IF EXISTS {name}")
        execute(f"CREATE VIEW {name} AS\n{select}")
    else:
        execute("RELEASE SAVEPOINT gainsight_px_view")
