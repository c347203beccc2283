"""Ready-made analyst views over the loaded dataset.

Each view is one plain SQL file in `gainsight_px/sql/`: a header comment (what
the view answers, what it cannot tell, its SQL dialect) and one SELECT. The
file name is the view name. The SELECTs name the default dataset
(`gainsight_px.users`), so every file runs as-is in a DuckDB shell on a default
load; for another dataset the `gainsight_px.` qualifiers are rewritten.

Views go into the schema `<dataset>_marts` and name no catalog, so they keep
working when the DuckDB file is renamed or ATTACHed under another alias.

PostgreSQL gets its own variant of each view, `gainsight_px/sql/postgres/<name>.sql`
(same columns and meaning; PostgreSQL has no `COLUMNS(...)`, `EXCLUDE`,
`arg_max` or float division of integers). Where DuckDB selects the
`custom_attributes__*` columns with `COLUMNS(...)`, a variant carries a marker
comment, `/* custom_attributes: users AS u */`, that becomes the list of those
columns when the view is created.
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
# Destinations with their own variant of the views in sql/<name>/.
VARIANT_DIALECTS = frozenset({"postgres"})

_QUALIFIED_TABLE = re.compile(rf"\b{re.escape(DEFAULT_DATASET)}\.(\w+)")
_DIALECT_LINE = re.compile(r"^--\s*dialect:\s*(\w+)\s*$", re.MULTILINE)
# Tables of the event streams (only the published dialect has them).
EVENT_TABLES = frozenset(e.name for e in PUBLISHED.endpoints.values() if e.is_event_stream)
# `-- fallback when <table>[.<column>], ... is not loaded:` starts a file's second SELECT.
_FALLBACK = re.compile(r"^--\s*fallback when (.+?) (?:is|are) not loaded:.*$", re.MULTILINE)
_CUSTOM_ATTRIBUTES = re.compile(r"/\*\s*custom_attributes:\s*(\w+)\s+AS\s+(\w+)\s*\*/")

Escape = Callable[[str], str]


@dataclass(frozen=True)
class View:
    """One analyst view, as written in its SQL file."""

    name: str
    sql: str  # the SELECT, against the default dataset
    dialect: str
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
        """The SELECT with its tables qualified by `dataset` and its custom-attribute
        markers expanded from `columns` (table -> column names, in table order)."""
        def attributes(m: re.Match) -> str:
            table, alias = m.group(1), m.group(2)
            names = [c for c in (columns or {}).get(table, []) if c.startswith("custom_attributes__")]
            return "".join(f",\n    {alias}.{escape(c)}" for c in names)

        sql = _CUSTOM_ATTRIBUTES.sub(attributes, self.sql)
        return _QUALIFIED_TABLE.sub(lambda m: f"{escape(dataset)}.{escape(m.group(1))}", sql)


def marts_schema(dataset: str = DEFAULT_DATASET) -> str:
    """Schema that holds the views of `dataset`."""
    return f"{dataset}{MARTS_SUFFIX}"


def load_views(dialect: str = "duckdb") -> list[View]:
    """Every view shipped for `dialect`, in name order: gainsight_px/sql/*.sql for
    DuckDB, gainsight_px/sql/<dialect>/*.sql for a destination with variants."""
    views = []
    sql_dir = files("gainsight_px").joinpath("sql")
    if dialect != "duckdb":
        sql_dir = sql_dir.joinpath(dialect)
    for entry in sorted(sql_dir.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".sql"):
            continue
        text = entry.read_text(encoding="utf-8")
        dialect = _DIALECT_LINE.search(text)
        if dialect is None:
            # A packaging bug, not user input: every file must say what it needs.
            raise ValueError(f"gainsight_px/sql/{entry.name}: missing a '-- dialect: <name>' header line")
        name = entry.name.removesuffix(".sql")
        main, *rest = _FALLBACK.split(text, maxsplit=1)
        fallback, when = None, ()
        if rest:
            when = tuple(t.strip() for t in rest[0].split(",") if t.strip())
            fallback = View(name, rest[1].strip().rstrip(";"), dialect.group(1))
        views.append(View(name=name, sql=main.strip().rstrip(";"), dialect=dialect.group(1),
                          fallback=fallback, fallback_when=when))
    return views


def refresh_views(pipeline: Any) -> list[str]:
    """Create or replace the analyst views after a load; returns the views created.

    Runs on DuckDB-like destinations and PostgreSQL (its own variants) through the
    pipeline's own sql_client. On any other destination it logs a warning and
    creates nothing.
    Views whose tables were not loaded (yet) are skipped with a warning. All
    views change in one transaction: if one does not fit the tables, InputError
    names it and no view changes.
    """
    if pipeline.destination is None:
        return []
    destination = pipeline.destination.destination_type.rsplit(".", 1)[-1]
    dialect = "duckdb" if destination in DUCKDB_DESTINATIONS else destination
    views = load_views()
    if dialect in VARIANT_DIALECTS:
        variants = load_views(dialect)
        runnable = [v for v in variants if v.dialect == dialect]
        skipped = sorted({v.name for v in views} - {v.name for v in runnable})
        if skipped:
            logger.warning("analyst views %s have no %s variant; not created on destination %r",
                           ", ".join(skipped), dialect, destination)
    else:
        runnable = [v for v in views if v.dialect == dialect]
        skipped = sorted(v.name for v in views if v.dialect != dialect)
        if skipped:
            logger.warning("analyst views %s are written in DuckDB SQL; not created on destination %r",
                           ", ".join(skipped), destination)
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
                    " WHERE table_catalog = current_database() AND table_schema = ?", [dataset]).fetchall():
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
    for view in views:
        missing = sorted(view.tables - tables)
        if view.fallback is not None and view.needs_fallback(tables, columns) \
                and view.fallback.tables <= tables:
            view, missing = view.fallback, []
        if missing:
            # A load of selected resources only: the view would not bind. Event views
            # on a dataset without events (the contract dialect has none) are expected.
            log = logger.info if set(missing) <= EVENT_TABLES else logger.warning
            log("analyst view %s not created: table(s) %s not loaded in dataset %r",
                view.name, ", ".join(missing), dataset)
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
    return created


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
