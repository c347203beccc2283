"""The coercion rules of push/validate.py, as documented in the README."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from gainsight_px.endpoints import CONTRACT, Field
from gainsight_px.errors import InputError
from gainsight_px.push.validate import coerce, infer_attribute, resolve_target, to_epoch_ms, validate_rows

MAY_1_MS = 1714521600000


@pytest.mark.parametrize("value, expected", [
    ("2024-05-01", MAY_1_MS),
    ("2024-05-01T00:00:00Z", MAY_1_MS),
    ("2024-05-01T02:00:00+02:00", MAY_1_MS),
    ("2024-05-01 00:00:00.250", MAY_1_MS + 250),
    (" 1714521600000 ", MAY_1_MS),
    (MAY_1_MS, MAY_1_MS),
    (dt.date(2024, 5, 1), MAY_1_MS),
    (dt.datetime(2024, 5, 1), MAY_1_MS),  # naive: UTC
    (dt.datetime(2024, 5, 1, 2, tzinfo=dt.timezone(dt.timedelta(hours=2))), MAY_1_MS),
])
def test_dates_become_epoch_ms(value: object, expected: int) -> None:
    assert to_epoch_ms(value) == expected


@pytest.mark.parametrize("value, message", [
    ("1714521600", "epoch seconds"),
    ("0", "too small"),
    ("-5", "too small"),
    ("yesterday", "ISO 8601"),
    ("2024-13-01", "ISO 8601"),
    ("99999999999999999", "past year 9999"),
    (True, "boolean"),
])
def test_bad_dates_are_refused(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        to_epoch_ms(value)


@pytest.mark.parametrize("text, expected", [
    ("true", True), ("FALSE", False), ("42", 42), ("-7", -7), ("0", 0), ("3.5", 3.5), ("-0.25", -0.25),
    ("007", "007"), ("02134", "02134"), ("1e5", "1e5"), ("+44123", "+44123"), ("1,000", "1,000"),
    ("yes", "yes"), ("2024-05-01", "2024-05-01"), (" padded ", " padded "), ("NaN", "NaN"),
    ("99999999999999999999", "99999999999999999999"),  # beyond int64: kept as text
])
def test_custom_attribute_text_inference(text: str, expected: object) -> None:
    got = infer_attribute(text)
    assert got == expected and type(got) is type(expected)


def test_custom_attribute_native_values() -> None:
    assert infer_attribute(Decimal("12")) == 12 and infer_attribute(Decimal("1.5")) == 1.5
    assert infer_attribute(dt.date(2024, 5, 1)) == MAY_1_MS
    with pytest.raises(ValueError):
        infer_attribute(float("inf"))
    with pytest.raises(ValueError):
        infer_attribute([1, 2])


@pytest.mark.parametrize("kind, text, expected", [
    ("integer", "12", 12), ("integer", " -3 ", -3), ("integer", "12.0", 12),
    ("number", "1.25", 1.25), ("number", "7", 7), ("number", "-1e3", -1000.0),
    ("boolean", "Yes", True), ("boolean", "0", False), ("boolean", "TRUE", True),
])
def test_typed_fields_coerce_from_text(kind: str, text: str, expected: object) -> None:
    assert coerce(text, Field("f", kind)) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("kind, text", [
    ("integer", "12.5"), ("integer", "twelve"), ("integer", "1e3"), ("integer", "9" * 30),
    ("number", "nan"), ("number", "inf"), ("number", "1,5"),
    ("boolean", "maybe"), ("boolean", "2"),
])
def test_typed_fields_refuse_bad_text(kind: str, text: str) -> None:
    with pytest.raises(ValueError):
        coerce(text, Field("f", kind))  # type: ignore[arg-type]


def test_emails_and_enums() -> None:
    email = CONTRACT["users"].field_map["email"]
    assert coerce(" a.b@example.co.uk ", email) == "a.b@example.co.uk"
    for bad in ("a@b", "a b@example.com", "@example.com", "a@example.", "a@@example.com"):
        with pytest.raises(ValueError, match="not an email"):
            coerce(bad, email)
    with pytest.raises(ValueError, match="one of"):
        coerce("Popup", Field("type", "string", enum=("Dialog", "Slider")))


def test_every_problem_of_a_row_is_reported_together() -> None:
    target = resolve_target("events")
    checked = validate_rows(["identifyId", "eventName", "date"], [(2, ["", "", "soon"])], target, "x.csv")
    (reject,) = checked.rejects
    assert reject.reason == ("identifyId: required, but the cell is empty; eventName: required, but the cell "
                             "is empty; date: expected an ISO 8601 date (2024-05-01T10:00:00Z) or epoch "
                             "milliseconds, got 'soon'")


def test_duplicate_keys_are_case_sensitive_and_reject_every_copy() -> None:
    target = resolve_target("users")
    rows = [(2, ["Ann"]), (3, ["ann"]), (4, ["Ann"]), (5, ["Ann"])]
    checked = validate_rows(["identifyId"], rows, target, "x.csv")
    assert [p.key for p in checked.payloads] == ["ann"]
    assert [r.row_number for r in checked.rejects] == [2, 4, 5]
    assert "appears 3 times in this input (rows 2, 4, 5)" in checked.rejects[0].reason


def test_update_mode_requires_only_the_key_and_upsert_the_required_fields() -> None:
    validate_rows(["id", "plan"], [], resolve_target("accounts", "update"), "a.csv")
    with pytest.raises(InputError, match="missing required column"):
        validate_rows(["id", "plan"], [], resolve_target("accounts", "upsert"), "a.csv")
