"""The `gainsight_px` dlt source: one merge resource per PX list endpoint.

Resources come from the endpoint table (`endpoints.py`), never from code here:

| resource | primary key | loads |
| --- | --- | --- |
| users | aptrinsic_id | merge; incremental on lastSeenDate |
| accounts | id | merge; incremental on lastSeenDate |
| features | id | merge; full scan every run |
| engagements | id | merge; full scan every run |
| subscriptions | id | merge; one request, no paging |

Incremental resources keep their cursor in `dlt.sources.incremental`, whose
state is committed only with a load package that extracted completely, and
send it to PX as `filter=lastSeenDate>=<ms>` with `sort=lastSeenDate:asc`. The
boundary is inclusive; the keys already loaded at the boundary value are kept
next to it in the resource state and excluded by the server, so an unchanged
tenant costs one request and no rows. Never-seen records (lastSeenDate 0 ->
NULL) load on a run without a stored cursor. `initial` limits the first run.

A run of users/accounts without a stored cursor (the first run, or a
reconcile) and without `initial` reads the whole tenant, so that load
*replaces* the table (marked on its first item with `dlt.mark.with_hints`):
cheaper than merge, and it cannot keep rows PX no longer has. Runs with a
cursor merge.

Reconcile (attribute-only changes and deletions, which `lastSeenDate` cannot
see) is a run with `refresh="drop_data"` (see `load.py`): dlt resets the
cursor state, the resources scan everything, and the tables are truncated and
refilled within that load.

Each page travels as a typed Arrow table (`columns.py`); dlt writes it as
parquet, which works for any destination.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import dlt
import pendulum
import pyarrow as pa
from dlt.common.normalizers.naming import NamingConvention
from dlt.extract.resource import DltResource

from gainsight_px import settings
from gainsight_px.client import PXClient
from gainsight_px.columns import PageConverter, column_types
from gainsight_px.endpoints import DEFAULT_DIALECT, Dialect, Endpoint
from gainsight_px.errors import ConfigError
from gainsight_px.paging import MAX_EXCLUDED_KEYS, Position, Scan

# Where the keys loaded at the cursor boundary live in each resource's state.
BOUNDARY_STATE_KEY = "boundary"
# Rows per yielded Arrow table (about 10 pages): big enough to amortise dlt's
# per-item overhead, small enough to keep memory flat.
BATCH_ROWS = 5000


def parse_initial(initial: datetime | date | str | None) -> datetime | None:
    """`initial` as an aware UTC datetime; a date or naive time counts as UTC."""
    if initial is None or initial == "":
        return None
    if isinstance(initial, datetime):
        value = initial
    elif isinstance(initial, date):
        value = datetime(initial.year, initial.month, initial.day)
    elif isinstance(initial, str):
        try:
            value = pendulum.parse(initial.strip(), tz="UTC", exact=False)
        except (ValueError, pendulum.parsing.exceptions.ParserError):
            raise ConfigError(
                f"initial: expected an ISO date or time such as 2024-01-31 or 2024-01-31T12:00:00Z, "
                f"got {initial!r}."
            ) from None
    else:
        raise ConfigError(f"initial: expected an ISO date or time, got {type(initial).__name__}.")
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def to_epoch_ms(value: Any) -> int | None:
    """A cursor value from dlt state (datetime) as epoch milliseconds."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return round(value.timestamp() * 1000)
    if isinstance(value, int | float):
        return int(value)
    raise ConfigError(f"unexpected stored cursor value {value!r}; reset with --full-refresh.")


def listable_endpoints(dialect: Dialect) -> dict[str, Endpoint]:
    """Resources this source offers: every endpoint that can be listed."""
    return {e.name: e for e in dialect.list_endpoints}


def _stored_columns(table_name: str) -> dict[str, str]:
    """Column types from earlier runs (the pipeline's stored schema), if any."""
    try:
        schema = dlt.current.source_schema()
    except Exception:  # outside a pipeline (e.g. iterating the resource directly)
        return {}
    return column_types(schema.tables.get(table_name))


def _publish(stats: Any) -> None:
    """Requests, pages and restarts as dlt custom metrics (shown in the load summary)."""
    try:
        metrics = dlt.current.resource_metrics()
    except Exception:
        return
    metrics["requests"] = stats.requests
    metrics["pages"] = stats.pages
    metrics["restarts"] = stats.restarts


def _tables(scan: Scan, converter: PageConverter, *, replace: dict[str, Any] | None = None,
            batch_rows: int = BATCH_ROWS) -> Iterator[pa.Table]:
    """Pages -> Arrow tables of about `batch_rows` rows.

    dlt spends a few milliseconds per yielded item on schema bookkeeping, so
    pages are converted and yielded in batches of several; memory stays flat.
    `replace` (hints) marks the first table so that this load replaces the table.
    """
    batch: list[dict[str, Any]] = []
    first = True

    def table() -> Any:
        nonlocal first
        converted = converter.convert(batch)
        if first and replace:
            first = False
            return dlt.mark.with_hints(converted, replace)
        first = False
        return converted

    for records in scan.pages():
        batch.extend(records)
        if len(batch) >= batch_rows:
            yield table()
            batch = []
    if batch:
        yield table()


def _make_resource(endpoint: Endpoint, client: PXClient, naming: NamingConvention, *,
                   page_size: int, initial: datetime | None) -> DltResource:
    key_column = naming.normalize_identifier(endpoint.primary_key)
    cursor_column = naming.normalize_identifier(endpoint.cursor) if endpoint.cursor else None
    incremental = bool(cursor_column and endpoint.filterable and endpoint.sortable)

    def new_converter() -> PageConverter:
        return PageConverter(endpoint, naming, _stored_columns(endpoint.name))

    # Only merge deduplicates, so a replacing load drops the dedup hint (dlt would warn).
    replace_hints = dlt.mark.make_hints(
        write_disposition="replace", columns={cursor_column: {"dedup_sort": None}} if cursor_column else None
    )
    if incremental:
        cursor_spec = dlt.sources.incremental(
            cursor_column,
            initial_value=initial,
            # Boundary rows are excluded by the server and deduplicated by merge,
            # so dlt's own per-row hashing would only cost CPU.
            primary_key=(),
            on_cursor_value_missing="include",  # never-seen users load too
        )

        def rows(cursor: dlt.sources.incremental[datetime] = cursor_spec) -> Iterator[pa.Table]:
            start_ms = to_epoch_ms(cursor.last_value)
            state = dlt.current.resource_state()
            boundary = state.get(BOUNDARY_STATE_KEY) or {}
            keys = set(boundary.get("keys") or ()) if boundary.get("cursor") == start_ms else set()
            start = Position(start_ms, keys) if start_ms is not None else None
            scan = Scan(client, endpoint, page_size=page_size, start=start)
            try:
                # No cursor and no `initial`: the scan reads the whole tenant, so this
                # load replaces the table (cheaper than merge, and drops deleted rows).
                yield from _tables(scan, new_converter(), replace=replace_hints if start is None else None)
            finally:
                _publish(scan.stats)
            end = scan.position
            state[BOUNDARY_STATE_KEY] = {
                "cursor": end.cursor,
                # Too many keys would not fit in a query; the next run then re-reads
                # the boundary rows and merge deduplicates them.
                "keys": sorted(end.keys) if len(end.keys) <= MAX_EXCLUDED_KEYS else [],
            }
    else:
        def rows() -> Iterator[pa.Table]:  # type: ignore[misc]
            scan = Scan(client, endpoint, page_size=page_size)
            try:
                yield from _tables(scan, new_converter())
            finally:
                _publish(scan.stats)

    columns: dict[str, Any] = {key_column: {"nullable": False}}
    if cursor_column:
        # Should a record appear twice in one load (a restart after it moved), keep the newest.
        columns[cursor_column] = {"dedup_sort": "desc"}
    return dlt.resource(
        rows,
        name=endpoint.name,
        table_name=endpoint.name,
        primary_key=key_column,
        write_disposition="merge",
        columns=columns,
    )


@dlt.source(name=settings.SOURCE_NAME, section=settings.SOURCE_NAME)
def gainsight_px_source(
    api_key: str = dlt.secrets.value,
    base_url: str = settings.DEFAULT_BASE_URL,
    page_size: int = settings.MAX_PAGE_SIZE,
    initial: datetime | str | None = None,
    dialect: Any = None,
) -> list[DltResource]:
    """Gainsight PX users, accounts, features, engagements and subscriptions.

    Args:
        api_key: the PX API key (`SOURCES__GAINSIGHT_PX__API_KEY` or
            `[sources.gainsight_px] api_key` in `.dlt/secrets.toml`).
        base_url: the regional API host (`SOURCES__GAINSIGHT_PX__BASE_URL`);
            US by default.
        page_size: records per request, at most the API's maximum (500).
        initial: an ISO date or time; the first load of users and accounts
            starts there instead of at the beginning of time (a datetime works too).
        dialect: the API description (`endpoints.CONTRACT` unless given).
    """
    dialect = dialect or DEFAULT_DIALECT
    if not isinstance(dialect, Dialect):
        raise ConfigError(f"dialect: expected a gainsight_px.endpoints.Dialect, got {type(dialect).__name__}")
    try:
        page_size = int(page_size)
    except (TypeError, ValueError):
        raise ConfigError(f"page_size: expected a whole number, got {page_size!r}.") from None
    if not 1 <= page_size <= dialect.max_page_size:
        raise ConfigError(f"page_size: must be between 1 and {dialect.max_page_size}, got {page_size}.")
    client = PXClient(base_url, api_key, dialect=dialect)
    naming = dlt.current.source_schema().naming
    start = parse_initial(initial)
    return [
        _make_resource(endpoint, client, naming, page_size=page_size, initial=start)
        for endpoint in listable_endpoints(dialect).values()
    ]
