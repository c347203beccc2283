"""A full load lands every record of every resource, field by field, with analyst types."""

from __future__ import annotations

import json
from typing import Any

import pytest
from dlt.common.normalizers.naming.snake_case import NamingConvention
from gainsight_px.endpoints import CONTRACT, Dialect
from load_helpers import Loader, ms_to_datetime

NAMING = NamingConvention()
LISTED = ["users", "accounts", "features", "engagements", "subscriptions"]
# Per dialect: the list resources (the published event streams are tested in tests/events).
LISTS = {"contract": LISTED, "published": ["users", "accounts", "features", "engagements", "segments"]}


def as_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def expected_row(resource: str, record: dict[str, Any], dialect: Dialect = CONTRACT) -> dict[str, Any]:
    """How one API record should look in the warehouse (written independently of columns.py)."""
    endpoint = dialect[resource]
    nested = endpoint.all_attributes_fields  # customAttributes; published also location, ...
    out: dict[str, Any] = {}
    for f in endpoint.fields:
        if f.name in nested:
            continue
        value = record.get(f.name)
        if f.type == "timestamp":
            value = ms_to_datetime(value)
        elif f.type in ("array", "object") and value is not None:
            value = as_json(value)  # arrays (propertyKeys, envs, ...) are JSON text
        out[NAMING.normalize_identifier(f.name)] = value
    for name in nested:
        prefix = NAMING.normalize_identifier(name)
        for key, value in (record.get(name) or {}).items():
            column = prefix + "__" + NAMING.normalize_identifier(key)
            if value is None:
                continue  # a key never set anywhere has no column; else its column is NULL here
            if isinstance(value, bool | str):
                out[column] = value
            elif isinstance(value, dict | list):
                out[column] = as_json(value)
            elif key.endswith("Date"):
                out[column] = ms_to_datetime(value)
            else:
                out[column] = float(value)
    return out


@pytest.mark.dialects("contract", "published")
def test_full_load_matches_the_emulator_field_by_field(loader: Loader, dialect: str) -> None:
    summary = loader.run(resources=LISTS[dialect])

    for resource in LISTS[dialect]:
        endpoint = loader.emulator.dialect[resource]
        key = NAMING.normalize_identifier(endpoint.primary_key)
        source = loader.control.records(resource)
        loaded = loader.rows(resource, key=key)
        assert summary.rows[resource] == len(source) > 0
        assert len(loaded) == len(source) == loader.count(resource)
        for record in source:
            row = loaded[record[endpoint.primary_key]]
            want = expected_row(resource, record, loader.emulator.dialect)
            got = {c: v for c, v in row.items() if not c.startswith("_dlt")}
            # Columns for attribute keys this record lacks are NULL.
            assert {c: v for c, v in got.items() if c not in want} == dict.fromkeys(
                set(got) - set(want)), record[endpoint.primary_key]
            assert {c: got.get(c, "<missing column>") for c in want} == want, record[endpoint.primary_key]


def test_column_types_are_what_an_analyst_expects(loader: Loader) -> None:
    loader.run()

    users = loader.column_types("users")
    for column in ("last_seen_date", "first_visit_date", "sign_up_date", "custom_attributes__renewal_date"):
        assert users[column] == "TIMESTAMP WITH TIME ZONE", column
    assert users["aptrinsic_id"] == "VARCHAR"
    assert users["score"] == users["number_of_visits"] == "BIGINT"
    assert users["custom_attributes__plan"] == users["custom_attributes__region"] == "VARCHAR"
    assert users["custom_attributes__seats"] == users["custom_attributes__nps"] == "DOUBLE"
    assert users["custom_attributes__beta"] == "BOOLEAN"
    assert not any(c.startswith("custom_attributes") and c.endswith("v_text") for c in users)

    accounts = loader.column_types("accounts")
    assert accounts["last_seen_date"] == "TIMESTAMP WITH TIME ZONE"
    assert accounts["dupis_buyer"] == "BOOLEAN"
    assert accounts["custom_attributes__arr"] == accounts["custom_attributes__tier"] == "DOUBLE"

    engagements = loader.column_types("engagements")
    assert engagements["type"] == engagements["state"] == "VARCHAR"
    assert engagements["created_date"] == "TIMESTAMP WITH TIME ZONE"
    states = {s for (s,) in loader.query("SELECT DISTINCT state FROM gainsight_px.engagements")}
    assert states == {"DRAFT", "LIVE", "PAUSED", "STAGED"}

    assert loader.column_types("subscriptions")["active"] == "BOOLEAN"


@pytest.mark.dialects("contract", "published")
def test_never_seen_users_load_with_null_dates(loader: Loader) -> None:
    never_seen = [u for u in loader.control.records("users") if u["lastSeenDate"] == 0]
    assert never_seen, "the tenant should have never-seen users"

    loader.run(resources="users")

    nulls = loader.query("SELECT aptrinsic_id FROM gainsight_px.users WHERE last_seen_date IS NULL")
    assert {k for (k,) in nulls} == {u["aptrinsicId"] for u in never_seen}
    assert loader.query("SELECT count(*) FROM gainsight_px.users WHERE last_seen_date = 'epoch'::TIMESTAMPTZ") \
        == [(0,)]


@pytest.mark.dialects("contract", "published")
def test_ids_with_special_characters_and_case_twins_stay_distinct(loader: Loader) -> None:
    loader.run(resources="users")

    identify = {r[0] for r in loader.query("SELECT identify_id FROM gainsight_px.users")}
    source = {u["identifyId"] for u in loader.control.records("users")}
    assert identify == source
    assert any("/" in i for i in identify) and any(" " in i for i in identify)
    assert {"u-000100", "U-000100"} <= identify


def test_resources_can_be_selected(loader: Loader) -> None:
    summary = loader.run(resources=["features", "subscriptions"])

    assert set(summary.rows) == {"features", "subscriptions"}
    tables = {t for (t,) in loader.query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'gainsight_px'")}
    assert {"features", "subscriptions"} <= tables
    assert not tables & {"users", "accounts", "engagements"}
    assert {r["path"] for r in loader.control.requests()} == {"/v1/feature_match", "/v1/subscriptions"}


@pytest.mark.dialects("contract", "published")
@pytest.mark.parametrize("page_size", [1, 7, 500])
def test_page_size_changes_requests_not_rows(make_emulator, make_loader, page_size: int, dialect: str) -> None:
    from gainsight_px.emulator import TenantSpec

    emulator = make_emulator(tenant=TenantSpec(users=30, accounts=3, seed=3), dialect=dialect)
    loader = make_loader(emulator)

    loader.run(resources="users", page_size=page_size)

    assert loader.count("users") == 30
    requests = loader.list_requests("users")
    assert {r["query"]["pageSize"][0] for r in requests} == {str(page_size)}
    # Pages until a short one; an exact multiple needs one more, empty, page.
    assert len(requests) == 30 // page_size + 1


@pytest.mark.parametrize("progress", ["log", "tqdm"])
def test_progress_goes_to_stderr(loader: Loader, capfd, progress: str) -> None:
    summary = loader.run(resources="features", progress=progress)

    out, err = capfd.readouterr()
    assert summary.rows == {"features": 40}
    assert "features" in err and out == ""
