"""Crash loops: `gainsight-px load` and `gainsight-px push` killed with SIGKILL again and again
at seeded points, with the tenant or the input changing between runs, then run to the end.

- load: the tables then equal a clean load of the final tenant, with no
  duplicate keys and no missing rows;
- push: every row was delivered; duplicates are bounded by the rows the
  ledger had in flight at the kills, and each rerun reports exactly those as
  "in doubt".

Each test records its figures (points tried, kills that landed mid-run) as a
`reliability` user property; tests/crash/conftest.py prints them at the end.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from crash_helpers import SEED, KillPoint, kill_at, pending_in_ledger, settle
from reliability_harness import (
    LOAD_ARGS,
    Workdir,
    assert_same_tables,
    clean_load_snapshot,
    event_identity,
    event_rows,
    expected_event_identities,
    new_emulator,
    ok_requests,
    snapshot,
    user_rows,
    users_state,
    write_csv,
)

LOAD_KILLS = 6
PUSH_KILLS = 4


def test_load_killed_again_and_again_ends_equal_to_a_clean_load(tmp_path: Path, record_property: Any) -> None:
    rng = random.Random(SEED)
    emulator = new_emulator()
    try:
        # Hold every users page a little so that progress points fall inside the scan.
        emulator.control.inject("slow", count=100_000, path="/users", seconds=0.05)
        work = Workdir(tmp_path / "work", emulator.base_url)
        results = []
        for _ in range(LOAD_KILLS):
            # Every run makes at least 5 requests (one per resource), so a progress point lands mid-run.
            if rng.random() < 0.5:
                point = KillPoint("progress", rng.randint(1, 5))
            else:
                point = KillPoint("time", rng.uniform(0.5, 3.5))  # interpreter start .. summary
            before = emulator.control.stats()["requests"]
            proc = work.start(*LOAD_ARGS)
            results.append(kill_at(proc, point, lambda b=before: emulator.control.stats()["requests"] - b))
            settle(emulator)
            # The tenant moves on between runs: users are seen, one is deleted, one signs up.
            emulator.control.simulate_activity(count=rng.randint(0, 25))
            if rng.random() < 0.3:
                emulator.control.add_record("users", {"identifyId": f"new-{len(results)}",
                                                      "lastSeenDate": 1_732_579_300_000 + len(results)})
        final = work.run(*LOAD_ARGS)
        assert final.code == 0, final.text

        got = snapshot(work.duckdb)
        emulator.control.clear_faults()
        assert_same_tables(got, clean_load_snapshot(emulator.base_url, tmp_path / "clean"))
        killed = sum(r.killed for r in results)
        record_property("reliability", {"suite": "crash-load", "points": len(results), "killed": killed})
        print(f"crash-load: {len(results)} kill points ({', '.join(str(r.point) for r in results)}), "
              f"{killed} landed mid-run")
        assert killed >= LOAD_KILLS // 2, "too few kills landed mid-run for the test to mean anything"
    finally:
        emulator.stop()


@pytest.mark.parametrize("entity", ["events", "users"])
def test_push_killed_again_and_again_delivers_every_row_with_bounded_reported_duplicates(
        entity: str, tmp_path: Path, record_property: Any) -> None:
    rng = random.Random(f"{SEED}:{entity}")
    emulator = new_emulator()
    try:
        resource, path = ("custom_events", "/custom_events") if entity == "events" else ("users", "/users")
        emulator.control.inject("slow", count=100_000, path=path, seconds=0.05)
        work = Workdir(tmp_path / "work", emulator.base_url)
        header, rows = event_rows(160) if entity == "events" else user_rows(160)
        csv_path = write_csv(work.path / f"{entity}.csv", header, rows)
        concurrency = 4
        args = ("push", entity, csv_path, "--concurrency", str(concurrency), "--rate", "1000", "--no-progress")

        def delivered() -> int:
            return ok_requests(emulator, f"POST /v1/{resource}")

        def left_to_send() -> int:  # rows whose current content PX does not have yet
            if entity == "events":
                return sum((expected_event_identities(rows) - Counter(
                    event_identity(e) for e in emulator.control.events())).values())
            state = users_state(emulator, [r[0] for r in rows])
            return sum(1 for r in rows if state.get(r[0], {}).get("firstName") != r[2])

        results, in_flight = [], []
        for n in range(PUSH_KILLS):
            # Progress points stay within what is left, or the run would end before them.
            if rng.random() < 0.6:
                point = KillPoint("progress", rng.randint(1, max(1, left_to_send() // 2)))
            else:
                point = KillPoint("time", rng.uniform(0.5, 2.0))  # interpreter start .. sending
            before = delivered()
            proc = work.start(*args)
            results.append(kill_at(proc, point, lambda b=before: delivered() - b))
            settle(emulator)
            in_flight.append(pending_in_ledger(work.ledger))
            assert in_flight[-1] <= concurrency
            if entity == "users" and n % 2 == 1:  # the file is edited between runs: the diff sync sends edits
                for row in rng.sample(rows, 5):
                    row[2] = f"edited {n} {row[2]}"
                write_csv(csv_path, header, rows)
        final = work.run(*args)
        assert final.code == 0, final.text
        assert final.count("in doubt") == in_flight[-1]  # exactly what the last killed run left in flight
        assert pending_in_ledger(work.ledger) == 0

        bound = sum(in_flight)
        if entity == "events":
            got = Counter(event_identity(e) for e in emulator.control.events())
            expected = expected_event_identities(rows)
            assert expected - got == Counter(), f"events lost: {expected - got}"
            duplicates = sum((got - expected).values())
            assert duplicates <= bound, f"{duplicates} duplicates, but only {bound} rows were ever in doubt"
        else:
            state = users_state(emulator, [r[0] for r in rows])
            assert set(state) == {r[0] for r in rows}, "users lost"
            for row in rows:  # the final content of every row is what PX holds
                assert state[row[0]]["firstName"] == row[2] and state[row[0]]["email"] == row[1]
            duplicates = 0

        # Delivered completely: the same command again sends nothing.
        emulator.control.reset_log()
        assert work.run(*args).code == 0
        assert emulator.control.writes() == []
        killed = sum(r.killed for r in results)
        record_property("reliability", {"suite": f"crash-push-{entity}", "points": len(results), "killed": killed,
                                        "in_doubt": bound, "duplicates": duplicates})
        print(f"crash-push-{entity}: {len(results)} kill points ({', '.join(str(r.point) for r in results)}), "
              f"{killed} landed mid-run, {bound} rows in doubt, {duplicates} duplicate events")
        assert killed >= PUSH_KILLS // 2
    finally:
        emulator.stop()
