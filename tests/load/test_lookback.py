"""The users/accounts lookback under the shipped defaults (lookback.py): late activity loads on the
next run, and a run where nothing changed costs one one-record request per cursor, however many
records tie at the cursor or sit in the window."""

from __future__ import annotations

from pathlib import Path

import pytest
from gainsight_px.emulator import TenantSpec
from gainsight_px.lookback import DEFAULT_RECORD_LOOKBACK_S
from gainsight_px.timestamps import now_ms
from load_helpers import Loader

TENANT = TenantSpec(users=200, accounts=10, seed=29)
LATE_MS = 10 * 60 * 1000  # PX stamped this activity ten minutes after the newest one loaded


def defaults_loader(make_emulator, tmp_path: Path, dialect: str) -> Loader:
    return Loader(make_emulator(tenant=TENANT, dialect=dialect), tmp_path, lookback_s=None)


def newest_seen(loader: Loader) -> int:
    return max(u["lastSeenDate"] for u in loader.control.records("users"))


@pytest.mark.dialects("contract", "published")
def test_late_activity_loads_on_the_next_run_with_nothing_newer(make_emulator, tmp_path: Path,
                                                                dialect: str) -> None:
    loader = defaults_loader(make_emulator, tmp_path, dialect)
    loader.run(resources="users")
    newest = newest_seen(loader)
    late = loader.control.simulate_activity(count=3, at_ms=newest - LATE_MS)  # behind the cursor

    summary = loader.run(resources="users")

    seen = dict(loader.query("SELECT aptrinsic_id, epoch_ms(last_seen_date) FROM gainsight_px.users"))
    assert [seen[k] for k in late] == [newest - LATE_MS] * 3
    assert loader.query("SELECT count(*), count(DISTINCT aptrinsic_id) FROM gainsight_px.users") == [(200, 200)]
    # What travelled: the records in the hour behind the cursor, the late ones among them.
    window = {u["aptrinsicId"] for u in loader.control.records("users")
              if u["lastSeenDate"] >= newest - DEFAULT_RECORD_LOOKBACK_S * 1000}
    assert set(late) <= window
    assert summary.rows["users"] >= len(window)


@pytest.mark.dialects("contract", "published")
def test_an_idle_run_costs_one_small_request_per_cursor_whatever_ties_or_the_window_hold(
        make_emulator, tmp_path: Path, dialect: str) -> None:
    loader = defaults_loader(make_emulator, tmp_path, dialect)
    users = loader.control.records("users")
    # 80 users tie at the newest value and 40 more sit inside the lookback window behind it.
    tied_at = newest_seen(loader) + 60_000
    loader.control.simulate_activity(ids=[u["aptrinsicId"] for u in users[:80]], at_ms=tied_at)
    loader.control.simulate_activity(ids=[u["aptrinsicId"] for u in users[80:120]], at_ms=tied_at - 600_000)
    loader.run(resources="users")
    loader.control.reset_log()

    for _ in range(2):
        assert loader.run(resources="users").rows.get("users", 0) == 0

    requests = loader.list_requests("users")
    per_run = 2 if loader.published else 1  # the published API has a second cursor, lastModifiedDate
    assert len(requests) == 2 * per_run
    assert all(r["query"]["pageSize"] == ["1"] for r in requests)  # at most one record each


def test_a_poisoned_future_value_does_not_make_every_run_read_the_window(make_emulator, tmp_path: Path) -> None:
    loader = defaults_loader(make_emulator, tmp_path, "contract")
    loader.control.add_record("users", {"aptrinsicId": "poisoned", "identifyId": "poisoned",
                                        "lastSeenDate": 253_402_214_400_000})  # 9999-12-31
    loader.run(resources="users")
    loader.control.reset_log()

    assert loader.run(resources="users").rows.get("users", 0) == 0
    (request,) = loader.list_requests("users")
    assert request["query"]["pageSize"] == ["1"]

    active = loader.control.simulate_activity(count=2, at_ms=now_ms())
    assert loader.run(resources="users").rows["users"] >= 2
    seen = dict(loader.query("SELECT aptrinsic_id, epoch_ms(last_seen_date) FROM gainsight_px.users"))
    assert all(seen[k] >= now_ms() - 60_000 for k in active)


def test_a_server_that_ignores_the_descending_sort_does_not_hide_a_change(make_emulator, tmp_path: Path) -> None:
    loader = defaults_loader(make_emulator, tmp_path, "contract")
    newest = newest_seen(loader)
    inside, _stays = loader.control.simulate_activity(count=2, at_ms=newest - LATE_MS)  # in the window
    loader.run(resources="users")
    # Activity moves it past the cursor: the window's count stays as it was, its newest value moves.
    loader.control.simulate_activity(ids=[inside], at_ms=newest + 5000)
    loader.control.ignore_sort_direction()

    loader.run(resources="users")

    seen = dict(loader.query("SELECT aptrinsic_id, epoch_ms(last_seen_date) FROM gainsight_px.users"))
    assert seen[inside] == newest + 5000


@pytest.mark.parametrize("value", [-1, "an hour"])
def test_a_bad_lookback_is_a_config_error_naming_the_setting_before_any_request(
        make_emulator, tmp_path: Path, value) -> None:
    from gainsight_px.errors import ConfigError

    loader = defaults_loader(make_emulator, tmp_path, "contract")
    loader.control.reset_log()
    with pytest.raises(ConfigError, match="SOURCES__GAINSIGHT_PX__LOOKBACK_S"):
        loader.run(resources="users", lookback_s=value)
    assert loader.list_requests("users") == []
