"""A thin `@dlt.destination` for pushing to PX from your own dlt pipelines.

    from gainsight_px.push.destination import px_destination

    pipeline = dlt.pipeline("px_push", destination=px_destination("users"))
    pipeline.run(rows_with_identifyId_and_attributes, table_name="users")

Each batch dlt hands over goes through the same validator, ledger and sender as
`gainsight-px push`: it is diffed against the ledger and delivered row by row.
So dlt's at-least-once replay of a batch (after a crash, its progress lives in
the pipeline folder) resends only the rows the ledger does not have as
delivered, and custom events are not duplicated beyond the rows in flight.

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

    # One load job at a time: the ledger admits one push at a time.
    @dlt.destination(batch_size=batch_size, name="gainsight_px_push", naming_convention="direct",
                     max_table_nesting=0, skip_dlt_columns_and_tables=True,
                     loader_parallelism_strategy="sequential")
    def gainsight_px_push(items: list[Mapping[str, Any]], table: Mapping[str, Any]) -> None:
        name = entity or table["name"]
        if name not in ENTITIES:
            raise DestinationTerminalException(
                f"table {table['name']!r} is not one of {', '.join(ENTITIES)}: pass px_destination(entity=...)")
        rows = Table(f"dlt table {table['name']}", *_flatten(items, resolve_target(name, mode).attributes_field))
        rejects = Path(rejects_dir) / f"{table['name']}.rejects.csv"
        summary = push_table(rows, name, base_url=base_url, api_key=api_key, options=options,
                             default_rejects=rejects)
        if summary.rejected:
            raise DestinationTerminalException(f"{summary.rejected} row(s) of table {table['name']!r} were "
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
