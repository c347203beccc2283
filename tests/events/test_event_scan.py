"""The event scan inside one window: restarts on scroll expiry, ties at one date, ordering checks."""

from __future__ import annotations

import collections

import pytest
from events_helpers import date_range, event_requests, truth_ids
from gainsight_px.client import PXClient
from gainsight_px.emulator.events import EventSpec
from gainsight_px.endpoints import PUBLISHED
from gainsight_px.event_source import EventScan
from gainsight_px.settings import EMULATOR_API_KEY
from gainsight_px.windows import Window


def _scan(emu, stream: str, window: Window, page_size: int = 1000) -> EventScan:
    client = PXClient(emu.base_url, EMULATOR_API_KEY, dialect=PUBLISHED)
    return EventScan(client, PUBLISHED[stream], window=window, page_size=page_size)


def _whole(emu) -> Window:
    return Window(emu.events.start_ms, emu.events.end_ms)


def test_a_scroll_that_expires_mid_window_restarts_from_the_last_date(make_emulator):
    emu = make_emulator(EventSpec.only("page_view_events", total=5000, days=20))
    scan = _scan(emu, "page_view_events", _whole(emu), page_size=300)
    got: list[str] = []
    last_before = None
    for i, page in enumerate(scan.pages()):
        got += [e["eventId"] for e in page]
        if i == 3:
            last_before = scan.last_date
            emu.control.expire_scrolls()
    assert scan.stats.restarts == 1
    assert collections.Counter(got).most_common(1)[0][1] == 1
    assert set(got) == truth_ids(emu, "page_view_events")
    # The new scan asked from the last date reached, not from the window's start.
    starts = [r[0] for r in map(date_range, event_requests(emu, "/events/pageView")) if r]
    assert starts == [emu.events.start_ms, last_before]


@pytest.mark.parametrize("expire_after", [None, 1, 3])
def test_5000_events_sharing_one_date_across_page_boundaries(make_emulator, expire_after):
    emu = make_emulator(EventSpec.only("custom_events", total=3000, days=10))
    crowd_date = emu.events.start_ms + 5 * 86_400_000 + 12_345
    crowd = emu.events.add("custom_events", count=5000, date=crowd_date)
    scan = _scan(emu, "custom_events", _whole(emu), page_size=1000)
    got: list[str] = []
    crowd_pages = 0
    for page in scan.pages():
        got += [e["eventId"] for e in page]
        if any(e["date"] == crowd_date for e in page):
            crowd_pages += 1
            if expire_after is not None and crowd_pages == expire_after:
                # Mid-crowd: the new scan starts at date>=crowd_date and, in this emulator,
                # sends the crowd in another order; the ids already read are skipped.
                emu.control.expire_scrolls()
    assert collections.Counter(got).most_common(1)[0][1] == 1
    assert set(got) == truth_ids(emu, "custom_events")
    assert {e["eventId"] for e in crowd} <= set(got)
    assert scan.stats.restarts == (0 if expire_after is None else 1)


def test_a_server_that_ignores_the_sort_is_refused(make_emulator):
    from gainsight_px.errors import PagingError

    emu = make_emulator(EventSpec.only("session_events", total=3000, days=10))
    scan = _scan(emu, "session_events", _whole(emu), page_size=500)
    scan.first_page_params = lambda: [("pageSize", 500), ("sort", "-date"),  # type: ignore[method-assign]
                                      ("filter", f"date>={emu.events.start_ms};date<={emu.events.end_ms}")]
    with pytest.raises(PagingError, match="did not sort by date"):
        list(scan.pages())


def test_requests_stay_within_the_page_limit(make_emulator):
    emu = make_emulator(EventSpec.only("identify_events", total=2500, days=10))
    scan = _scan(emu, "identify_events", _whole(emu), page_size=1000)
    total = sum(len(p) for p in scan.pages())
    sizes = {int(r["query"]["pageSize"][0]) for r in event_requests(emu, "/events/identify")}
    assert sizes == {1000}
    assert total == len(truth_ids(emu, "identify_events"))
    assert scan.stats.requests == -(-total // 1000) + (1 if total % 1000 == 0 else 0)
    with pytest.raises(ValueError):
        _scan(emu, "identify_events", _whole(emu), page_size=1001)
