"""Reconcile (`--full-refresh`): attribute-only changes and deletions, which the cursor cannot see."""

from __future__ import annotations

import pytest
from gainsight_px.errors import AuthError
from load_helpers import Loader


def test_incremental_misses_what_reconcile_catches(loader: Loader) -> None:
    loader.run()
    users = loader.control.records("users")
    renamed, deleted = users[10]["aptrinsicId"], users[20]["aptrinsicId"]
    account = loader.control.records("accounts")[2]["id"]
    engagement = loader.control.records("engagements")[0]["id"]
    # Attribute-only change and deletions: lastSeenDate does not move (docs/api-behaviour.md).
    loader.control.update_record("users", renamed, {"title": "Chief Reconciler",
                                                    "customAttributes": {"plan": "Platinum"}})
    loader.control.delete_record("users", deleted)
    loader.control.delete_record("accounts", account)
    loader.control.delete_record("engagements", engagement)

    loader.run()  # incremental: blind to both
    assert loader.query("SELECT title FROM gainsight_px.users WHERE aptrinsic_id = ?", [renamed]) \
        == [(users[10]["title"],)]
    assert loader.count("users") == 250

    summary = loader.run(full_refresh=True)

    assert summary.full_refresh
    assert loader.query(
        "SELECT title, custom_attributes__plan FROM gainsight_px.users WHERE aptrinsic_id = ?",
        [renamed]) == [("Chief Reconciler", "Platinum")]
    assert loader.query("SELECT count(*) FROM gainsight_px.users WHERE aptrinsic_id = ?", [deleted]) == [(0,)]
    assert loader.count("users") == 249
    assert loader.query("SELECT count(*) FROM gainsight_px.accounts WHERE id = ?", [account]) == [(0,)]
    assert loader.query("SELECT count(*) FROM gainsight_px.engagements WHERE id = ?", [engagement]) == [(0,)]
    for resource, key in (("users", "aptrinsic_id"), ("accounts", "id"), ("features", "id"),
                          ("engagements", "id"), ("subscriptions", "id")):
        source_key = "aptrinsicId" if resource == "users" else "id"
        loaded = {k for (k,) in loader.query(f"SELECT {key} FROM gainsight_px.{resource}")}
        assert loaded == {r[source_key] for r in loader.control.records(resource)}, resource


@pytest.mark.dialects("contract", "published")
def test_after_reconcile_incremental_runs_continue_from_the_new_cursor(loader: Loader) -> None:
    loader.run(resources="users")
    loader.run(resources="users", full_refresh=True)
    loader.control.reset_log()

    summary = loader.run(resources="users")

    assert summary.rows["users"] == 0
    # The idle run only asked about the window at the reconcile's cursor (the lookback is 0 here).
    request = loader.list_requests("users")[0]  # published: then one for lastModifiedDate
    newest = max(u["lastSeenDate"] for u in loader.control.records("users"))
    assert request["query"]["filter"][0].startswith(f"lastSeenDate>={newest};")
    active = loader.control.simulate_activity(count=3)
    assert loader.run(resources="users").rows["users"] == 3
    assert loader.query("SELECT count(*) FROM gainsight_px.users WHERE aptrinsic_id IN (?, ?, ?) "
                        "AND number_of_visits > 0", active) == [(3,)]


@pytest.mark.dialects("contract", "published")
@pytest.mark.parametrize("when", ["extract", "continuation"])
def test_a_failed_reconcile_loses_nothing_and_a_rerun_fixes_it(make_emulator, make_loader, when, dialect) -> None:
    from gainsight_px.emulator import TenantSpec

    emulator = make_emulator(tenant=TenantSpec(users=90, accounts=9, seed=21), dialect=dialect)
    loader: Loader = make_loader(emulator)
    loader.run(resources="users,accounts")
    before = loader.count("users")
    gone = emulator.control.records("users")[0]["aptrinsicId"]
    emulator.control.delete_record("users", gone)
    # Fail after some pages were read: two harmless faults, then a 403.
    emulator.control.inject("slow", count=1 if when == "extract" else 3, path="/v1/users", seconds=0)
    emulator.control.inject("empty_403", path="/v1/users")

    with pytest.raises(AuthError):
        loader.run(resources="users,accounts", full_refresh=True, page_size=20)

    assert loader.count("users") == before  # the old data is all still there
    summary = loader.run(resources="users,accounts", full_refresh=True, page_size=20)
    assert summary.rows["users"] == 89
    assert {k for (k,) in loader.query("SELECT aptrinsic_id FROM gainsight_px.users")} == {
        u["aptrinsicId"] for u in emulator.control.records("users")}
