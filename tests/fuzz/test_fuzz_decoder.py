"""Fuzz the API response decoder (`columns.PageConverter`: page -> typed Arrow table).

Pages hold records within and outside the schema: fields missing, of the wrong
type (numbers as strings, floats, booleans, objects, huge integers, garbage
text), `customAttributes` of any JSON shape, and brand-new top-level fields.
Several pages go through one converter, so sticky types across pages are
exercised too.

Acceptable outcomes only:
- a table with one row per record where every value that fits its column is
  there, equal to what was sent (timestamps: epoch ms -> UTC, 0 -> NULL), and
  no attribute or new-field value is lost (it is in its column or, when it
  does not fit the column's type, as text in the `__v_text` variant column);
- or an `APIError` naming the resource and the field (or the primary key).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import dlt
import orjson
import pyarrow as pa
from fuzz_helpers import fuzz_settings, outcome
from gainsight_px.columns import BLANK_KEY_NAME, PageConverter
from gainsight_px.endpoints import CONTRACT, Endpoint
from gainsight_px.errors import APIError
from hypothesis import event, given
from hypothesis import strategies as st

NAMING = dlt.Schema("fuzz").naming
RESOURCES = ["users", "accounts", "features", "engagements"]
# Attribute keys and new fields with distinct column names (colliding keys share a
# column by documented design, first value wins; that is not what this checks).
ATTRIBUTE_KEYS = ["plan", "seats", "isTrial", "renewalDate", "tags", "nested", "ratio", "nps score"]
NEW_FIELDS = ["brandNewField", "pxInternalFlags", "newCount", "signupSource"]

JSON_SCALARS = st.one_of(
    st.none(), st.booleans(),
    # What orjson (the client's JSON decoder) can hand over: larger integers arrive as floats.
    st.integers(-(2**63), 2**64 - 1), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8), st.sampled_from(["12", "-3", "12.5", "true", "FALSE", "2024-05-01T10:00:00Z",
                                          "2024-05-01T10:00:00", "1732579200000", "0", "", "abc"]),
)
# Blank keys ("", " ") included: JSON allows them (test_blank_attribute_key_is_a_clean_error pins them too).
KEYS = st.text(max_size=4)
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(KEYS, inner, max_size=3), max_leaves=6)
MS = st.integers(0, 4_102_444_800_000)  # up to 2100


def good_value(field_type: str) -> st.SearchStrategy[Any]:
    return {
        "string": st.text(max_size=10),
        "integer": st.integers(-(2**62), 2**62),
        "number": st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**50), 2**50),
        "boolean": st.booleans(),
        "timestamp": MS,
    }[field_type]


def coercible_value(field_type: str) -> st.SearchStrategy[Any]:
    return {
        "string": st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | st.booleans(),
        "integer": st.integers(-(2**53), 2**53).flatmap(lambda n: st.sampled_from([str(n), float(n), f" {n} "])),
        "number": st.floats(allow_nan=False, allow_infinity=False).map(repr),
        "boolean": st.sampled_from(["true", "false", "TRUE", " False "]),
        "timestamp": MS.flatmap(lambda ms: st.sampled_from([str(ms), float(ms),
                                                            datetime.fromtimestamp(ms / 1000, UTC).isoformat()])),
    }[field_type]


@st.composite
def records(draw: st.DrawFn, endpoint: Endpoint, index: int) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for f in endpoint.fields:
        if f.name == endpoint.primary_key:
            roll = draw(st.integers(0, 30))
            if roll == 0:
                continue  # a record without its key
            record[f.name] = f"k{index}" if roll > 1 else draw(JSON_VALUES)
            continue
        if f.name == endpoint.attributes_field:
            if draw(st.integers(0, 10)) == 0:
                record[f.name] = draw(JSON_VALUES)  # not an object at all
            else:
                record[f.name] = draw(st.dictionaries(st.sampled_from(ATTRIBUTE_KEYS), JSON_VALUES, max_size=4))
            continue
        how = draw(st.sampled_from(["good"] * 5 + ["absent", "null", "coercible", "coercible"]))
        if how == "good":
            record[f.name] = draw(good_value(f.type))
        elif how == "null":
            record[f.name] = None
        elif how == "coercible":  # the wrong JSON type, but convertible without loss
            record[f.name] = draw(coercible_value(f.type))
    if draw(st.integers(0, 15)) == 0:  # now and then, any JSON at all in one field
        name = draw(st.sampled_from([f.name for f in endpoint.fields if f.name != endpoint.primary_key]))
        record[name] = draw(JSON_VALUES)
    for name in draw(st.lists(st.sampled_from(NEW_FIELDS), max_size=2, unique=True)):
        record[name] = draw(JSON_VALUES)
    return record


@st.composite
def pages(draw: st.DrawFn) -> tuple[Endpoint, list[list[dict[str, Any]]]]:
    endpoint = CONTRACT[draw(st.sampled_from(RESOURCES))]
    out, index = [], 0
    for size in draw(st.lists(st.integers(1, 6), min_size=1, max_size=3)):
        page = []
        for _ in range(size):
            page.append(draw(records(endpoint, index)))
            index += 1
        out.append(page)
    return endpoint, out


def as_ms(value: Any) -> int | None:
    """The epoch ms an input value stands for, if it does so exactly; None if it does not."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("+-").isdigit() and text.lstrip("+-").isascii():
            return int(text)
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        return round(parsed.timestamp() * 1000) if parsed.tzinfo else None
    return None


def fits(expected_type: str, sent: Any, got: Any) -> bool:
    """Is `got` (from the table) the lossless reading of `sent` for a column of `expected_type`?"""
    if expected_type in ("string", "text", "object"):
        if isinstance(sent, str):
            return got == sent
        return isinstance(got, str)  # scalars/objects rendered as text
    if expected_type in ("integer", "bigint"):
        return not isinstance(got, bool) and isinstance(got, int) and (
            (not isinstance(sent, str) and not isinstance(sent, bool) and sent == got)
            or (isinstance(sent, str) and int(sent.strip()) == got))
    if expected_type in ("number", "double"):
        return float(sent) == got
    if expected_type in ("boolean", "bool"):
        return got is (sent if isinstance(sent, bool) else sent.strip().lower() == "true")
    if expected_type == "timestamp":  # `got` is microseconds (see rows_of)
        ms = as_ms(sent)
        if ms == 0:
            return got is None
        return isinstance(got, int) and ms is not None and got == ms * 1000
    raise AssertionError(expected_type)


def rows_of(table: pa.Table) -> list[dict[str, Any]]:
    """Rows as Python values, timestamps as integer microseconds (Arrow holds instants past
    year 9999, Python's datetime does not)."""
    for i, f in enumerate(table.schema):
        if pa.types.is_timestamp(f.type):
            table = table.set_column(i, f.name, table.column(i).cast(pa.int64()))
    return table.to_pylist()


def shared_columns(keys: list[str], column_of: Any) -> set[str]:
    """Columns that two keys of one record map to (they share it by design: first value wins)."""
    seen: dict[str, int] = {}
    for key in keys:
        seen[column_of(key)] = seen.get(column_of(key), 0) + 1
    return {c for c, n in seen.items() if n > 1}


def check_table(endpoint: Endpoint, converter: PageConverter, page: list[dict[str, Any]], table: pa.Table) -> None:
    assert table.num_rows == len(page)
    rows = rows_of(table)
    key_column = NAMING.normalize_identifier(endpoint.primary_key)
    for record, row in zip(page, rows, strict=True):
        assert row[key_column] is not None
        for f in endpoint.fields:
            if f.name == endpoint.attributes_field:
                continue
            column = NAMING.normalize_identifier(f.name)
            sent = record.get(f.name)
            if sent is None:
                assert row[column] is None, (f.name, row[column])
            else:
                assert fits(f.type, sent, row[column]), (f.name, sent, row[column])
        dynamic: list[tuple[str, Any]] = []
        shared: set[str] = set()
        attributes = record.get(endpoint.attributes_field) if endpoint.attributes_field else None
        if isinstance(attributes, dict):
            prefix = NAMING.normalize_identifier(endpoint.attributes_field)

            def column_of(key: str, prefix: str = prefix) -> str:
                return NAMING.make_path(prefix, NAMING.normalize_identifier(key if key.strip() else BLANK_KEY_NAME))

            dynamic += [(column_of(k), v) for k, v in attributes.items()]
            shared = shared_columns(list(attributes), column_of)
        dynamic += [(NAMING.normalize_identifier(k), record[k]) for k in NEW_FIELDS if k in record]
        for column, sent in dynamic:
            variant = NAMING.make_path(column, "v_text")
            if sent is None or column in shared:
                continue
            base = row.get(column)
            if base is None and converter.dynamic.get(column) == "timestamp" and as_ms(sent) == 0:
                continue  # a `...Date` attribute of 0 means "never": NULL, as for known dates
            if base is not None:
                assert fits(converter.dynamic[column], sent, base), (column, sent, base)
            else:  # did not fit the column's type: kept as text, nothing lost
                assert isinstance(row.get(variant), str), (column, sent, row.get(variant))
                if isinstance(sent, str):
                    assert row[variant] == sent
                else:
                    assert orjson.loads(row[variant]) == orjson.loads(orjson.dumps(sent)) or isinstance(
                        sent, float | int), (column, sent, row[variant])


@fuzz_settings(default=300, slow=5000)
@given(case=pages())
def test_decoder_keeps_every_value_or_names_the_field(case: tuple[Endpoint, list[list[dict[str, Any]]]]) -> None:
    endpoint, page_list = case
    converter = PageConverter(endpoint, NAMING)
    for page in page_list:
        result = outcome(lambda page=page: converter.convert(page))
        if isinstance(result, pa.Table):
            check_table(endpoint, converter, page, result)
            event("page -> table")
            continue
        event(f"page -> {type(result).__name__}")
        assert isinstance(result, APIError), f"{type(result).__name__}: {result}"
        message = str(result)
        assert endpoint.name in message
        assert "primary key" in message or any(repr(f.name) in message for f in endpoint.fields), message
        return  # the load stops at the first bad page


def test_the_checker_can_fail() -> None:
    """The oracle above is not vacuous: a wrong value in the table is caught."""
    endpoint = CONTRACT["users"]
    converter = PageConverter(endpoint, NAMING)
    page = [{"aptrinsicId": "k0", "numberOfVisits": "12", "lastSeenDate": 1_732_579_200_000,
             "customAttributes": {"plan": "Pro"}}]
    table = converter.convert(page)
    check_table(endpoint, converter, page, table)
    wrong = table.set_column(table.schema.get_field_index("number_of_visits"), "number_of_visits",
                             pa.array([13], pa.int64()))
    try:
        check_table(endpoint, converter, page, wrong)
    except AssertionError:
        return
    raise AssertionError("the checker accepted a wrong value")


def test_blank_attribute_key_is_a_clean_error() -> None:
    """JSON allows "" (or " ") as an object key; the decoder must load it or name it, not crash."""
    converter = PageConverter(CONTRACT["accounts"], NAMING)
    for page in ([{"id": "a1", "customAttributes": {"": "x"}}], [{"id": "a2", " ": 1}]):
        result = outcome(lambda page=page: converter.convert(page))
        if isinstance(result, pa.Table):
            assert result.num_rows == 1
        else:
            assert isinstance(result, APIError) and "accounts" in str(result), result


def test_timestamps_are_utc_and_zero_is_null() -> None:
    converter = PageConverter(CONTRACT["users"], NAMING)
    table = converter.convert([{"aptrinsicId": "a", "lastSeenDate": 1_732_579_200_000, "firstVisitDate": 0}])
    row = table.to_pylist()[0]
    assert row["last_seen_date"] == datetime(2024, 11, 26, tzinfo=UTC)
    assert row["first_visit_date"] is None
