"""The fault matrix, push side: each fault the emulator can inject, during `gainsight-px push`,
for records (users, upsert: idempotent) and for custom events (never de-duplicated by PX).

Every case ends one of these ways:
- **identical**: what PX holds afterwards equals a fault-free push of the same
  file (users: the records; events: the multiset of events), every row
  delivered once, and pushing the file again sends nothing;
- **identical, duplicates reported**: events only, when an answer was lost
  after PX had applied the write (a read timeout): the duplicates are at most
  the summary's "lost answers", which the summary prints;
- **fails cleanly**: exit 1, a message naming the setting to fix (never the
  key), the ledger keeps what was delivered, and a rerun delivers the rest,
  nothing twice.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest
from gainsight_px.emulator import Emulator
from gainsight_px.push import push_csv
from gainsight_px.settings import API_KEY_ENV, EMULATOR_API_KEY
from reliability_harness import (
    event_identity,
    event_rows,
    expected_event_identities,
    new_emulator,
    ok_writes_per_key,
    user_rows,
    users_state,
    when,
    write_csv,
)

ROWS = 60
PUSH_OPTS = ("--rate", "500", "--concurrency", "4", "--no-progress")
PATHS = {"users": "/users", "events": "/custom_events"}


@dataclass(frozen=True)
class Fault:
    id: str
    kind: str
    count: int
    params: tuple[tuple[str, Any], ...] = ()
    shows_status: int | None = None
    lost_answers: bool = False  # PX applied the write but the answer never came back
    timeout: str | None = None  # --timeout for this case
    immediate: bool = False  # acts at once (not queued): scroll expiry
    read_path: bool = False  # applies to list reads only: a push must be unaffected


PUSH_FAULTS = [
    Fault("429-storm-with-retry-after", "429", 5, (("retry_after", True), ("seconds", 1)), shows_status=429),
    Fault("429-storm-without-retry-after", "429", 5, (("retry_after", False),), shows_status=429),
    *[Fault(f"{s}-burst", s, 4, shows_status=int(s)) for s in ("500", "502", "503", "504")],
    Fault("html-502-from-a-proxy", "html_502", 3, shows_status=502),
    Fault("connection-reset-mid-body", "reset", 3),
    Fault("truncated-json-body", "truncate", 3),
    Fault("read-timeout", "slow", 2, (("seconds", 1.5),), lost_answers=True, timeout="0.5"),
    # Faults of the read path: a push never lists, so they must change nothing.
    Fault("scroll-expired", "expire_scrolls", 1, immediate=True, read_path=True),
    Fault("malformed-records", "malformed_records", 3, read_path=True),
]


def rows_for(entity: str) -> tuple[list[str], list[list[str]]]:
    return user_rows(ROWS) if entity == "users" else event_rows(ROWS)


@pytest.fixture(scope="module")
def clean_users(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The users PX holds after a fault-free push of the file (the library call, no CLI)."""
    where = tmp_path_factory.mktemp("clean-push")
    header, rows = user_rows(ROWS)
    emulator = new_emulator()
    try:
        summary = push_csv(write_csv(where / "users.csv", header, rows), "users", base_url=emulator.base_url,
                           api_key=EMULATOR_API_KEY, ledger=where / "ledger.sqlite", progress=False)
        assert summary.exit_code == 0 and summary.delivered == ROWS
        return users_state(emulator, [r[0] for r in rows])
    finally:
        emulator.stop()


def wait_for_slow_writes(emulator: Emulator, count: int) -> None:
    """Writes held up by a `slow` fault are applied after the client gave up on them: wait for them."""
    deadline = time.monotonic() + 30
    while sum(1 for w in emulator.control.writes() if w.get("fault") == "slow") < count:
        assert time.monotonic() < deadline, "the held-up writes never completed"
        time.sleep(0.05)


@pytest.mark.parametrize("entity", ["users", "events"])
@pytest.mark.parametrize("fault", PUSH_FAULTS, ids=lambda f: f.id)
def test_push_fault_ends_identical_to_a_clean_push(fault: Fault, entity: str, make_work: Any,
                                                   clean_users: dict[str, dict[str, Any]],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    emulator = new_emulator()
    try:
        w = make_work(emulator)
        header, rows = rows_for(entity)
        path = write_csv(w.path / f"{entity}.csv", header, rows)
        if fault.immediate:
            emulator.control.inject(fault.kind)
        else:
            emulator.control.inject(fault.kind, count=fault.count, path=PATHS[entity], **dict(fault.params))
        args = ["push", entity, path, *PUSH_OPTS]
        if fault.timeout:
            args += ["--timeout", fault.timeout]

        run = w.cli(*args, capsys=capsys)

        assert run.code == 0, run.text
        stats = emulator.control.stats()
        if not fault.read_path:
            assert stats["pending_faults"] == 0, emulator.control.faults()
        if fault.shows_status is not None:
            assert stats["statuses"].get(str(fault.shows_status), 0) >= 1, stats
        if fault.lost_answers:
            wait_for_slow_writes(emulator, fault.count)

        if entity == "users":
            assert users_state(emulator, [r[0] for r in rows]) == clean_users
            per_key = ok_writes_per_key(emulator, "users")
            assert set(per_key) == {r[0] for r in rows}
            if not fault.lost_answers:  # refused up front, or answered with a 2xx status line
                assert set(per_key.values()) == {1}, "a row was applied twice although its answer came back"
        else:
            got = Counter(event_identity(e) for e in emulator.control.events())
            expected = expected_event_identities(rows)
            assert got - expected == Counter() or fault.lost_answers, f"duplicates: {got - expected}"
            assert expected - got == Counter(), f"events lost: {expected - got}"
            duplicates = sum((got - expected).values())
            if fault.lost_answers:
                # Each write applied after its answer was lost is one duplicate, and the summary says so.
                assert duplicates == fault.count
                assert run.count("lost answers") >= duplicates, run.out

        # The ledger knows everything went: the same command again sends nothing.
        emulator.control.reset_log()
        again = w.cli(*args, capsys=capsys)
        assert again.code == 0, again.text
        assert emulator.control.writes() == [], "a rerun of a delivered file sent writes"
    finally:
        emulator.stop()


@pytest.mark.parametrize("entity", ["users", "events"])
def test_push_with_auth_revoked_mid_run_fails_cleanly_and_the_rerun_completes(
        entity: str, make_work: Any, capsys: pytest.CaptureFixture[str]) -> None:
    emulator = new_emulator()
    try:
        w = make_work(emulator)
        header, rows = user_rows(120) if entity == "users" else event_rows(120)
        path = write_csv(w.path / f"{entity}.csv", header, rows)
        resource = "users" if entity == "users" else "custom_events"
        when(lambda: sum(1 for x in emulator.control.writes(resource) if x["status"] == 200) >= 30,
             emulator.control.revoke_auth)
        args = ("push", entity, path, "--rate", "150", "--concurrency", "4", "--no-progress")

        failed = w.cli(*args, capsys=capsys)

        assert failed.code == 1, failed.text
        assert "401" in failed.err and API_KEY_ENV in failed.err, failed.err
        assert EMULATOR_API_KEY not in failed.text and "Traceback" not in failed.text
        delivered_before = sum(1 for x in emulator.control.writes(resource) if x["status"] == 200)
        assert 30 <= delivered_before < len(rows), delivered_before

        emulator.control.restore_auth()
        rerun = w.cli(*args, capsys=capsys)

        assert rerun.code == 0, rerun.text
        assert rerun.count("in doubt") == 0  # every request in flight got its 401: nothing in doubt
        assert rerun.count("created" if entity == "events" else "created/updated") == len(rows) - delivered_before
        if entity == "users":
            assert ok_writes_per_key(emulator, "users") == Counter({r[0]: 1 for r in rows})
        else:
            got = Counter(event_identity(e) for e in emulator.control.events())
            assert got == expected_event_identities(rows)
    finally:
        emulator.stop()
