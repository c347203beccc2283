"""Read the warehouse without getting in a load's way: one short read-only connection per query.

DuckDB lets one process write a file, and only while no other process has it
open, even read-only. A notebook that keeps its connection between cells makes
every scheduled load fail until it is closed. `query()` opens the file
read-only, runs one statement, copies the result into memory and closes the file
again, so the file is held only for the query's milliseconds.

    from gainsight_px.analyst import query
    query("SELECT * FROM gainsight_px_marts.user_activity LIMIT 5")   # shows as a table
    rows = query("SELECT day, dau FROM gainsight_px_marts.active_users_daily").fetchall()

If a load is writing at that moment, `query()` waits for it (up to `wait_s`
seconds) instead of failing.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gainsight_px.errors import GainsightPXError, InputError
from gainsight_px.failures import locked_duckdb
from gainsight_px.settings import DEFAULT_DUCKDB_FILE

DUCKDB_ENV = "GAINSIGHT_PX_DUCKDB"
_memory: Any = None  # an in-memory DuckDB that holds the results


def duckdb_path() -> Path:
    """The file to read: $GAINSIGHT_PX_DUCKDB, else gainsight.duckdb in the working directory."""
    return Path(os.environ.get(DUCKDB_ENV) or DEFAULT_DUCKDB_FILE).expanduser()


def connect_read_only(path: str | Path | None = None, wait_s: float = 60.0) -> Any:
    """A read-only connection to `path`; waits while a load holds the file. Close it soon."""
    import duckdb

    path = Path(path) if path is not None else duckdb_path()
    if not path.is_file():
        raise InputError(f"{path.resolve()}: no DuckDB file here. Run `gainsight-px load` (or the demo) "
                         f"first, or set {DUCKDB_ENV} to the file a load wrote.")
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return duckdb.connect(str(path), read_only=True)
        except duckdb.IOException as exc:
            busy = locked_duckdb(str(exc))
            if busy is None:
                raise
            if time.monotonic() >= deadline:
                raise GainsightPXError(f"{busy} (waited {wait_s:g}s)") from None
            time.sleep(0.25)


def query(sql: str, params: Sequence[Any] | None = None, path: str | Path | None = None,
          wait_s: float = 60.0) -> Any:
    """Run one statement on the warehouse file, read-only, and return its result as a DuckDB relation.

    The relation lives in memory, so showing, filtering or fetching it later never
    touches the file again.
    """
    import duckdb

    global _memory
    con = connect_read_only(path, wait_s)
    try:
        result = con.execute(sql, list(params or [])).fetch_arrow_table()
    finally:
        con.close()
    if _memory is None:
        _memory = duckdb.connect(":memory:")
    return _memory.from_arrow(result)
