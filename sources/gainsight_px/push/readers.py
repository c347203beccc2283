"""Readers: a CSV file, or a DuckDB or PostgreSQL query/table -> a header and numbered rows.

A reader either returns every row or raises `InputError` naming the file (and
the line or column) before anything is sent: a half-read file must never be
half-pushed. Files are read whole; the push keeps every row in memory anyway so
that all of them are validated before the first request.

CSV rules: comma-separated, `"` quoting (the `csv` module's default dialect),
UTF-8. A UTF-8 BOM (Excel writes one) is skipped; a UTF-16/32 BOM is an error
("save as CSV UTF-8"). Header names are stripped of surrounding spaces. Blank
lines and rows whose every cell is empty are skipped. A row with more or fewer
cells than the header is an error for the whole file.

Row numbers count the header as row 1, like a spreadsheet (so the first data
row is row 2). For DuckDB, row 1 is the first result row.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gainsight_px.errors import InputError

# Generous, but bounded: a runaway quote should fail with a message, not eat memory.
MAX_FIELD_BYTES = 10 * 1024 * 1024

_FOREIGN_BOMS = (
    (b"\xff\xfe\x00\x00", "UTF-32 LE"),
    (b"\x00\x00\xfe\xff", "UTF-32 BE"),
    (b"\xff\xfe", "UTF-16 LE"),
    (b"\xfe\xff", "UTF-16 BE"),
)
_UTF8_BOM = b"\xef\xbb\xbf"


@dataclass
class Table:
    """Rows ready for validation. `values` align with `columns`."""

    source: str  # how messages name the input
    columns: list[str]
    rows: list[tuple[int, Sequence[Any]]]
    _index: dict[int, int] | None = field(default=None, repr=False)

    def cells(self, row_number: int) -> Sequence[Any]:
        """The original cells of a row, by its row number (an index is built on first use)."""
        if self._index is None:
            self._index = {number: i for i, (number, _) in enumerate(self.rows)}
        return self.rows[self._index[row_number]][1]


def read_csv(path: str | os.PathLike[str]) -> Table:
    """Read a whole CSV file; raise InputError naming the file and line on any defect."""
    path = Path(path)
    name = str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{name}: is a directory, expected a CSV file") from None
    except OSError as exc:
        raise InputError(f"{name}: cannot read the file ({exc.strerror or exc})") from None

    for bom, encoding in _FOREIGN_BOMS:
        if data.startswith(bom):
            raise InputError(f"{name}: the file is {encoding} encoded (it starts with a {encoding} "
                             "byte-order mark); save it as UTF-8 (in Excel: 'CSV UTF-8')")
    if data.startswith(_UTF8_BOM):
        data = data[len(_UTF8_BOM):]
    if b"\x00" in data:
        line = data.count(b"\n", 0, data.index(b"\x00")) + 1
        raise InputError(f"{name}: line {line} contains a NUL byte; this is not a text CSV file "
                         "(or it is UTF-16 without a byte-order mark): save it as CSV UTF-8")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        bad = data[exc.start:exc.start + 1].hex().upper()
        raise InputError(f"{name}: line {line} is not valid UTF-8 (byte 0x{bad}); the file is "
                         "probably Windows-1252/Latin-1: save it as CSV UTF-8") from None
    if not text.strip():
        raise InputError(f"{name}: the file is empty; expected a header row naming the columns")
    return _parse_csv(text, name)


def _parse_csv(text: str, name: str) -> Table:
    previous_limit = csv.field_size_limit()
    csv.field_size_limit(MAX_FIELD_BYTES)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header: list[str] | None = None
        rows: list[tuple[int, Sequence[Any]]] = []
        row_number = 1  # the header is row 1
        for cells in reader:
            if not cells:
                continue  # a blank line
            if header is None:
                header = [c.strip() for c in cells]
                _check_header(header, name, reader.line_num)
                continue
            row_number += 1
            if len(cells) != len(header):
                raise InputError(f"{name}: line {reader.line_num} (row {row_number}) has {len(cells)} "
                                 f"cells, the header has {len(header)}; check for unquoted commas "
                                 "or a missing cell")
            if all(not c.strip() for c in cells):
                continue  # ",,,": a blank row as spreadsheets export it
            rows.append((row_number, tuple(cells)))
    except csv.Error as exc:
        raise InputError(f"{name}: line {reader.line_num} is not valid CSV ({exc})") from None
    finally:
        csv.field_size_limit(previous_limit)
    if header is None:
        raise InputError(f"{name}: the file is empty; expected a header row naming the columns")
    return Table(name, header, rows)


def _check_header(header: list[str], name: str, line: int) -> None:
    seen: dict[str, list[int]] = {}
    for position, column in enumerate(header, start=1):
        seen.setdefault(column, []).append(position)
    duplicated = {c: p for c, p in seen.items() if len(p) > 1}
    if duplicated:
        listed = "; ".join(f"{c!r} in columns {', '.join(map(str, p))}" for c, p in duplicated.items())
        raise InputError(f"{name}: duplicated column name(s) in the header (line {line}): {listed}")
    empty = seen.get("")
    if empty:
        raise InputError(f"{name}: the header (line {line}) has no name for column(s) "
                         f"{', '.join(map(str, empty))}")


def read_duckdb(path: str | os.PathLike[str], *, query: str | None = None,
                table: str | None = None) -> Table:
    """Run a query (or read a table) in a DuckDB file, read-only."""
    import duckdb  # imported here: CSV pushes should not pay for it

    if (query is None) == (table is None):
        raise InputError("--from-duckdb needs exactly one of --query or --table")
    name = str(path)
    if not Path(path).is_file():
        raise InputError(f"{name}: no such DuckDB file")
    sql = query if query is not None else f"SELECT * FROM {_quote_table(table or '')}"
    what = f"{name} query" if query is not None else f"{name} table {table!r}"
    try:
        with duckdb.connect(name, read_only=True) as conn:
            cursor = conn.execute(sql)
            if cursor.description is None:
                raise InputError(f"{what}: the statement returns no rows (expected a SELECT)")
            columns = [d[0] for d in cursor.description]
            data = cursor.fetchall()
    except duckdb.Error as exc:
        raise InputError(f"{what}: {type(exc).__name__}: {exc}") from None
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    if duplicated:
        raise InputError(f"{what}: duplicated column name(s) {', '.join(map(repr, duplicated))}; "
                         "alias them (AS \"...\")")
    rows = [(number, values) for number, values in enumerate(data, start=1)]
    return Table(what, columns, rows)


def _quote_table(name: str) -> str:
    """`schema.table` -> `"schema"."table"`: a table name never becomes SQL."""
    parts = name.split(".")
    if not name or any(not p for p in parts):
        raise InputError(f"--table {name!r} is not a table name (expected NAME or SCHEMA.NAME)")
    return ".".join('"' + p.replace('"', '""') + '"' for p in parts)


_URL_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_PASSWORD_IN_URL = re.compile(r"^([^:/]+://[^:/@]*:)[^@]*@")
_PASSWORD_IN_DSN = re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def redact_connection(target: str) -> str:
    """A connection URL or DSN fit for messages: the password replaced by ***."""
    return _PASSWORD_IN_DSN.sub(r"\1***", _PASSWORD_IN_URL.sub(r"\1***@", target))


def read_sql(target: str, *, query: str | None = None, table: str | None = None) -> Table:
    """Run a query (or read a table) in a SQL warehouse, in a read-only session.

    `target` is a PostgreSQL connection: a URL (`postgresql://user:pw@host:5432/db`,
    also with a SQLAlchemy driver, `postgresql+psycopg2://...`) or a libpq DSN
    (`host=... dbname=... user=...`). A `duckdb:///path` URL reads that DuckDB file.
    """
    if (query is None) == (table is None):
        raise InputError("--from-sql needs exactly one of --query or --table")
    target = target.strip()
    scheme_match = _URL_SCHEME.match(target)
    scheme = scheme_match.group(1).lower() if scheme_match else None
    if scheme == "duckdb":
        return read_duckdb(target[len("duckdb:///"):], query=query, table=table)
    name = redact_connection(target)
    if scheme is not None:
        dialect, _, _driver = scheme.partition("+")
        if dialect not in ("postgresql", "postgres"):
            raise InputError(f"--from-sql {name}: unsupported database {dialect!r}; expected a PostgreSQL "
                             "URL (postgresql://user:password@host:5432/database), a libpq DSN, "
                             "or duckdb:///path")
        target = "postgresql" + target[len(scheme):]  # psycopg2 knows no SQLAlchemy driver suffix
    elif "=" not in target:
        raise InputError(f"--from-sql {name!r}: not a connection URL or DSN; expected "
                         "postgresql://user:password@host:5432/database or 'host=... dbname=...'")
    try:
        import psycopg2
    except ImportError:
        raise InputError("--from-sql with PostgreSQL needs psycopg2: pip install 'gainsight-px[postgres]'") from None

    sql = query if query is not None else f"SELECT * FROM {_quote_table(table or '')}"
    what = f"{name} query" if query is not None else f"{name} table {table!r}"
    try:
        conn = psycopg2.connect(target, connect_timeout=30)
    except psycopg2.Error as exc:
        raise InputError(f"--from-sql {name}: cannot connect: {' '.join(str(exc).split())}") from None
    try:
        conn.set_session(readonly=True)  # a push reads the warehouse, never writes it
        with conn.cursor() as cursor:
            cursor.execute(sql)
            if cursor.description is None:
                raise InputError(f"{what}: the statement returns no rows (expected a SELECT)")
            columns = [d[0] for d in cursor.description]
            data = cursor.fetchall()
    except psycopg2.Error as exc:
        raise InputError(f"{what}: {type(exc).__name__}: {' '.join(str(exc).split())}") from None
    finally:
        conn.close()
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    if duplicated:
        raise InputError(f"{what}: duplicated column name(s) {', '.join(map(repr, duplicated))}; "
                         "alias them (AS \"...\")")
    return Table(what, columns, [(number, values) for number, values in enumerate(data, start=1)])
