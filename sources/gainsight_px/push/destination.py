"""A thin `@dlt.destination` for pushing to PX from your own dlt pipelines.

    from gainsight_px.push.destination import px_destination

    pipeline = dlt.pipeline("px_push", destination=px_destination("users"))
    pipeline.run(rows_with_identifyId_and_attributes, table_name="users")

Each load file dlt hands over goes through the same validator, ledger and sender as
`gainsight-px push`: it is diffed against the ledger and delivered row by row.
The destination takes whole files (dlt's `batch_size=0`) and pushes them in
chunks of `batch_size` rows, so an event's identity (its content and its
occurrence among identical rows, see `push/engine.py`) is counted over the
whole file: three identical events are three, whatever the batch size, and
a file dlt replays after a crash gives every event the identity it had, so
the ledger skips those already delivered.

Limits, compared with the CLI (see gainsight_px.push's docstring for why the CLI
does not use this): validation sees one batch at a time, so a key repeated in
two batches is not caught and a bad row fails its batch after earlier batches
were sent; rejected rows fail the load job (a terminal error naming the rejects
file) instead of ending with exit code 2; there is no dry run.

Rows may carry custom attributes either as dotted keys (`customAttributes.plan`)
or as a nested dict (`{"customAttributes": {"plan": ...}}`); the destination
uses dlt's "direct" naming and no nesting, so neither is rewritten.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dlt
import orjson
from dlt.common.destination.exceptions import DestinationTerminalException

from gainsight_px import settings
from gainsight_px.push.engine import PushOptions, push_table
from gainsight_px.push.readers import Table
from gainsight_px.push.validate import ENTITIES, resolve_target


def px_destination(entity: str | None = None, *, mode: str = "upsert", base_url: str | None = None,
                   api_key: str | None = None, ledger: str | os.PathLike[str] | None = None,
                   rejects_dir: str | os.PathLike[str] = ".", rate: float = settings.DEFAULT_PUSH_RATE,
                   concurrency: int = settings.DEFAULT_PUSH_CONCURRENCY, batch_size: int = 1000) -> Any:
    """A dlt destination pushing each table to PX as `entity` (default: the table's name).

    Credentials default to dlt config, like the source and the CLI.
    """
    if entity is not None:
        resolve_target(entity, mode)
    options = PushOptions(mode=mode, rate=rate, concurrency=concurrency, ledger=ledger, progress=False,
                          handle_sigint=False)

    # One load job at a time: the ledger admits one push at a time. Whole files (batch_size=0):
    # event identities are counted over the file, not per batch (see the module docstring).
    @dlt.destination(batch_size=0, loader_file_format="parquet", name="gainsight_px_push",
                     naming_convention="direct", max_table_nesting=0, skip_dlt_columns_and_tables=True,
                     loader_parallelism_strategy="sequential")
    def gainsight_px_push(file_path: str, table: Mapping[str, Any]) -> None:
        import pyarrow.parquet as pq

        name = entity or table["name"]
        if name not in ENTITIES:
            raise DestinationTerminalException(
                f"table {table['name']!r} is not one of {', '.join(ENTITIES)}: pass px_destination(entity=...)")
        # Nested values (max_table_nesting=0) travel as JSON text in parquet: decode them back.
        nested = {c for c, spec in (table.get("columns") or {}).items() if spec.get("data_type") == "json"}
        items = [{k: (orjson.loads(v) if k in nested and isinstance(v, str) else v)
                  for k, v in row.items() if not k.startswith("_dlt")}
                 for row in pq.read_table(file_path).to_pylist()]
        columns, numbered = _flatten(items, resolve_target(name, mode).attributes_field)
        rejects = Path(rejects_dir) / f"{table['name']}.rejects.csv"
        if name == "events":
            chunks = [numbered]  # one push: identities need the whole file
        else:
            step = max(1, batch_size)
            chunks = [numbered[i:i + step] for i in range(0, len(numbered), step)] or [[]]
        rejected = 0
        for chunk in chunks:
            summary = push_table(Table(f"dlt table {table['name']}", columns, chunk), name, base_url=base_url,
                                 api_key=api_key, options=options, default_rejects=rejects)
            rejected += summary.rejected
        if rejected:
            raise DestinationTerminalException(f"{rejected} row(s) of table {table['name']!r} were "
                                               f"rejected: see {summary.rejects_path}")

    return gainsight_px_push()


def _flatten(items: list[Mapping[str, Any]], attributes_field: str | None) -> tuple[list[str], list]:
    """Dicts -> columns + numbered rows; a nested attributes dict becomes dotted columns."""
    flat: list[dict[str, Any]] = []
    for item in items:
        row = dict(item)
        nested = row.pop(attributes_field, None) if attributes_field else None
        if isinstance(nested, Mapping):
            row.update({f"{attributes_field}.{k}": v for k, v in nested.items()})
        elif nested is not None:
            row[attributes_field or ""] = nested  # not a dict: let validation name the column
        flat.append(row)
    columns = list(dict.fromkeys(key for row in flat for key in row))
    return columns, [(n, [row.get(c) for c in columns]) for n, row in enumerate(flat, start=1)]
