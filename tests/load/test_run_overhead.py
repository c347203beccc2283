"""What a run must not do for nothing: merge when nothing changed, leave the garbage collector off."""

from __future__ import annotations

import gc
import threading

import pytest
from gainsight_px.gcpause import collector_paused
from load_helpers import DATASET, Loader


def tables_loaded(loader: Loader) -> set[str]:
    """Tables the last run sent a load job for (its trace, as `dlt pipeline ... trace` shows it)."""
    import dlt

    trace = dlt.attach(loader.pipeline_name, pipelines_dir=str(loader.pipelines_dir)).last_trace
    info = trace.last_load_info if trace else None
    return {job.job_file_info.table_name for package in (info.load_packages if info else [])
            for jobs in package.jobs.values() for job in jobs}


@pytest.mark.dialects("contract", "published")
def test_runs_without_changes_merge_nothing_and_keep_the_cursor_where_it_was(loader: Loader) -> None:
    loader.run(resources="users,accounts")
    assert {"users", "accounts"} <= tables_loaded(loader)
    users = loader.count("users")
    loads = loader.count("_dlt_loads")

    for _ in range(2):  # the first quiet run may commit state (no table jobs); the second nothing at all
        summary = loader.run(resources="users,accounts")
        assert summary.rows == {"users": 0, "accounts": 0}
        assert tables_loaded(loader) <= {"_dlt_pipeline_state"}
        assert loader.count("users") == users
    assert loader.count("_dlt_loads") <= loads + 1

    # The cursor did not move past anything: activity after the quiet runs arrives, exactly.
    active = loader.control.simulate_activity(count=3)
    summary = loader.run(resources="users,accounts")
    assert summary.rows["users"] == 3
    assert loader.count("users") == users
    assert "users" in tables_loaded(loader)
    emulator_seen = {u["aptrinsicId"]: u["lastSeenDate"] for u in loader.control.records("users")}
    stored = dict(loader.query(f"SELECT aptrinsic_id, epoch_ms(last_seen_date) FROM {DATASET}.users "
                               "WHERE aptrinsic_id IN (SELECT unnest(?))", [list(active)]))
    assert stored == {key: emulator_seen[key] for key in active}


def test_a_load_leaves_the_collector_on_and_nothing_frozen(loader: Loader) -> None:
    assert gc.isenabled()
    loader.run()  # every resource, read interleaved by dlt
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0


def test_interleaved_pauses_restore_the_collector_only_after_the_last() -> None:
    assert gc.isenabled()
    first, second = collector_paused(), collector_paused()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)  # a resource that finishes while another is still reading
    assert not gc.isenabled()
    second.__exit__(None, None, None)
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0


def test_a_collector_switched_off_by_the_caller_stays_off() -> None:
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_pauses_from_threads_restore_the_collector() -> None:
    barrier = threading.Barrier(4)

    def work() -> None:
        with collector_paused():
            barrier.wait(timeout=10)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0
