"""Page -> typed Arrow table: the typing rules, lossless coercion, clean failures."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pytest
from dlt.common.normalizers.naming.snake_case import NamingConvention
from gainsight_px.columns import PageConverter
from gainsight_px.endpoints import CONTRACT
from gainsight_px.errors import APIError
from load_helpers import Loader

NAMING = NamingConvention()
MS = 1_732_579_200_000
WHEN = datetime(2024, 11, 26, tzinfo=UTC)


def user(key: str, **fields: Any) -> dict[str, Any]:
    return {"aptrinsicId": key, "lastSeenDate": MS, **fields}


def convert(records: list[dict[str, Any]], converter: PageConverter | None = None) -> dict[str, list[Any]]:
    converter = converter or PageConverter(CONTRACT["users"], NAMING)
    return converter.convert(records).to_pydict()


def test_dates_become_utc_timestamps_and_zero_becomes_null() -> None:
    table = PageConverter(CONTRACT["users"], NAMING).convert(
        [user("a", firstVisitDate=0), user("b", lastSeenDate=0, signUpDate=None)])

    assert table.schema.field("last_seen_date").type == pa.timestamp("us", tz="UTC")
    columns = table.to_pydict()
    assert columns["last_seen_date"] == [WHEN, None]
    assert columns["first_visit_date"] == [None, None]
    assert columns["sign_up_date"] == [None, None]


def test_off_type_values_are_coerced_only_when_nothing_is_lost() -> None:
    columns = convert([
        user("a", score="12", numberOfVisits=3.0, lastSeenDate=str(MS), email=42, firstName=True,
             signUpDate="2024-11-26T00:00:00Z"),
        user("b", score=7, numberOfVisits=None, firstName="Ada"),
    ])

    assert columns["score"] == [12, 7]
    assert columns["number_of_visits"] == [3, None]
    assert columns["last_seen_date"] == [WHEN, WHEN]
    assert columns["sign_up_date"] == [WHEN, None]
    assert columns["email"] == ["42", None]
    assert columns["first_name"] == ["true", "Ada"]


@pytest.mark.parametrize(("field", "value", "expected"), [
    ("score", "twelve", "integer"),
    ("score", 1.5, "integer"),
    ("score", True, "integer"),
    ("lastSeenDate", "yesterday", "timestamp"),
    ("lastSeenDate", "2024-11-26T00:00:00", "timestamp"),  # no timezone: which instant?
    ("customAttributes", ["not", "an", "object"], "object"),
])
def test_values_that_cannot_be_converted_fail_naming_resource_key_and_field(field, value, expected) -> None:
    with pytest.raises(APIError) as info:
        convert([user("a"), user("user-77", **{field: value})])

    message = str(info.value)
    assert "users record aptrinsicId='user-77'" in message
    assert f"field {field!r} should be {expected}" in message


def test_a_record_without_its_key_fails_cleanly() -> None:
    with pytest.raises(APIError, match="without its primary key 'aptrinsicId'"):
        convert([user("a"), {"identifyId": "x", "lastSeenDate": MS}])


def test_custom_attributes_become_typed_columns() -> None:
    columns = convert([
        user("a", customAttributes={"plan": "Pro", "seats": 3, "nps": 7.5, "beta": True,
                                    "renewalDate": MS, "tags": ["x", "y"], "Plan Tier!": "gold"}),
        user("b", customAttributes={"seats": 4.5, "renewalDate": 0}),
        user("c"),
    ])

    assert columns["custom_attributes__plan"] == ["Pro", None, None]
    assert columns["custom_attributes__seats"] == [3.0, 4.5, None]
    assert columns["custom_attributes__nps"] == [7.5, None, None]
    assert columns["custom_attributes__beta"] == [True, None, None]
    assert columns["custom_attributes__renewal_date"] == [WHEN, None, None]
    assert columns["custom_attributes__tags"] == ['["x","y"]', None, None]
    assert columns["custom_attributes__plan_tierx"] == ["gold", None, None]


def test_a_new_key_with_mixed_types_on_its_first_page_is_text() -> None:
    columns = convert([user("a", customAttributes={"tier": 2}), user("b", customAttributes={"tier": "gold"})])

    assert columns["custom_attributes__tier"] == ["2", "gold"]


def test_types_stick_across_pages_and_misfits_keep_their_value_as_text() -> None:
    converter = PageConverter(CONTRACT["users"], NAMING)
    first = converter.convert([user("a", customAttributes={"seats": 3, "beta": False})])
    second = converter.convert([user("b", customAttributes={"seats": "lots", "beta": "yes"}),
                                user("c", customAttributes={"seats": 2**60})])

    assert first.schema.field("custom_attributes__seats").type == pa.float64()
    assert second.schema.field("custom_attributes__seats").type == pa.float64()
    columns = second.to_pydict()
    assert columns["custom_attributes__seats"] == [None, None]
    assert columns["custom_attributes__seats__v_text"] == ["lots", str(2**60)]
    assert columns["custom_attributes__beta__v_text"] == ["yes", None]
    # Every column the run knows is on every page, so pages share one schema.
    third = converter.convert([user("d")])
    assert third.schema.names == second.schema.names


def test_types_stick_across_runs_through_the_stored_schema() -> None:
    converter = PageConverter(CONTRACT["users"], NAMING,
                              known_columns={"custom_attributes__region": "text", "custom_attributes__score": "bool"})

    columns = converter.convert([user("a", customAttributes={"region": 5, "score": 1})]).to_pydict()

    assert columns["custom_attributes__region"] == ["5"]  # text takes anything, as text
    assert columns["custom_attributes__score"] == [None]
    assert columns["custom_attributes__score__v_text"] == ["1"]


def test_unknown_top_level_fields_become_columns() -> None:
    columns = convert([user("a", brandNewField="x", pxInternalFlags={"shard": 1}, lastSeen_date=5)])

    assert columns["brand_new_field"] == ["x"]
    assert columns["px_internal_flags"] == ['{"shard":1}']
    assert columns["last_seen_date__extra"] == [5.0]  # never mixed into the real last_seen_date


def test_malformed_pages_from_the_api_load_without_loss(loader: Loader) -> None:
    loader.control.inject("malformed_records", count=1, path="/v1/users")

    loader.run(resources="users", page_size=100)

    source = {u["aptrinsicId"]: u for u in loader.control.records("users")}
    rows = loader.rows("users", key="aptrinsic_id")
    assert rows.keys() == source.keys()
    types = loader.column_types("users")
    assert types["score"] == "BIGINT" and types["last_seen_date"] == "TIMESTAMP WITH TIME ZONE"
    assert types["brand_new_field"] == "VARCHAR"
    malformed = [r for r in rows.values() if r["brand_new_field"] is not None]
    assert len(malformed) == 100
    for row in malformed:
        original = source[row["aptrinsic_id"]]
        # Numbers sent as strings came back as numbers; a dropped field is NULL, not garbage.
        assert row["score"] in (original["score"], None)
        assert row["number_of_visits"] in (original["numberOfVisits"], None)
    assert sum(r["score"] is None for r in malformed) >= 1


def test_keys_sharing_a_column_lose_no_value() -> None:
    # "planType" and "plan_type" both become custom_attributes__plan_type: the first
    # non-null value takes the column, a second one in the same record its text variant.
    columns = convert([
        user("a", customAttributes={"planType": True, "plan_type": "Pro"}),
        user("b", customAttributes={"plan_type": False}),
        user("c", customAttributes={"planType": None, "plan_type": True}),
    ])

    assert columns["custom_attributes__plan_type"] == [True, False, True]
    assert columns["custom_attributes__plan_type__v_text"] == ["Pro", None, None]
