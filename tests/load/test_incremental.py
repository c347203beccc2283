"""Incremental runs: only changed rows travel, merge updates in place, the boundary is exact."""

from __future__ import annotations

from typing import Any

import pytest
from gainsight_px.emulator import TenantSpec
from gainsight_px.paging import MAX_EXCLUDED_KEYS
from load_helpers import Loader, ms_to_datetime


def snapshot(loader: Loader, table: str, key: str) -> dict[Any, dict[str, Any]]:
    return {k: {c: v for c, v in row.items() if not c.startswith("_dlt")}
            for k, row in loader.rows(table, key=key).items()}


def max_last_seen(loader: Loader, resource: str = "users") -> int:
    return max(r["lastSeenDate"] for r in loader.control.records(resource))


@pytest.mark.dialects("contract", "published")
def test_a_run_without_changes_fetches_no_rows_and_changes_nothing(loader: Loader) -> None:
    loader.run()
    users_before = snapshot(loader, "users", "aptrinsic_id")
    accounts_before = snapshot(loader, "accounts", "id")
    loader.control.reset_log()

    summary = loader.run(resources="users,accounts")

    assert summary.rows == {"users": 0, "accounts": 0}
    # One request per cursor (published: lastModifiedDate too), each for one record: how many
    # records the window behind the cursor holds, and the highest value there.
    cursors = ("lastSeenDate", "lastModifiedDate") if loader.published else ("lastSeenDate",)
    for resource in ("users", "accounts"):
        requests = loader.list_requests(resource)
        assert len(requests) == len(cursors)
        for request, cursor in zip(requests, cursors, strict=True):
            assert request["status"] == 200
            assert request["query"]["pageSize"] == ["1"]
            assert "scrollId" not in request["query"]
            assert request["query"]["sort"] == [loader.emulator.dialect.sort(f"-{cursor}")]
    assert snapshot(loader, "users", "aptrinsic_id") == users_before
    assert snapshot(loader, "accounts", "id") == accounts_before


@pytest.mark.dialects("contract", "published")
def test_activity_on_n_users_fetches_exactly_those_and_merges_in_place(loader: Loader) -> None:
    loader.run()
    before = snapshot(loader, "users", "aptrinsic_id")
    active = loader.control.simulate_activity(count=7)
    loader.control.reset_log()

    summary = loader.run(resources="users,accounts")

    assert summary.rows["users"] == 7
    assert len(loader.cursor_requests("users")) == 1
    after = snapshot(loader, "users", "aptrinsic_id")
    assert after.keys() == before.keys()  # merged, not appended
    emulator_users = {u["aptrinsicId"]: u for u in loader.control.records("users")}
    for key in active:
        assert after[key]["last_seen_date"] == ms_to_datetime(emulator_users[key]["lastSeenDate"])
        assert after[key]["number_of_visits"] == emulator_users[key]["numberOfVisits"]
        assert after[key]["number_of_visits"] == before[key]["number_of_visits"] + 1
    unchanged = set(before) - set(active)
    assert all(after[k] == before[k] for k in unchanged)
    # Their accounts moved too, and only they were fetched.
    touched_accounts = {emulator_users[k]["accountId"] for k in active} - {None}
    assert summary.rows["accounts"] == len(touched_accounts)


@pytest.mark.dialects("contract", "published")
def test_rows_at_the_stored_cursor_are_neither_lost_nor_duplicated(loader: Loader) -> None:
    loader.run(resources="users")
    boundary = max_last_seen(loader)
    at_boundary = {u["aptrinsicId"] for u in loader.control.records("users") if u["lastSeenDate"] == boundary}
    # A user becomes active at exactly the stored cursor value, after the load read it.
    newcomer = next(u["aptrinsicId"] for u in loader.control.records("users") if u["lastSeenDate"] < boundary)
    loader.control.simulate_activity(ids=[newcomer], at_ms=boundary)
    loader.control.reset_log()

    summary = loader.run(resources="users")

    assert summary.rows["users"] == 1  # the newcomer; the rows already loaded at the boundary are not re-read
    assert loader.query("SELECT count(*), count(DISTINCT aptrinsic_id) FROM gainsight_px.users") == [(250, 250)]
    got = loader.query("SELECT last_seen_date FROM gainsight_px.users WHERE aptrinsic_id = ?", [newcomer])
    assert got == [(ms_to_datetime(boundary),)]
    (request,) = loader.cursor_requests("users")
    # The boundary is inclusive; the keys already loaded there are excluded by the server.
    filters = request["query"]["filter"]
    assert f"lastSeenDate>{boundary}" in filters
    assert any(f.startswith(f"lastSeenDate=={boundary};") and all(k in f for k in at_boundary) for f in filters)


@pytest.mark.dialects("contract", "published")
def test_a_crowded_boundary_costs_no_reads_when_idle_and_loses_no_late_arrival(
        make_emulator, make_loader, dialect: str) -> None:
    """More rows at the cursor value than fit in a filter: an idle run reads none of them, and a
    record stamped later at that same millisecond loads on the next run, once."""
    emulator = make_emulator(tenant=TenantSpec(users=150, accounts=10, seed=11), dialect=dialect)
    loader: Loader = make_loader(emulator)
    crowd = [u["aptrinsicId"] for u in emulator.control.records("users")][: MAX_EXCLUDED_KEYS + 10]
    boundary = max_last_seen(loader) + 1000
    emulator.control.simulate_activity(ids=crowd, at_ms=boundary)
    loader.run(resources="users")
    emulator.control.reset_log()

    assert loader.run(resources="users").rows.get("users", 0) == 0
    assert all(r["query"]["pageSize"] == ["1"] for r in loader.list_requests("users"))

    late = next(u["aptrinsicId"] for u in emulator.control.records("users") if u["aptrinsicId"] not in crowd)
    emulator.control.simulate_activity(ids=[late], at_ms=boundary)
    loader.run(resources="users")

    assert loader.query("SELECT count(*), count(DISTINCT aptrinsic_id) FROM gainsight_px.users") == [(150, 150)]
    assert loader.query("SELECT count(*) FROM gainsight_px.users WHERE last_seen_date = ?",
                        [ms_to_datetime(boundary)]) == [(len(crowd) + 1,)]


@pytest.mark.dialects("contract", "published")
def test_initial_limits_the_first_load_only(loader: Loader) -> None:
    users = loader.control.records("users")
    seen = sorted(u["lastSeenDate"] for u in users if u["lastSeenDate"])
    cut = seen[len(seen) // 2]
    initial = ms_to_datetime(cut)
    expected = {u["aptrinsicId"] for u in users if u["lastSeenDate"] >= cut}
    if loader.published:  # changed since `initial` counts too
        expected |= {u["aptrinsicId"] for u in users if (u.get("lastModifiedDate") or 0) >= cut}

    loader.run(resources="users", initial=initial.isoformat())

    loaded = {k for (k,) in loader.query("SELECT aptrinsic_id FROM gainsight_px.users")}
    assert loaded == expected
    assert loader.cursor_requests("users")[0]["query"]["filter"] == [f"lastSeenDate>={cut}"]
    # Later runs continue from the cursor, not from `initial`.
    loader.control.reset_log()
    active = loader.control.simulate_activity(count=2)
    loader.run(resources="users", initial=initial.isoformat())
    assert {k for (k,) in loader.query("SELECT aptrinsic_id FROM gainsight_px.users")} == expected | set(active)
    assert loader.cursor_requests("users")[0]["query"]["filter"][0] != f"lastSeenDate>={cut}"


@pytest.mark.dialects("contract", "published")
def test_a_new_custom_attribute_becomes_a_new_column(loader: Loader) -> None:
    loader.run(resources="users")
    assert "custom_attributes__favourite_colour" not in loader.column_types("users")
    user = loader.control.records("users")[3]["aptrinsicId"]
    loader.control.update_record("users", user, {"customAttributes": {"favouriteColour": "teal"}})
    loader.control.simulate_activity(ids=[user])

    loader.run(resources="users")

    assert loader.column_types("users")["custom_attributes__favourite_colour"] == "VARCHAR"
    assert loader.query(
        "SELECT aptrinsic_id, custom_attributes__favourite_colour FROM gainsight_px.users "
        "WHERE custom_attributes__favourite_colour IS NOT NULL") == [(user, "teal")]


@pytest.mark.dialects("contract", "published")
def test_a_custom_attribute_that_changes_type_never_breaks_a_later_run(loader: Loader) -> None:
    loader.run(resources="users")
    assert loader.column_types("users")["custom_attributes__seats"] == "DOUBLE"
    user = loader.control.records("users")[5]["aptrinsicId"]
    loader.control.update_record("users", user, {"customAttributes": {"seats": "unlimited"}})
    loader.control.simulate_activity(ids=[user])

    loader.run(resources="users")

    types = loader.column_types("users")
    assert types["custom_attributes__seats"] == "DOUBLE"  # earlier data keeps its type
    assert types["custom_attributes__seats__v_text"] == "VARCHAR"  # and nothing is lost
    assert loader.query(
        "SELECT custom_attributes__seats, custom_attributes__seats__v_text FROM gainsight_px.users "
        "WHERE aptrinsic_id = ?", [user]) == [(None, "unlimited")]
