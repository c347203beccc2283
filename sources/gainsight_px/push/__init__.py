"""Reverse ETL: push CSV rows or warehouse query results into Gainsight PX, safely.

    from gainsight_px.push import push_csv, push_query

    summary = push_csv("users.csv", "users")                       # upsert (create or update)
    summary = push_csv("users.csv", "users", mode="update")        # update only, never creates
    summary = push_csv("events.csv", "events", dry_run=True)       # validate + plan only
    summary = push_query("warehouse.duckdb", "users", query="SELECT ...")
    summary.exit_code  # 0 all delivered, 2 some rows rejected, 130 interrupted

Flow (one module each): readers -> validate -> ledger filter -> sender -> ledger
record -> report; `engine.push_table` strings them together.

Why the CLI path does not run through a dlt pipeline with a `@dlt.destination`:
- Every row must be validated before the first request. dlt's destination is
  called per load job, batch by batch, after extract and normalise; a bad row
  at the end of a file would be found after the first batches were sent.
- Delivery must be acknowledged per row. A dlt destination job is at-least-once
  per batch: if the process dies mid-batch, the whole batch is replayed. That
  duplicates custom events (PX does not de-duplicate them), and dlt keeps its
  progress in the pipeline folder, where nothing says which rows of a batch
  went out. The ledger here commits each row before and after its request, so a
  kill -9 can duplicate at most the rows in flight (= concurrency).
- dlt's normaliser rewrites what the user wrote: column names
  (`customAttributes.plan` -> `custom_attributes__plan` unless the naming is
  "direct"), nested tables, and its own type inference on CSV text, where this
  module applies the API's field types from endpoints.py.
- A dry run, a rejects file with the original cells and row numbers, and a
  diff sync across runs are not things a destination can express.

For people who push from their own dlt pipelines, `px_destination()` is a thin `@dlt.destination` built on the same
validator, ledger and sender: each batch is validated, diffed against the
ledger and delivered row by row, so a replayed batch resends only the rows the
ledger does not have as delivered.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from gainsight_px.push.destination import px_destination
from gainsight_px.push.engine import PushOptions, push_table, resolve_credentials
from gainsight_px.push.ledger import DEFAULT_LEDGER, LEDGER_ENV, Ledger, ledger_path
from gainsight_px.push.readers import Table, read_csv, read_duckdb, read_sql
from gainsight_px.push.report import (
    EXIT_FATAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_REJECTED,
    PushSummary,
    default_rejects_path,
    format_summary,
)
from gainsight_px.push.validate import ENTITIES, MODES, resolve_target


def push_csv(path: str | os.PathLike[str], entity: str, *, base_url: str | None = None,
             api_key: str | None = None, options: PushOptions | None = None, **overrides: Any) -> PushSummary:
    """Push a CSV file of `users`, `accounts` or `events`. `overrides` are `PushOptions` fields
    (mode, dry_run, rate, concurrency, ledger, rejects, timeout, force, progress...).

    base_url / api_key default to dlt config (SOURCES__GAINSIGHT_PX__BASE_URL / __API_KEY).
    """
    started = time.monotonic()
    resolve_target(entity, (overrides.get("mode") or (options.mode if options else "upsert")))
    table = read_csv(path)
    return push_table(table, entity, base_url=base_url, api_key=api_key, options=options,
                      default_rejects=default_rejects_path(Path(path), entity), started=started, **overrides)


def push_query(duckdb_path: str | os.PathLike[str], entity: str, *, query: str | None = None,
               table: str | None = None, base_url: str | None = None, api_key: str | None = None,
               options: PushOptions | None = None, **overrides: Any) -> PushSummary:
    """Push the result of a DuckDB query (or a whole table): columns named as the API's fields,
    `"customAttributes.<key>"` aliases for custom attributes. Rejects go to ./<entity>.rejects.csv."""
    started = time.monotonic()
    resolve_target(entity, (overrides.get("mode") or (options.mode if options else "upsert")))
    rows = read_duckdb(duckdb_path, query=query, table=table)
    return push_table(rows, entity, base_url=base_url, api_key=api_key, options=options,
                      default_rejects=default_rejects_path(None, entity), started=started, **overrides)


def push_sql(connection: str, entity: str, *, query: str | None = None, table: str | None = None,
             base_url: str | None = None, api_key: str | None = None,
             options: PushOptions | None = None, **overrides: Any) -> PushSummary:
    """`push_query` for a SQL warehouse: a PostgreSQL URL or DSN (read-only session),
    or `duckdb:///path`. Same validation, ledger and summary; rejects to ./<entity>.rejects.csv."""
    started = time.monotonic()
    resolve_target(entity, (overrides.get("mode") or (options.mode if options else "upsert")))
    rows = read_sql(connection, query=query, table=table)
    return push_table(rows, entity, base_url=base_url, api_key=api_key, options=options,
                      default_rejects=default_rejects_path(None, entity), started=started, **overrides)


__all__ = [
    "DEFAULT_LEDGER",
    "ENTITIES",
    "EXIT_FATAL",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_REJECTED",
    "LEDGER_ENV",
    "MODES",
    "Ledger",
    "PushOptions",
    "PushSummary",
    "Table",
    "format_summary",
    "ledger_path",
    "push_csv",
    "push_query",
    "push_sql",
    "push_table",
    "px_destination",
    "read_csv",
    "read_duckdb",
    "read_sql",
    "resolve_credentials",
]
