"""kill -9 and Ctrl-C in the middle of a push (a real subprocess), then the same command again.

Custom events are the strict case: PX does not de-duplicate them. Every request
is slowed down by the emulator ("slow" faults) so that requests are in flight
at the moment of the signal; the kill happens once enough events have arrived.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter

import pytest
from push_helpers import PushHarness, summary_count

CONCURRENCY = 6
DISTINCT = 90
TWINS = (5, 7)  # rows repeated verbatim: each copy is an event of its own


def events_file(px: PushHarness) -> Counter[tuple]:
    """Write events.csv; return how many events each distinct content must produce."""
    rows = [[f"u-{i % 50:06d}", "report_viewed", f"2024-05-01T00:{i // 60:02d}:{i % 60:02d}Z", str(i)]
            for i in range(DISTINCT)]
    rows += [rows[i] for i in TWINS] * 2  # three copies of rows 5 and 7
    px.csv("events.csv", ["identifyId", "eventName", "date", "attributes.seq"], rows)
    return Counter(event_identity(r[0], int(r[3])) for r in rows)


def event_identity(identify_id: str, seq: int) -> tuple:
    return identify_id, seq


def received(px: PushHarness) -> Counter[tuple]:
    return Counter(event_identity(e["identifyId"], e["attributes"]["seq"]) for e in px.control.events())


def slow_down_server(px: PushHarness) -> None:
    px.control.inject("slow", count=100_000, path="/v1/custom_events", seconds=0.15)


def start_push(px: PushHarness):
    return px.start("events", "events.csv", "--concurrency", CONCURRENCY, "--rate", 1000)


def test_kill_9_twice_then_rerun_loses_nothing_and_duplicates_at_most_the_in_flight(px: PushHarness) -> None:
    expected = events_file(px)
    in_flight_at_kills = []
    for stop_after in (20, 50):
        slow_down_server(px)
        proc = start_push(px)
        px.wait_for(lambda n=stop_after: len(px.control.events()) >= n, proc=proc)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL
        px.control.clear_faults()
        px.settle()  # the killed client's last requests reach the store
        in_flight_at_kills.append(px.pending())  # rows the ledger had in flight when the process died
        assert 0 < in_flight_at_kills[-1] <= CONCURRENCY

    run = px.push("events", "events.csv")
    assert run.code == 0, run.out + run.err
    assert run.count("in doubt") == in_flight_at_kills[-1]
    got = received(px)
    assert set(got) == set(expected)  # no row lost
    assert all(got[k] >= n for k, n in expected.items())
    duplicates = sum(got.values()) - sum(expected.values())
    assert 0 <= duplicates <= sum(in_flight_at_kills)
    assert px.pending() == 0

    px.control.reset_log()
    assert px.push("events", "events.csv").code == 0
    assert px.control.requests() == []  # everything is in the ledger now


def test_ctrl_c_finishes_in_flight_requests_and_the_rerun_sends_the_rest_once(px: PushHarness) -> None:
    expected = events_file(px)
    slow_down_server(px)
    proc = start_push(px)
    px.wait_for(lambda: len(px.control.events()) >= 25, proc=proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)

    assert proc.returncode == 130, out + err
    assert "Ctrl-C: finishing" in err and "interrupted: rerun the same command" in out
    assert px.pending() == 0  # nothing left in doubt
    px.control.clear_faults()
    sent_before_rerun = len(px.control.events())
    assert 0 < sent_before_rerun < sum(expected.values())

    run = px.push("events", "events.csv")
    assert run.code == 0 and run.count("in doubt") == 0
    assert received(px) == expected  # exactly once each, twins included


@pytest.mark.parametrize("entity", ["users"])
def test_kill_9_during_a_users_push_resends_in_doubt_rows_idempotently(px_any: PushHarness, entity: str) -> None:
    px = px_any  # both dialects: the published upsert is two requests (PUT, then POST)
    keys = [f"k9-{i:03d}" for i in range(60)]
    px.csv("users.csv", ["identifyId", "customAttributes.n"], [[k, i] for i, k in enumerate(keys)])
    px.control.inject("slow", count=100_000, path="/v1/users", seconds=0.15)
    proc = px.start(entity, "users.csv", "--concurrency", CONCURRENCY)
    px.wait_for(lambda: len(px.writes("users")) >= 15, proc=proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    px.control.clear_faults()
    px.settle()
    pending = px.pending()

    run = px.push(entity, "users.csv")
    assert run.code == 0 and run.count("in doubt") == pending > 0
    stored = {u["identifyId"]: u["customAttributes"]["n"] for u in px.control.records("users")
              if u["identifyId"].startswith("k9-")}
    assert stored == {k: i for i, k in enumerate(keys)}


def test_second_ctrl_c_abandons_in_flight_rows_and_the_rerun_reports_them(px: PushHarness) -> None:
    expected = events_file(px)
    px.control.inject("slow", count=100_000, path="/v1/custom_events", seconds=3)
    proc = start_push(px)
    px.wait_for(lambda: px.pending() > 0, proc=proc)  # requests are out, each held for 3 s
    proc.send_signal(signal.SIGINT)
    time.sleep(0.5)  # let the first Ctrl-C be handled: two signals at once would merge into one
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)

    assert proc.returncode == 130, out + err
    abandoned = px.pending()
    assert 0 < abandoned <= CONCURRENCY
    assert summary_count(out, "left in doubt") == abandoned
    px.control.clear_faults()
    px.settle()

    run = px.push("events", "events.csv")
    assert run.code == 0 and run.count("in doubt") == abandoned
    got = received(px)
    assert set(got) == set(expected)
    assert 0 <= sum(got.values()) - sum(expected.values()) <= abandoned
