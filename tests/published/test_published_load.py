"""Loading a tenant that speaks Gainsight's published API: detection, page limits, both cursors."""

from __future__ import annotations

from pathlib import Path

import pytest
from gainsight_px.emulator import Emulator, TenantSpec
from gainsight_px.endpoints import CONTRACT, PUBLISHED
from load_helpers import Loader, cli_env, is_probe, ms_to_datetime, run_cli

# The list resources of the published dialect (its event streams are tested apart).
CORE = "users,accounts,features,engagements,segments"
LIMITS = {"/v1" + ep.path: PUBLISHED.page_limit(ep) for ep in PUBLISHED.endpoints.values()}


def test_a_load_with_no_dialect_set_detects_the_published_api_and_loads_every_list(loader: Loader) -> None:
    summary = loader.run(resources=CORE)

    assert summary.dialect == "published (detected)"
    assert {t: summary.rows[t] for t in CORE.split(",")} == {
        "users": 250, "accounts": 25, "features": 450, "engagements": 30, "segments": 36}
    for table, count in summary.rows.items():
        if table in CORE.split(","):
            assert loader.count(table) == count
    assert len(loader.probes()) == 1
    # Nested objects become columns, arrays one JSON text column.
    types = loader.column_types("users")
    assert types["last_modified_date"] == types["create_date"] == "TIMESTAMP WITH TIME ZONE"
    assert "location__country_code" in types and "last_inferred_location__city" in types
    assert types["property_keys"] == "VARCHAR"
    user = next(iter(loader.control.records("users")))
    (keys,) = loader.query("SELECT property_keys FROM gainsight_px.users WHERE aptrinsic_id = ?",
                           [user["aptrinsicId"]])[0]
    assert keys.startswith("[") and user["propertyKeys"][0] in keys


def test_the_detected_dialect_is_remembered_per_tenant(loader: Loader, make_emulator, make_loader) -> None:
    loader.run(resources="users,segments")
    loader.control.reset_log()

    again = loader.run(resources="users,segments")

    assert again.dialect == "published (remembered)"
    assert loader.probes() == []
    assert any("API dialect published (remembered)" in line for line in again.lines())
    # The same pipeline pointed at another server (replacing the data, the tenant check allows) asks again.
    other_server = make_emulator(dialect=PUBLISHED, tenant=TenantSpec(users=5, accounts=1, seed=3))
    other = loader.run(resources="segments", base_url=other_server.base_url, full_refresh=True)
    assert other.dialect == "published (detected)"
    assert len(other_server.control.requests()) == 2  # the probe, then the segments


def test_a_set_dialect_needs_no_probe(loader: Loader) -> None:
    summary = loader.run(resources="users", dialect="published")

    assert summary.dialect == "published (set)"
    assert loader.probes() == []


def test_a_contract_server_is_detected_too(emulator: Emulator, make_loader) -> None:
    loader = make_loader(emulator)

    summary = loader.run(resources="users,features")

    assert summary.dialect == "contract (detected)"
    assert summary.rows["users"] == 250 and summary.rows["features"] == 40


def test_no_request_asks_for_more_than_its_endpoint_allows(loader: Loader) -> None:
    summary = loader.run(resources=CORE, page_size=1000)

    assert summary.rows["features"] == 450
    requests = [r for r in loader.control.requests() if r["method"] == "GET" and not is_probe(r)]
    assert requests
    for request in requests:
        assert request["status"] == 200, request
        assert int(request["query"]["pageSize"][0]) <= LIMITS[request["path"]], request
    features = [r for r in requests if r["path"] == "/v1/feature"]
    assert [(r["query"]["pageNumber"], r["query"]["pageSize"]) for r in features] == [
        (["0"], ["200"]), (["1"], ["200"]), (["2"], ["200"])]
    assert {r["query"]["pageSize"][0] for r in requests if r["path"] == "/v1/users"} == {"1000"}


def test_a_full_last_page_ends_on_is_last_page(make_emulator, make_loader) -> None:
    emulator = make_emulator(dialect=PUBLISHED, tenant=TenantSpec(users=10, accounts=2, features=400, seed=7))
    loader = make_loader(emulator)

    summary = loader.run(resources="features")

    assert summary.rows["features"] == 400
    pages = [r["query"]["pageNumber"][0] for r in loader.list_requests("feature")]
    assert pages == ["0", "1"]  # page 1 is full and says isLastPage: no empty page 2


def test_a_second_run_picks_up_activity_and_attribute_only_changes_and_nothing_else(loader: Loader) -> None:
    loader.run(resources=CORE)
    users = loader.control.records("users")
    active, edited = users[3], users[7]
    account = next(a for a in loader.control.records("accounts") if a["id"] != active.get("accountId"))
    loader.control.simulate_activity(ids=[active["aptrinsicId"]])
    loader.control.simulate_attribute_change("users", ids=[edited["aptrinsicId"]],
                                             changes={"customAttributes": {"plan": "Enterprise-XL"}})
    loader.control.simulate_attribute_change("accounts", ids=[account["id"]], changes={"name": "Renamed Inc"})
    changed_accounts = {account["id"], active.get("accountId")} - {None}

    summary = loader.run(resources=CORE)

    assert summary.rows["users"] == 2
    assert summary.rows["accounts"] == len(changed_accounts)
    rows = loader.rows("users", key="aptrinsic_id")
    assert len(rows) == 250
    assert rows[edited["aptrinsicId"]]["custom_attributes__plan"] == "Enterprise-XL"
    seen = loader.control.record("users", active["aptrinsicId"])["lastSeenDate"]
    assert rows[active["aptrinsicId"]]["last_seen_date"] == ms_to_datetime(seen)
    assert loader.rows("accounts")[account["id"]]["name"] == "Renamed Inc"

    quiet = loader.run(resources="users,accounts")
    assert quiet.rows == {"users": 0, "accounts": 0}


def test_a_refused_last_modified_filter_falls_back_to_activity_and_says_so_once(loader: Loader) -> None:
    loader.run(resources="users,accounts")
    users = loader.control.records("users")
    active, edited = users[1], users[2]
    loader.control.refuse_filter(["lastModifiedDate"])
    loader.control.simulate_activity(ids=[active["aptrinsicId"]])
    loader.control.simulate_attribute_change("users", ids=[edited["aptrinsicId"]],
                                             changes={"customAttributes": {"plan": "Later"}})

    summary = loader.run(resources="users,accounts")

    assert summary.rows["users"] == 1  # the activity; the attribute change waits
    refused = [w for w in summary.warnings if "lastModifiedDate" in w]
    assert len(refused) == 1, summary.warnings  # users and accounts both refused: one warning
    assert any(r["status"] == 400 for r in loader.list_requests("users"))
    # Once the server accepts the filter again, the change left behind arrives.
    loader.control.refuse_filter([])
    later = loader.run(resources="users,accounts")
    assert later.rows["users"] == 1 and not [w for w in later.warnings if "lastModifiedDate" in w]
    assert loader.rows("users", key="aptrinsic_id")[edited["aptrinsicId"]]["custom_attributes__plan"] == "Later"


@pytest.mark.parametrize("dialect", ["contract", "published"])
def test_lists_without_a_cursor_replace_their_table_each_run(dialect: str, make_emulator, make_loader) -> None:
    emulator = make_emulator(dialect=PUBLISHED if dialect == "published" else CONTRACT)
    loader = make_loader(emulator)
    loader.run(resources="features,engagements")
    gone = loader.control.records("features")[0]["id"]
    loader.control.delete_record("features", gone)

    summary = loader.run(resources="features,engagements")

    assert summary.rows["features"] == len(loader.control.records("features"))
    assert gone not in loader.rows("features")
    assert loader.count("features") == len(loader.control.records("features"))


def test_a_reconcile_drops_what_px_deleted_and_keeps_both_cursors_going(loader: Loader) -> None:
    loader.run(resources="users,accounts")
    gone = loader.control.records("users")[11]["aptrinsicId"]
    loader.control.delete_record("users", gone)

    incremental = loader.run(resources="users,accounts")
    assert incremental.rows["users"] == 0 and gone in loader.rows("users", key="aptrinsic_id")

    reconcile = loader.run(resources="users,accounts", full_refresh=True)
    assert reconcile.rows["users"] == 249
    assert gone not in loader.rows("users", key="aptrinsic_id")
    # Both cursors were re-established by the full read: the next run sees an attribute change only.
    edited = loader.control.records("users")[0]["aptrinsicId"]
    loader.control.simulate_attribute_change("users", ids=[edited])
    after = loader.run(resources="users,accounts")
    assert after.rows == {"users": 1, "accounts": 0}


def test_the_wrong_dialect_set_says_what_to_fix(loader: Loader) -> None:
    from gainsight_px.errors import GainsightPXError

    with pytest.raises(GainsightPXError, match="'users' instead.*another API dialect.*SOURCES__GAINSIGHT_PX__DIALECT"):
        loader.run(resources="users", dialect="contract")


@pytest.mark.parametrize("first", ["contract", "published"])
def test_a_dataset_loaded_in_one_dialect_reloads_in_the_other(first: str, make_emulator, make_loader) -> None:
    """E.g. the demo (contract emulator) into gainsight.duckdb, then a live tenant with --full-refresh."""
    second = "published" if first == "contract" else "contract"
    before = make_emulator(dialect=first, tenant=TenantSpec(users=40, accounts=4, seed=5))
    after = make_emulator(dialect=second, tenant=TenantSpec(users=30, accounts=3, seed=6))
    loader = make_loader(before)
    loader.run(resources="users,accounts")

    summary = loader.run(resources="users,accounts", base_url=after.base_url, full_refresh=True)
    again = loader.run(resources="users,accounts", base_url=after.base_url)

    assert summary.dialect == f"{second} (detected)" and summary.rows == {"users": 30, "accounts": 3}
    assert again.rows == {"users": 0, "accounts": 0}
    assert loader.count("users") == 30


def test_done_when_the_emulator_cli_in_published_dialect_feeds_a_load_with_nothing_set(tmp_path: Path) -> None:
    """`gainsight-px emulator --dialect published`, then `gainsight-px load` twice, no dialect anywhere."""
    import re
    import signal
    import subprocess
    import sys

    server = subprocess.Popen([sys.executable, "-m", "gainsight_px.cli", "emulator", "--dialect", "published",
                               "--users", "120", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, env=cli_env(None, tmp_path), cwd=tmp_path)
    try:
        exports = ""
        for line in server.stdout:  # type: ignore[union-attr]
            if "export " in line:
                exports = line
                break
        found = dict(re.findall(r"(SOURCES__GAINSIGHT_PX__\w+)=(\S+)", exports))
        assert set(found) == {"SOURCES__GAINSIGHT_PX__BASE_URL", "SOURCES__GAINSIGHT_PX__API_KEY"}, exports
        env = {**cli_env(None, tmp_path), **found}
        lists = "users,accounts,features,engagements,segments"

        first = run_cli(["load", "--resources", lists], env, tmp_path)
        second = run_cli(["load", "--resources", lists], env, tmp_path)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)

    assert first.returncode == 0, first.stderr
    rows = {p[0]: p[1] for p in (line.split() for line in first.stdout.splitlines()) if len(p) == 2}
    assert rows["users"] == "120" and rows["accounts"] == "12"
    assert {"features", "engagements", "segments"} <= set(rows)
    assert "API dialect published (detected)" in first.stdout
    assert second.returncode == 0, second.stderr
    again = {p[0]: p[1] for p in (line.split() for line in second.stdout.splitlines()) if len(p) == 2}
    assert again["users"] == again["accounts"] == "0"  # nothing changed: nothing else travels
    assert "API dialect published (remembered)" in second.stdout
