"""429 storms, 5xx bursts and broken answers during a push: absorbed, nothing lost, nothing twice."""

from __future__ import annotations

from collections import Counter

import pytest
from gainsight_px.push import push_csv
from push_helpers import PushHarness

ROWS = 40


@pytest.fixture
def px(px_any: PushHarness) -> PushHarness:
    """Every test here holds in both dialects."""
    return px_any


def events_path(px: PushHarness) -> str:
    dialect = px.emulator.dialect
    return "/v1" + dialect[dialect.events_endpoint].path


def failed_writes(px: PushHarness) -> int:
    """Write answers >= 400, the published upsert's "not found, create it" excepted."""
    dialect = px.emulator.dialect
    return sum(1 for w in px.writes("users") if w["status"] >= 400
               and not (w["method"] == dialect["users"].update_method and w["status"] == dialect.not_found_status))


def users_file(px: PushHarness, rows: int = ROWS) -> list[str]:
    keys = [f"f-{i:03d}" for i in range(rows)]
    px.csv("users.csv", ["identifyId", "customAttributes.n"], [[k, i] for i, k in enumerate(keys)])
    return keys


def assert_each_user_stored_once(px: PushHarness, keys: list[str]) -> None:
    accepted = Counter(w["key"] for w in px.writes("users", ok=True))
    assert accepted == Counter(keys)  # every row accepted exactly once
    stored = {u["identifyId"]: u for u in px.control.records("users")}
    assert all(stored[k]["customAttributes"]["n"] == i for i, k in enumerate(keys))


@pytest.mark.parametrize("faults", [
    pytest.param([("429", 30, {"retry_after": True, "seconds": 1})], id="429-storm-with-retry-after"),
    pytest.param([("429", 30, {"retry_after": False})], id="429-storm-without-retry-after"),
    pytest.param([("500", 4, {}), ("502", 4, {}), ("503", 4, {}), ("504", 4, {}), ("html_502", 3, {})],
                 id="5xx-bursts"),
    pytest.param([("reset", 5, {}), ("truncate", 5, {})], id="broken-answers"),
])
def test_faults_are_absorbed_and_every_row_lands_once(px: PushHarness, faults: list) -> None:
    keys = users_file(px)
    for kind, count, params in faults:
        px.control.inject(kind, count=count, path="/v1/users", **params)
    run = px.push("users", px.workdir / "users.csv")

    assert run.code == 0, run.out + run.err
    assert_each_user_stored_once(px, keys)
    assert px.control.faults() == []  # every injected fault was met
    failed = failed_writes(px)
    if faults[0][0] == "429":
        assert run.count("retried") == failed == 30
        assert "429s: 30" in run.out
    elif faults[0][0] == "500":
        assert run.count("retried") == failed == 19
    assert px.pending() == 0


def test_broken_answers_after_a_2xx_status_do_not_duplicate_events(px: PushHarness) -> None:
    rows = [[f"u-{i:06d}", "opened", f"2024-05-01T00:00:{i:02d}Z"] for i in range(20)]
    path = px.csv("events.csv", ["identifyId", "eventName", "date"], rows)
    px.control.inject("reset", count=4, path=events_path(px))
    px.control.inject("truncate", count=4, path=events_path(px))
    summary = push_csv(path, "events")
    assert summary.exit_code == 0
    # The status line arrived before the body broke: delivered, not resent.
    assert summary.lost_answers == 0
    assert len(px.control.events()) == 20


def test_429s_slow_the_client_down_and_the_push_still_completes(px: PushHarness) -> None:
    """Ask for 4x the server's limit: the client backs off until it fits, and nothing is lost."""
    px.control.set_rate_limit(50.0, retry_after=False)  # the server's bucket holds a 50-request burst
    keys = users_file(px, 150)
    summary = push_csv(px.workdir / "users.csv", "users", rate=160, concurrency=8)
    assert summary.exit_code == 0 and summary.throttled > 0
    assert summary.retried >= summary.throttled
    assert_each_user_stored_once(px, keys)


def test_api_rejections_are_not_retried(px: PushHarness) -> None:
    path = px.csv("users.csv", ["identifyId", "title"], [["ghost-1", "x"], ["ghost-2", "y"]])
    run = px.push("users", path, "--mode", "update")
    assert run.code == 2 and run.count("retried") == 0
    assert len(px.writes("users")) == 2  # one attempt each
    assert sorted(s for _, s, _ in px.ledger_rows()) == ["rejected", "rejected"]


def test_read_timeouts_are_retried_and_reported_as_possible_event_duplicates(px: PushHarness) -> None:
    """A timed-out request may still be applied: users converge, events are counted as lost answers."""
    rows = [[f"u-{i:06d}", "opened", f"2024-05-01T00:00:{i:02d}Z"] for i in range(20)]
    path = px.csv("events.csv", ["identifyId", "eventName", "date"], rows)
    px.control.inject("slow", count=3, path=events_path(px), seconds=1.0)
    run = px.push("events", path, "--timeout", "0.3")
    assert run.code == 0, run.out + run.err
    lost = run.count("lost answers")
    assert lost == 3 and run.count("retried") >= 3
    px.settle()  # the timed-out requests finish on the server after the client gave up
    assert len(px.control.events()) == 20 + lost  # at-least-once, and every possible duplicate reported

    keys = users_file(px)
    px.control.inject("slow", count=3, path="/v1/users", seconds=1.0)
    assert px.push("users", px.workdir / "users.csv", "--timeout", "0.3").code == 0
    px.settle()
    stored = {u["identifyId"]: u for u in px.control.records("users")}
    assert all(stored[k]["customAttributes"]["n"] == i for i, k in enumerate(keys))
