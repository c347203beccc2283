"""Event streams loaded from the published emulator: windows, exactly-once, incremental runs."""

from __future__ import annotations

import collections
from datetime import UTC, datetime, timedelta

import pytest
from events_helpers import DATASET, date_range, event_requests, truth_ids
from gainsight_px.emulator.events import EventSpec
from gainsight_px.endpoints import PUBLISHED
from gainsight_px.errors import AuthError
from gainsight_px.windows import DAY_MS, DEFAULT_LOOKBACK_S, MAX_SPAN_DAYS

STREAMS = [e for e in PUBLISHED.endpoints.values() if e.is_event_stream]


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def test_every_stream_loads_every_event_once_from_its_own_response_key(make_emulator, make_loader):
    emu = make_emulator(EventSpec(per_day=150, days=20))
    loader = make_loader(emu)
    summary = loader.run(resources=",".join(e.name for e in STREAMS),
                         initial=_iso(emu.events.start_ms - DAY_MS))
    assert len(STREAMS) == 11
    for ep in STREAMS:
        ids = loader.ids(ep.name)
        assert ids, ep.name
        assert len(ids) == len(set(ids)) and set(ids) == truth_ids(emu, ep.name), ep.name
        assert summary.rows[ep.name] == len(ids)
        # What the emulator answered: the stream's own key and nothing under another.
        assert event_requests(emu, ep.path)
    keys = {ep.name: ep.response_key for ep in STREAMS}
    assert keys["session_events"] == "sessionInitializedEvents"
    assert keys["segment_match_events"] == keys["feature_match_events"] == "featureMatchEvents"
    assert keys["identify_events"] == "identifyEvents" and keys["custom_events"] == "customEvents"
    # globalContext and attributes keys are columns; date is a timestamp.
    types = dict(loader.query("SELECT column_name, data_type FROM information_schema.columns "
                              "WHERE table_schema = ? AND table_name = 'custom_events'", [DATASET]))
    assert types["date"] == "TIMESTAMP WITH TIME ZONE"
    assert "global_context__app_version" in types and "attributes__plan" in types


def test_a_backfill_is_cut_into_windows_of_at_most_190_days_and_loads_each_event_once(make_emulator, make_loader):
    emu = make_emulator(EventSpec.only("session_events", total=4000, days=420))
    loader = make_loader(emu)
    initial = emu.events.start_ms
    loader.run(resources="session_events", initial=_iso(initial), event_window_days=MAX_SPAN_DAYS)

    ranges = [r for r in map(date_range, event_requests(emu, "/events/session")) if r]
    assert len(ranges) == 3  # 420+ days: three windows
    assert ranges[0][0] == initial
    for (_, a_end), (b_start, _) in zip(ranges, ranges[1:], strict=False):
        assert b_start == a_end + 1  # adjacent, no gap, no overlap
    assert all(end - start < MAX_SPAN_DAYS * DAY_MS for start, end in ranges)
    ids = loader.ids("session_events")
    assert len(ids) == len(set(ids))
    assert set(ids) == truth_ids(emu, "session_events")
    # Every request came back 200: none was over the limit.
    assert {r["status"] for r in event_requests(emu, "/events/session")} == {200}


def test_the_emulator_refuses_more_than_190_days(make_emulator):
    import requests

    emu = make_emulator()
    now = emu.events.end_ms
    answer = requests.get(emu.base_url + "/events/session", timeout=10,
                          headers={PUBLISHED.api_key_header: "px-emulator-key"},
                          params={"filter": f"date>={now - 191 * DAY_MS};date<={now}"})
    assert answer.status_code == 400 and "Exceeded date range190days" in answer.text
    # No date filter: the last day only.
    answer = requests.get(emu.base_url + "/events/session", timeout=10,
                          headers={PUBLISHED.api_key_header: "px-emulator-key"}, params={"pageSize": 1000})
    dates = [e["date"] for e in answer.json()["sessionInitializedEvents"]]
    assert dates and min(dates) >= emu.clock_ms() - DAY_MS - 1000


def test_a_second_run_reads_only_from_the_cursor_minus_the_lookback(make_emulator, make_loader):
    emu = make_emulator(EventSpec.only("feature_match_events", total=3000, days=30))
    loader = make_loader(emu)
    loader.run(resources="feature_match_events", initial=_iso(emu.events.start_ms))
    cursor = max(e["date"] for e in emu.events.events("feature_match_events"))
    # New events after the first run (dated after the history, before the second run).
    new = emu.events.add("feature_match_events", count=40, date=emu.events.end_ms + 1)
    emu.control.reset_log()

    summary = loader.run(resources="feature_match_events")
    ranges = [r for r in map(date_range, event_requests(emu, "/events/feature_match")) if r]
    assert len(ranges) == 1
    assert ranges[0][0] == cursor - DEFAULT_LOOKBACK_S * 1000
    # Rows fetched: the new ones plus what lies in the lookback; the table has each once.
    in_lookback = len(truth_ids(emu, "feature_match_events", cursor - DEFAULT_LOOKBACK_S * 1000))
    assert summary.rows["feature_match_events"] == in_lookback
    ids = loader.ids("feature_match_events")
    assert len(ids) == len(set(ids)) and set(ids) == truth_ids(emu, "feature_match_events")
    assert {e["eventId"] for e in new} <= set(ids)


def test_a_late_back_dated_event_inside_the_lookback_arrives_on_the_next_run(make_emulator, make_loader):
    emu = make_emulator(EventSpec.only("session_events", total=500, days=10))
    loader = make_loader(emu)
    loader.run(resources="session_events", initial=_iso(emu.events.start_ms))
    cursor = max(e["date"] for e in emu.events.events("session_events"))
    # PX ingested these late: dated before the cursor, inside (and outside) the lookback.
    late = emu.events.add("session_events", count=2, date=cursor - 3600_000)
    too_late = emu.events.add("session_events", count=1, date=cursor - DEFAULT_LOOKBACK_S * 1000 - 3600_000)
    loader.run(resources="session_events")
    ids = set(loader.ids("session_events"))
    assert {e["eventId"] for e in late} <= ids
    # Older than the lookback: by design not re-read (a longer lookback, or a backfill, gets it).
    assert not {e["eventId"] for e in too_late} & ids
    loader.run(resources="session_events", event_lookback_s=DEFAULT_LOOKBACK_S + 2 * 3600)
    assert {e["eventId"] for e in too_late} <= set(loader.ids("session_events"))


def test_a_crash_mid_backfill_then_a_rerun_gives_the_clean_result(make_emulator, make_loader):
    emu = make_emulator(EventSpec.only("page_view_events", total=6000, days=100))
    loader = make_loader(emu)
    # The 5th request of the backfill (mid-window, mid-scroll) fails for good.
    emu.control.inject("slow", count=4, path="/v1/events/pageView", seconds=0)
    emu.control.inject("empty_403", path="/v1/events/pageView")
    with pytest.raises(AuthError):
        loader.run(resources="page_view_events", initial=_iso(emu.events.start_ms), page_size=500)
    loader.run(resources="page_view_events", initial=_iso(emu.events.start_ms), page_size=500)
    ids = loader.ids("page_view_events")
    assert len(ids) == len(set(ids)) and set(ids) == truth_ids(emu, "page_view_events")
    # And a third run changes nothing but the lookback's re-read.
    loader.run(resources="page_view_events")
    assert collections.Counter(loader.ids("page_view_events")).most_common(1)[0][1] == 1


def test_first_run_without_initial_reads_the_default_30_days(make_emulator, make_loader):
    emu = make_emulator(EventSpec.only("lead_events", total=900, days=90))
    loader = make_loader(emu)
    loader.run(resources="lead_events")
    ranges = [r for r in map(date_range, event_requests(emu, "/events/lead")) if r]
    first = ranges[0][0]
    assert abs(first - (ranges[-1][1] - 30 * DAY_MS)) < 1
    start = datetime.fromtimestamp(first / 1000, UTC)
    assert timedelta(days=29) < datetime.now(UTC) - start < timedelta(days=31)
    assert set(loader.ids("lead_events")) == truth_ids(emu, "lead_events", first)


def test_a_reconcile_keeps_the_event_history_and_its_cursor(make_emulator, make_loader):
    emu = make_emulator(EventSpec.only("session_events", total=2000, days=60))
    loader = make_loader(emu)
    loader.run(resources="users,session_events", initial=_iso(emu.events.start_ms))
    before = set(loader.ids("session_events"))
    emu.control.reset_log()
    loader.run(resources="users,session_events", full_refresh=True)
    # Events never change: the reconcile reads from the cursor, not 30 days or the whole history again.
    ranges = [r for r in map(date_range, event_requests(emu, "/events/session")) if r]
    assert len(ranges) == 1 and ranges[0][0] >= max(e["date"] for e in emu.events.events("session_events")) \
        - DEFAULT_LOOKBACK_S * 1000
    assert set(loader.ids("session_events")) == before == truth_ids(emu, "session_events")


def test_a_bad_lookback_or_window_is_a_config_error_naming_the_setting(make_emulator, make_loader):
    from gainsight_px.errors import ConfigError

    emu = make_emulator(EventSpec.only("lead_events", total=50, days=5))
    loader = make_loader(emu)
    with pytest.raises(ConfigError, match="SOURCES__GAINSIGHT_PX__EVENT_LOOKBACK_S"):
        loader.run(resources="lead_events", event_lookback_s=-1)
    with pytest.raises(ConfigError, match="SOURCES__GAINSIGHT_PX__EVENT_WINDOW_DAYS"):
        loader.run(resources="lead_events", event_window_days=0)
    assert not event_requests(emu, "/events/lead")  # refused before any request
