"""Date windows: what a run reads and how it is cut (pure logic)."""

from __future__ import annotations

import random

import pytest
from gainsight_px.windows import DAY_MS, MAX_SPAN_DAYS, Window, plan, read_range, split

NOW = 1_764_547_200_000  # 2025-12-01T00:00:00Z
MAX = MAX_SPAN_DAYS * DAY_MS


def test_first_run_starts_at_initial_or_the_default():
    assert read_range(cursor_ms=None, lookback_ms=3_600_000, initial_ms=NOW - 5 * DAY_MS, now_ms=NOW) == \
        Window(NOW - 5 * DAY_MS, NOW)
    assert read_range(cursor_ms=None, lookback_ms=0, initial_ms=None, now_ms=NOW) == Window(NOW - 30 * DAY_MS, NOW)


def test_later_runs_start_a_lookback_before_the_cursor_but_never_before_initial():
    cursor = NOW - DAY_MS
    assert read_range(cursor_ms=cursor, lookback_ms=3_600_000, initial_ms=None, now_ms=NOW).start == cursor - 3_600_000
    assert read_range(cursor_ms=cursor, lookback_ms=10 * DAY_MS, initial_ms=NOW - 2 * DAY_MS,
                      now_ms=NOW).start == NOW - 2 * DAY_MS
    assert read_range(cursor_ms=NOW + 5 * 3_600_000, lookback_ms=3_600_000, initial_ms=None, now_ms=NOW) is None
    with pytest.raises(ValueError):
        read_range(cursor_ms=cursor, lookback_ms=-1, initial_ms=None, now_ms=NOW)


@pytest.mark.parametrize("days", [0.001, 1, 30, 189, 190, 191, 380, 381, 1000, 1066.7])
def test_split_covers_exactly_without_overlap_and_respects_the_limit(days):
    whole = Window(NOW - int(days * DAY_MS), NOW)
    for window_ms in (MAX, 30 * DAY_MS, 7 * DAY_MS):
        windows = split(whole, window_ms=window_ms)
        assert windows[0].start == whole.start and windows[-1].end == whole.end
        for a, b in zip(windows, windows[1:], strict=False):
            assert b.start == a.end + 1
        assert all(w.span_ms < MAX and w.span_ms < window_ms for w in windows)
        # Even split: no sliver at the end.
        assert max(w.span_ms for w in windows) - min(w.span_ms for w in windows) <= 1


def test_split_counts():
    assert len(split(Window(0, MAX - 1), window_ms=MAX)) == 1  # 190 days exactly: one request range
    assert len(split(Window(0, MAX), window_ms=MAX)) == 2  # one ms more: two
    assert len(plan(cursor_ms=None, lookback_ms=0, initial_ms=NOW - 400 * DAY_MS, now_ms=NOW,
                    window_ms=MAX)) == 3
    assert len(plan(cursor_ms=None, lookback_ms=0, initial_ms=NOW - 90 * DAY_MS, now_ms=NOW)) == 4  # 30-day default
    assert split(Window(5, 4)) == []


def test_split_random_ranges():
    rng = random.Random(7)
    for _ in range(300):
        start = rng.randrange(0, NOW)
        whole = Window(start, start + rng.randrange(0, 3000 * DAY_MS))
        size = rng.randrange(1, 2 * MAX)
        windows = split(whole, window_ms=size)
        assert sum(w.end - w.start + 1 for w in windows) == whole.end - whole.start + 1
        assert all(w.end - w.start + 1 <= min(size, MAX) for w in windows)
