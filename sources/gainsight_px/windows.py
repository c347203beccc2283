"""Date windows for PX's historical event reads (pure logic, no HTTP).

PX answers an event request for at most 190 days ("Exceeded date range190days"
otherwise) and, with no date filter, for the last day only. A run therefore
reads `[cursor - lookback, now]` (or `[initial, now]` on the first run) as a
list of windows, each at most `max_span` long, and by default much shorter
(`DEFAULT_WINDOW_DAYS`): a short window is a short scroll, so an expired
scroll or a crash costs little to redo, and dlt state can advance window by
window. Windows are inclusive at both ends in epoch milliseconds, adjacent
without overlap (`next.start == previous.end + 1`), and split evenly, so there
is never a sliver of a last window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gainsight_px.timestamps import ms_to_datetime

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
MAX_SPAN_DAYS = 190  # PX's published maximum date range per request
# One window per 30 days: a scroll of a month of events, ~7 windows for 190 days.
DEFAULT_WINDOW_DAYS = 30
# First run of an event stream with no `initial`: a month of history.
DEFAULT_INITIAL_DAYS = 30
# Re-read this much before the stored cursor on every run. PX ingests events
# asynchronously (client SDKs batch and retry, the pipeline processes in the
# background), so an event can become visible well after its `date`; minutes are
# too short in practice. Three hours covers ordinary delays for ~0.3% more rows
# per daily run; raise it if your tenant's events arrive later.
DEFAULT_LOOKBACK_S = 3 * 3600


@dataclass(frozen=True)
class Window:
    """`start <= date <= end`, epoch milliseconds."""

    start: int
    end: int

    @property
    def span_ms(self) -> int:
        return self.end - self.start

    def __str__(self) -> str:
        def iso(ms: int) -> str:
            return ms_to_datetime(ms).isoformat(timespec="seconds").replace("+00:00", "Z")

        return f"{iso(self.start)}..{iso(self.end)}"


def read_range(*, cursor_ms: int | None, lookback_ms: int, initial_ms: int | None, now_ms: int,
               default_initial_ms: int = DEFAULT_INITIAL_DAYS * DAY_MS) -> Window | None:
    """What one run reads: from the stored cursor minus the lookback, else from
    `initial` (else `default_initial_ms` before now), up to `now`. None when empty.

    The lookback never reaches before `initial`: what was never asked for is not
    re-read either.
    """
    if lookback_ms < 0:
        raise ValueError(f"lookback must not be negative, got {lookback_ms} ms")
    first = initial_ms if initial_ms is not None else now_ms - default_initial_ms
    if cursor_ms is None:
        start = first
    else:
        start = cursor_ms - lookback_ms
        if initial_ms is not None:
            start = max(start, initial_ms)
    if start > now_ms:
        return None
    return Window(start, now_ms)


def split(whole: Window, *, window_ms: int = DEFAULT_WINDOW_DAYS * DAY_MS,
          max_span_ms: int = MAX_SPAN_DAYS * DAY_MS) -> list[Window]:
    """`whole` cut into equal adjacent windows of at most `min(window_ms, max_span_ms)`.

    A window's span (`end - start`) is what PX checks against its limit, so each
    span is kept strictly under `max_span_ms`.
    """
    if window_ms <= 0 or max_span_ms <= 0:
        raise ValueError("window and maximum span must be positive")
    size = min(window_ms, max_span_ms)  # ms covered per window; span = size - 1
    total = whole.end - whole.start + 1  # ms covered, both ends inclusive
    if total <= 0:
        return []
    count = math.ceil(total / size)
    step, extra = divmod(total, count)  # the first `extra` windows get one ms more
    out = []
    start = whole.start
    for i in range(count):
        length = step + (1 if i < extra else 0)
        out.append(Window(start, start + length - 1))
        start += length
    return out


def plan(*, cursor_ms: int | None, lookback_ms: int, initial_ms: int | None, now_ms: int,
         window_ms: int = DEFAULT_WINDOW_DAYS * DAY_MS, max_span_ms: int = MAX_SPAN_DAYS * DAY_MS,
         default_initial_ms: int = DEFAULT_INITIAL_DAYS * DAY_MS) -> list[Window]:
    """The windows one run reads, oldest first (`read_range` then `split`)."""
    whole = read_range(cursor_ms=cursor_ms, lookback_ms=lookback_ms, initial_ms=initial_ms,
                       now_ms=now_ms, default_initial_ms=default_initial_ms)
    return [] if whole is None else split(whole, window_ms=window_ms, max_span_ms=max_span_ms)
