"""The event views, checked against the emulator's own ground truth."""

from __future__ import annotations

import collections
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import duckdb
import pytest
from events_helpers import DATASET
from gainsight_px import marts
from gainsight_px.emulator.events import EventSpec

EVENT_VIEWS = ("active_users_daily", "feature_usage_weekly", "engagement_performance", "survey_results",
               "sessions_per_account_weekly")
RESOURCES = ("users,accounts,features,engagements,session_events,feature_match_events,"
             "engagement_view_events,survey_responses")


def _day(ms: int) -> date:
    return datetime.fromtimestamp(ms / 1000, UTC).date()


def _week(ms: int) -> date:
    d = _day(ms)
    return d - timedelta(days=d.weekday())


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def loaded(request, tmp_path_factory):
    """One published emulator with ~45 days of events, loaded once per warehouse, views created."""
    import os

    import dlt
    from events_helpers import EventLoader
    from gainsight_px.emulator import Emulator, TenantSpec
    from gainsight_px.endpoints import PUBLISHED
    from warehouses import Warehouse

    tmp = tmp_path_factory.mktemp("views")
    url = None
    if request.param == "postgres":
        server = request.getfixturevalue("postgres_server")
        url = server.url(server.create_database())
    warehouse = Warehouse.make(request.param, tmp, url)
    old = os.environ.get("DLT_DATA_DIR")
    os.environ["DLT_DATA_DIR"] = str(tmp / "dlt")
    emu = Emulator(TenantSpec(users=200, seed=9), dialect=PUBLISHED, events=EventSpec(per_day=400, days=45)).start()
    try:
        loader = EventLoader(emu, tmp, "views")
        loader.run(resources=RESOURCES, destination=warehouse.destination(),
                   initial=datetime.fromtimestamp(emu.events.start_ms / 1000, UTC).isoformat())
        pipeline = dlt.pipeline("views", pipelines_dir=str(loader.pipelines_dir),
                                destination=warehouse.destination(), dataset_name=DATASET)
        views = [v for v in marts.load_views(request.param) if v.name in EVENT_VIEWS]
        with pipeline.sql_client() as client:
            tables = {r[0] for r in client.execute_sql(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", DATASET)}
            with client.begin_transaction():
                created = marts._create_views(client.execute_sql, views, DATASET, tables,
                                              client.capabilities.escape_identifier,
                                              replace=request.param == "duckdb")
        assert sorted(created) == sorted(EVENT_VIEWS)
        yield emu, warehouse
    finally:
        emu.stop()
        if old is None:
            os.environ.pop("DLT_DATA_DIR", None)
        else:
            os.environ["DLT_DATA_DIR"] = old


def _rows(warehouse, view: str) -> list[dict]:
    rows = warehouse.query(f"SELECT * FROM {DATASET}{marts.MARTS_SUFFIX}.{view}")
    # Dates come back as dates on both; normalise the few Decimals and datetimes already done.
    return rows


def test_active_users_daily_is_exact_where_session_events_cover(loaded):
    emu, con = loaded
    users_by_day: dict[date, set[str]] = collections.defaultdict(set)
    for e in emu.events.events("session_events"):
        users_by_day[_day(e["date"])].add(e["identifyId"])
    first = min(users_by_day) + timedelta(days=1)
    rows = {r["day"]: r for r in _rows(con, "active_users_daily")}
    exact = [d for d, r in rows.items() if not r["is_lower_bound"]]
    assert exact and min(exact) == first + timedelta(days=29)
    for day, row in rows.items():
        if day < first:
            assert row["is_lower_bound"]
            continue
        assert row["dau"] == len(users_by_day.get(day, ())), day
        week = set().union(*(users_by_day.get(day - timedelta(days=i), set()) for i in range(7)))
        month = set().union(*(users_by_day.get(day - timedelta(days=i), set()) for i in range(30)))
        if day >= first + timedelta(days=6):
            assert row["wau"] == len(week), day
        if not row["is_lower_bound"]:
            assert row["mau"] == len(month), day


def test_feature_usage_weekly_counts_users_and_events_per_feature(loaded):
    emu, con = loaded
    users: dict[tuple, set] = collections.defaultdict(set)
    events: collections.Counter = collections.Counter()
    for e in emu.events.events("feature_match_events"):
        key = (_week(e["date"]), e["featureId"])
        users[key].add(e["identifyId"])
        events[key] += 1
    rows = _rows(con, "feature_usage_weekly")
    assert {(r["week"], r["feature_id"]): (r["users"], r["events"]) for r in rows} == \
        {k: (len(v), events[k]) for k, v in users.items()}
    names = {f["id"]: f["name"] for f in emu.control.records("features")}
    assert all(r["feature_name"] == names[r["feature_id"]] for r in rows)


def test_survey_results_nps_and_distribution(loaded):
    emu, con = loaded
    scores: dict[str, list[int]] = collections.defaultdict(list)
    for e in emu.events.events("survey_responses"):
        scores[e["engagementId"]].append(e["score"])
    rows = {r["engagement_id"]: r for r in _rows(con, "survey_results")}
    assert set(rows) == set(scores)
    for engagement, values in scores.items():
        row = rows[engagement]
        promoters = sum(v >= 9 for v in values)
        detractors = sum(v <= 6 for v in values)
        assert row["responses"] == len(values)
        # SQL's round() takes halves away from zero; Python's round() to the even digit (21.25 -> 21.2).
        nps = (Decimal(100 * (promoters - detractors)) / len(values)).quantize(Decimal("0.1"), ROUND_HALF_UP)
        assert float(row["nps"]) == pytest.approx(float(nps))
        assert [row[f"score_{i}"] for i in range(11)] == [values.count(i) for i in range(11)]


def test_engagement_performance_views_and_completions(loaded):
    emu, con = loaded
    views: collections.Counter = collections.Counter()
    done: collections.Counter = collections.Counter()
    for e in emu.events.events("engagement_view_events"):
        if e["engagementTrackType"] == "ENGAGEMENT_VIEW":
            views[e["engagementId"]] += 1
        if "COMPLETED" in (e.get("guideState"), e.get("carouselState"), e.get("surveyState")):
            done[e["engagementId"]] += 1
    rows = {r["engagement_id"]: r for r in _rows(con, "engagement_performance")}
    assert {k: (r["views"], r["completions"]) for k, r in rows.items()} == \
        {k: (views[k], done[k]) for k in rows}
    assert sum(done.values()) > 0 and set(views) <= set(rows)


def test_sessions_per_account_weekly(loaded):
    emu, con = loaded
    sessions: collections.Counter = collections.Counter()
    for e in emu.events.events("session_events"):
        sessions[(_week(e["date"]), e["accountId"])] += 1
    rows = _rows(con, "sessions_per_account_weekly")
    assert {(r["week"], r["account_id"]): r["sessions"] for r in rows} == dict(sessions)


def test_without_session_events_active_users_daily_falls_back_to_the_snapshot(tmp_path):
    """The contract dialect has no event streams: the view still exists, from the snapshot."""
    views = {v.name: v for v in marts.load_views()}
    fallback = views["active_users_daily"].fallback
    assert fallback is not None and "session_events" not in fallback.tables
    assert views["active_users_daily"].fallback_when == ("session_events",)
    con = duckdb.connect(str(tmp_path / "snap.duckdb"))
    con.execute(f"CREATE SCHEMA {DATASET}")
    con.execute(f"CREATE TABLE {DATASET}.users (aptrinsic_id TEXT, last_seen_date TIMESTAMPTZ, "
                "first_visit_date TIMESTAMPTZ)")
    con.execute(f"CREATE TABLE {DATASET}._dlt_loads (inserted_at TIMESTAMPTZ, status BIGINT)")
    con.execute(f"INSERT INTO {DATASET}.users VALUES ('a', now(), now() - INTERVAL 3 DAY)")
    con.execute(f"INSERT INTO {DATASET}._dlt_loads VALUES (now(), 0)")
    created = marts._create_views(con.execute, views.values(), DATASET, {"users", "_dlt_loads"},
                                  lambda s: f'"{s}"')
    assert "active_users_daily" in created
    assert not set(created) & {"feature_usage_weekly", "survey_results", "sessions_per_account_weekly"}
    assert con.execute(f"SELECT sum(dau) FROM {DATASET}_marts.active_users_daily").fetchone()[0] == 2


def test_a_published_load_creates_every_view(make_emulator, make_loader):
    """Where the published API lacks a column a view reads, the view's fallback binds instead."""
    emu = make_emulator(EventSpec(per_day=200, days=10))
    loader = make_loader(emu)
    summary = loader.run(initial=datetime.fromtimestamp(emu.events.start_ms / 1000, UTC).isoformat())
    assert set(summary.views) == {v.name for v in marts.load_views()}, summary.warnings
    # feature_adoption: users per feature from the feature match events (published features have no counts)
    users: dict[str, set] = collections.defaultdict(set)
    for e in emu.events.events("feature_match_events"):
        users[e["featureId"]].add(e["identifyId"])
    got = dict(loader.query(f"SELECT feature_id, users FROM {DATASET}_marts.feature_adoption"))
    assert got == {f["id"]: len(users.get(f["id"], ())) for f in emu.control.records("features")}
    [(nulls,)] = loader.query(f"SELECT count(*) FROM {DATASET}_marts.engagements_by_state "
                              "WHERE first_created_date IS NULL")
    assert nulls > 0
