"""Event streams (published dialect): one dlt resource per stream, read in date windows.

Each run of a stream reads `[cursor - lookback, now]` (the first run:
`[initial, now]`, `initial` defaulting to `windows.DEFAULT_INITIAL_DAYS` back)
in windows of at most 190 days (`windows.py`), each window one sorted scroll:
`filter=date>=start;date<=end`, `sort=date`, 1000 events per page.

Inside a window the scan keeps every guarantee the users scan has
(`paging.Scan`, which it extends): it stops on a short page; a scroll that
expires or breaks off restarts a new scan from the last `date` reached
(`date>=last`), skipping the event ids already yielded at that date, so no
page is skipped and no event is yielded twice, even when thousands share one
`date` and the server orders them differently in every scan. Events cannot
be filtered on `eventId`; `date` and the ids seen at the last date are enough.

The cursor is `dlt.sources.incremental("date", lag=lookback)`: dlt keeps the
highest `date` loaded, commits it only with a load package that extracted
completely, and starts the next run `lookback` seconds before it. Events that
PX ingested late (up to the lookback) arrive on the next run.

Write disposition: merge with dlt's **insert-only** strategy on `event_id`.
Events are immutable facts: an event re-read in the lookback (or after a
crash) is the same event, so it must not be inserted twice, and there is
nothing to update. insert-only adds only keys that are not in the table yet:
no delete, no update, cheaper than delete-insert on tables that only grow.
The very first load of a stream into a new table appends instead (there is
nothing to merge with, and the scan yields each event once).

Pages are fetched by a worker thread a few pages ahead (`prefetch.py`), so the
requests overlap converting and writing the previous pages.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import dlt
import pyarrow as pa
from dlt.common.normalizers.naming import NamingConvention
from dlt.extract.resource import DltResource

from gainsight_px import prefetch
from gainsight_px.client import PXClient
from gainsight_px.columns import PageConverter
from gainsight_px.endpoints import Dialect, Endpoint
from gainsight_px.errors import APIError, ConfigError, PagingError
from gainsight_px.paging import Scan
from gainsight_px.timestamps import as_ms
from gainsight_px.windows import (
    DAY_MS,
    DEFAULT_INITIAL_DAYS,
    DEFAULT_LOOKBACK_S,
    DEFAULT_WINDOW_DAYS,
    Window,
    plan,
)

log = logging.getLogger(__name__)

BATCH_ROWS = 10_000  # events per yielded Arrow table (10 pages)
PREFETCH_PAGES = 4  # pages fetched ahead of the conversion (4 x 1000 events)


class EventScan(Scan):
    """Every event of one stream with `window.start <= date <= window.end`, once.

    >>> scan = EventScan(client, PUBLISHED["session_events"], window=Window(a, b))
    >>> for events in scan.pages(): ...
    """

    def __init__(self, client: PXClient, endpoint: Endpoint, *, window: Window,
                 page_size: int | None = None, **kw: Any) -> None:
        super().__init__(client, endpoint, page_size=page_size, **kw)
        if self.cursor_field is None:
            raise ValueError(f"{endpoint.name}: not a windowed event stream")
        self.window = window
        # Highest date yielded, and the event ids yielded at it (where a restart resumes).
        self.last_date: int | None = None
        self.ids_at_last: set[str] = set()

    def first_page_params(self) -> list[tuple[str, Any]]:
        d, date = self.dialect, self.cursor_field
        low = self.window.start if self.last_date is None else self.last_date
        return [
            (d.page_size_param, self.page_size),
            (d.sort_param, d.sort(date)),
            *d.filters((d.term(date, ">=", low), d.term(date, "<=", self.window.end))),
        ]

    def _where(self) -> str:
        if self.last_date is None:
            return f"the window's start ({self.cursor_field}>={self.window.start})"
        return (f"{self.cursor_field}>={self.last_date}, skipping the {len(self.ids_at_last)} "
                "events already read at that date")

    def _emit(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        date_field, key_field = self.cursor_field, self.key_field
        dates = list(map(dict.get, records, [date_field] * len(records)))
        if not set(map(type, dates)) <= {int}:
            dates = [as_ms(v) for v in dates]
            if None in dates:
                bad = records[dates.index(None)]
                raise APIError(f"GET {self.endpoint.path}: event {key_field}={bad.get(key_field)!r} has no "
                               f"usable {date_field!r} ({bad.get(date_field)!r}).",
                               method="GET", path=self.endpoint.path)
        if not records:
            return records
        last = self.last_date
        if dates != sorted(dates) or (last is not None and dates[0] < last):
            self._ordered = False
            raise PagingError(
                f"GET {self.endpoint.path}: the server did not sort by {date_field} as asked "
                f"({self.dialect.sort(date_field)}), so events could be missed; stopping.",
                method="GET", path=self.endpoint.path)
        keys = list(map(dict.get, records, [key_field] * len(records)))
        if last is not None and dates[0] == last:
            # Re-read at the boundary after a restart: drop what was yielded already.
            seen = self.ids_at_last
            keep = [not (d == last and k in seen) for d, k in zip(dates, keys, strict=True)]
            if not all(keep):
                records = [r for r, ok in zip(records, keep, strict=True) if ok]
                dates = [d for d, ok in zip(dates, keep, strict=True) if ok]
                keys = [k for k, ok in zip(keys, keep, strict=True) if ok]
            if not records:
                return records
        top = dates[-1]
        at_top = set()
        for i in range(len(dates) - 1, -1, -1):
            if dates[i] != top:
                break
            at_top.add(keys[i])
        if top == last:
            self.ids_at_last |= at_top
        else:
            self.last_date, self.ids_at_last = top, at_top
        self.stats.records += len(records)
        return records


def _publish(stats: dict[str, int]) -> None:
    try:
        metrics = dlt.current.resource_metrics()
    except Exception:  # outside a pipeline
        return
    metrics.update(stats)


def make_event_resource(endpoint: Endpoint, client: PXClient, naming: NamingConvention, *,
                        page_size: int | None, initial: datetime | None,
                        lookback_s: float = DEFAULT_LOOKBACK_S, window_days: float = DEFAULT_WINDOW_DAYS,
                        stored_columns: Callable[[str], dict[str, str]] | None = None,
                        now: Callable[[], float] = time.time) -> DltResource:
    """The dlt resource of one event stream (see the module docstring)."""
    if not window_days > 0:
        raise ConfigError(f"event_window_days (SOURCES__GAINSIGHT_PX__EVENT_WINDOW_DAYS): days per request "
                          f"window, more than 0 and at most 190; got {window_days}.")
    key_column = naming.normalize_identifier(endpoint.primary_key)
    date_column = naming.normalize_identifier(endpoint.cursor or "date")
    limit = client.dialect.page_limit(endpoint)
    size = limit if page_size is None else min(page_size, limit)
    cursor_spec = dlt.sources.incremental(
        date_column,
        initial_value=initial,
        lag=lookback_s or None,
        # Rows come sorted from windows that start at the lagged cursor; boundary
        # duplicates are dropped by insert-only merge, so dlt's row hashing is not needed.
        primary_key=(),
        on_cursor_value_missing="raise",
    )

    def rows(cursor: dlt.sources.incremental[datetime] = cursor_spec) -> Iterator[pa.Table]:
        now_ms = int(now() * 1000)
        stored = cursor.last_value  # already lagged by dlt; None on the first run
        start_ms = None if stored is None else int(stored.timestamp() * 1000)
        initial_ms = None if initial is None else int(initial.timestamp() * 1000)
        windows = plan(cursor_ms=start_ms, lookback_ms=0, initial_ms=initial_ms, now_ms=now_ms,
                       window_ms=int(window_days * DAY_MS), default_initial_ms=DEFAULT_INITIAL_DAYS * DAY_MS)
        known = stored_columns(endpoint.name) if stored_columns else {}
        converter = PageConverter(endpoint, naming, known)
        totals = {"requests": 0, "pages": 0, "restarts": 0, "windows": len(windows)}
        # The first load of a stream by this pipeline (its schema has no such table yet, so
        # nothing was loaded and no cursor stored): the scan yields each event once into a new
        # table, so append is exact, and cheaper than a MERGE over the whole backfill (time and
        # DuckDB memory). Later runs merge.
        first_load = not known

        def scans() -> Iterator[list[dict[str, Any]]]:
            for window in windows:
                scan = EventScan(client, endpoint, window=window, page_size=size)
                try:
                    yield from scan.pages()
                finally:
                    for name in ("requests", "pages", "restarts"):
                        totals[name] += getattr(scan.stats, name)
                log.info("%s: window %s read, %d events in %d requests", endpoint.name, window,
                         scan.stats.records, scan.stats.requests)

        def table(batch: list[dict[str, Any]]) -> Any:
            nonlocal first_load
            converted = converter.convert(batch)
            if first_load:
                first_load = False
                return dlt.mark.with_hints(converted, dlt.mark.make_hints(write_disposition="append"))
            return converted

        try:
            batch: list[dict[str, Any]] = []
            for records in prefetch.ahead(scans(), depth=PREFETCH_PAGES, name="px-event-prefetch"):
                batch.extend(records)
                if len(batch) >= BATCH_ROWS:
                    yield table(batch)
                    batch = []
            if batch:
                yield table(batch)
        finally:
            _publish(totals)

    return dlt.resource(
        rows,
        name=endpoint.name,
        table_name=endpoint.name,
        primary_key=key_column,
        write_disposition={"disposition": "merge", "strategy": "insert-only"},
        columns={key_column: {"nullable": False}},
    )


def event_streams(dialect: Dialect) -> dict[str, Endpoint]:
    """The dialect's event streams (none in the contract)."""
    return {e.name: e for e in dialect.list_endpoints if e.is_event_stream}
