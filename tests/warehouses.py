"""One way to load into, and read back from, each SQL destination the tests cover.

`Warehouse` hides only the connection: the SQL the tests send is the same on
DuckDB and PostgreSQL, and values come back normalised (timestamps in UTC,
JSON as Python objects, Decimals as floats) so rows compare across the two.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import dlt
import duckdb

# The session runs at UTC+14 on both: the views promise UTC days whatever the
# analyst's timezone, and a slip shows up as days off by one.
READER_TIMEZONE = "Pacific/Kiritimati"


def normalise(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


@dataclass
class Warehouse:
    """A DuckDB file or a PostgreSQL database; `kind` is "duckdb" or "postgres"."""

    kind: str
    target: str  # DuckDB file path, or a postgresql:// URL

    @classmethod
    def make(cls, kind: str, tmp_path: Path, postgres_url: str | None = None, name: str = "gainsight") -> Warehouse:
        if kind == "duckdb":
            return cls("duckdb", str(tmp_path / f"{name}.duckdb"))
        assert postgres_url, "postgres needs the postgres_url fixture"
        return cls("postgres", postgres_url)

    def destination(self) -> Any:
        if self.kind == "duckdb":
            return dlt.destinations.duckdb(self.target)
        return dlt.destinations.postgres(self.target)

    def query(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        """Rows of `sql` (`?` placeholders) as dicts of normalised values."""
        if self.kind == "duckdb":
            with duckdb.connect(self.target, read_only=True) as con:
                con.execute(f"SET TimeZone = '{READER_TIMEZONE}'")
                cur = con.execute(sql, params or [])
                names = [d[0] for d in cur.description]
                data = cur.fetchall()
        else:
            import psycopg2

            con = psycopg2.connect(self.target)
            try:
                with con.cursor() as cur:
                    cur.execute(f"SET TIME ZONE '{READER_TIMEZONE}'")
                    if params:
                        cur.execute(sql.replace("%", "%%").replace("?", "%s"), params)
                    else:
                        cur.execute(sql)
                    names = [d[0] for d in cur.description]
                    data = cur.fetchall()
            finally:
                con.close()
        return [{n: normalise(v) for n, v in zip(names, row, strict=True)} for row in data]

    def table(self, table: str, key: str, dataset: str = "gainsight_px") -> dict[Any, dict[str, Any]]:
        """Every row of `dataset.table` by `key`, without dlt's bookkeeping columns."""
        return {r[key]: {c: v for c, v in r.items() if not c.startswith("_dlt")}
                for r in self.query(f'SELECT * FROM {dataset}."{table}"')}

    def tables(self, schema: str) -> set[str]:
        return {r["table_name"] for r in self.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = "
            f"'{schema}' AND table_catalog = current_database()")}

    def views(self, schema: str = "gainsight_px_marts") -> set[str]:
        return {r["table_name"] for r in self.query(
            "SELECT table_name FROM information_schema.tables WHERE table_type = 'VIEW' AND "
            f"table_schema = '{schema}' AND table_catalog = current_database()")}
