"""The lookback window behind a cursor, and how a run tells in one request that nothing changed.

PX stamps activity asynchronously, so a record can arrive with a cursor value
(lastSeenDate) older than the newest one already loaded. An incremental run
of users or accounts therefore re-reads `lookback_s` (default 3600 s) behind
its cursor, and merge removes the overlap.

Re-reading that window on a run where nothing changed would cost its pages on
every idle run (and a crowd of records tied at the cursor value is such a
window even without a lookback). So each run leaves, next to its cursor, how
many records it saw in the window [cursor - lookback, now + clock skew]. The
next run first asks the server for that count and the highest value in the
window (`paging.window_count`: one request for one record, sorted descending):

- the same count, and the newest value is the cursor itself: nothing changed,
  the run ends (a server that ignored the sort shows an older value first);
- anything else (a record arrived late inside the window, one moved past the
  cursor, one was deleted): the run re-reads from the window's start.

A change that leaves both figures as they were (a deletion and a late arrival
in the same window between two runs, or a later stamp on a record already in
the window, still behind the cursor) waits for the next run that sees any
change, and that run re-reads the window: delayed, never lost. A value beyond
now + `MAX_CLOCK_SKEW_MS` (a poisoned record) is outside the window on both
sides, so it does not make every run look changed. A window of
`MAX_TRUSTED_COUNT` records or more is always re-read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from gainsight_px.client import PXClient
from gainsight_px.endpoints import Endpoint
from gainsight_px.errors import ConfigError
from gainsight_px.paging import MAX_CLOCK_SKEW_MS, ScanStats, window_count
from gainsight_px.timestamps import now_ms

# Users and accounts: seconds re-read behind the cursor. PX's event pipeline is
# asynchronous and its delays are not published; an hour covers the delays seen
# in practice with room, and costs each run only the records active in that hour.
DEFAULT_RECORD_LOOKBACK_S = 3600.0
# Search backends often report totals only up to 10,000; from there a count proves nothing, so a
# window that full is read again (a tenant that active is never idle anyway).
MAX_TRUSTED_COUNT = 10_000


def lookback_seconds(value: Any, setting: str) -> float:
    """A lookback setting (`lookback_s`, `event_lookback_s`) as seconds, 0 or more; anything else is
    a ConfigError naming the setting."""
    try:
        seconds = float(value or 0)
    except (TypeError, ValueError):
        seconds = -1.0
    if not seconds >= 0:
        raise ConfigError(f"{setting} (SOURCES__GAINSIGHT_PX__{setting.upper()}): seconds to re-read "
                          f"behind the cursor, 0 or more; got {value!r}.")
    return seconds


@dataclass
class WindowTally:
    """The records a run yielded in the lookback window behind the highest cursor value it saw.

    Fed every Arrow table the resource yields (of every scan of the run); keyed,
    so a record sent twice or found by two scans counts once.
    """

    key_column: str
    cursor_column: str
    lag_ms: int
    values: dict[Any, int] = field(default_factory=dict)  # key -> highest cursor value, in the window
    top: int | None = None

    def add(self, item: Any) -> None:
        table = getattr(item, "data", item)  # the first table may come wrapped in dlt hints
        if not isinstance(table, pa.Table) or self.cursor_column not in table.column_names:
            return
        try:
            column = table[self.cursor_column]
            if pa.types.is_timestamp(column.type):
                column = pc.cast(column, pa.timestamp("ms", tz=column.type.tz))
            ms = pc.cast(column, pa.int64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return
        sane = pc.less_equal(ms, now_ms() + MAX_CLOCK_SKEW_MS)  # null where the value is null
        ms = pc.filter(ms, sane)
        if not len(ms):
            return
        top = pc.max(ms).as_py()
        if self.top is None or top > self.top:
            self.top = top
            low = top - self.lag_ms
            self.values = {k: v for k, v in self.values.items() if v >= low}
        low = self.top - self.lag_ms
        inside = pc.greater_equal(ms, low)
        keys = pc.filter(pc.filter(table[self.key_column], sane), inside).to_pylist()
        for key, value in zip(keys, pc.filter(ms, inside).to_pylist(), strict=True):
            if value > self.values.get(key, value - 1):
                self.values[key] = value

    def record(self, cursor_ms: int | None) -> dict[str, int] | None:
        """What the next run compares against: the count in the window behind `cursor_ms`."""
        if cursor_ms is None:
            return None
        low = cursor_ms - self.lag_ms
        return {"lag_ms": self.lag_ms, "count": sum(1 for v in self.values.values() if v >= low)}


def unchanged(client: PXClient, endpoint: Endpoint, cursor_field: str, cursor_ms: int,
              window: Any, lag_ms: int, stats: ScanStats) -> bool:
    """True when the server's window behind `cursor_ms` holds what the last run left there."""
    if not isinstance(window, dict) or window.get("lag_ms") != lag_ms or type(window.get("count")) is not int:
        return False  # no record of it (an older state, another lookback): read the window
    if window["count"] >= MAX_TRUSTED_COUNT:
        return False
    total, top = window_count(client, endpoint, cursor_field, cursor_ms - lag_ms,
                              now_ms() + MAX_CLOCK_SKEW_MS, stats)
    # The newest value must be the cursor itself: higher, a record moved past it; lower, the records
    # at the cursor moved or went, or the server ignored the descending sort.
    return total == window["count"] and (top == cursor_ms if total else top is None)
