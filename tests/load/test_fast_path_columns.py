"""Attributes read in one Arrow pass (columns.py `_inferred_attributes`): the same tables as key by key,
and every page that pass cannot take falls back and still converts exactly."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from dlt.common.normalizers.naming.snake_case import NamingConvention
from gainsight_px.client import PXClient
from gainsight_px.columns import MAX_STRUCT_FAILURES, MAX_VALUE_BYTES, PageConverter
from gainsight_px.emulator import Emulator, TenantSpec
from gainsight_px.endpoints import CONTRACT
from gainsight_px.errors import APIError
from gainsight_px.paging import Scan
from gainsight_px.settings import EMULATOR_API_KEY

NAMING = NamingConvention()
USERS = CONTRACT["users"]
MS = 1_732_579_200_000


def user(key: str, **attributes: Any) -> dict[str, Any]:
    return {"aptrinsicId": key, "lastSeenDate": MS, "customAttributes": attributes}


def key_by_key() -> PageConverter:
    """A converter that never tries the one-pass read: the reference."""
    converter = PageConverter(USERS, NAMING)
    converter._struct_failures = MAX_STRUCT_FAILURES
    return converter


def both(pages: list[list[dict[str, Any]]]) -> tuple[list[dict[str, list[Any]]], list[dict[str, list[Any]]], int]:
    fast, slow = PageConverter(USERS, NAMING), key_by_key()
    fast_tables = [fast.convert(p) for p in pages]
    slow_tables = [slow.convert(p) for p in pages]
    for a, b in zip(fast_tables, slow_tables, strict=True):
        assert a.schema == b.schema
    return [t.to_pydict() for t in fast_tables], [t.to_pydict() for t in slow_tables], fast._struct_failures


@pytest.mark.parametrize("dialect_name", ["contract", "published"])
def test_emulator_pages_convert_to_the_same_tables_as_key_by_key(
        make_emulator: Callable[..., Emulator], dialect_name: str) -> None:
    emulator = make_emulator(dialect=dialect_name, tenant=TenantSpec(users=600, seed=11, extra_attributes=40))
    endpoint = emulator.dialect["users"]
    client = PXClient(emulator.base_url, EMULATOR_API_KEY)
    pages = list(Scan(client, endpoint, page_size=100).pages())
    fast, slow = PageConverter(endpoint, NAMING), PageConverter(endpoint, NAMING)
    slow._struct_failures = MAX_STRUCT_FAILURES
    for page in pages:
        a, b = fast.convert(page), slow.convert(page)
        assert a.equals(b)
    assert fast._struct_failures == 0  # the one-pass read took every page


def test_a_page_the_one_pass_read_rejects_falls_back_and_still_converts_exactly() -> None:
    first = [user("a", plan="gold", seats=3, beta=True), user("b", plan="free", seats=1.5, beta=False)]
    mixed = [user("c", plan="gold", seats="many", beta=True),  # "many" under a double: one pass fails
             user("d", plan=7, seats=2, beta="yes")]
    fast, slow, failures = both([first, mixed])
    assert fast == slow
    assert failures == 1
    assert fast[1]["custom_attributes__seats"] == [None, 2.0]
    assert fast[1]["custom_attributes__seats__v_text"] == ["many", None]
    assert fast[1]["custom_attributes__plan"] == ["gold", "7"]
    assert fast[1]["custom_attributes__beta"] == [True, None]
    assert fast[1]["custom_attributes__beta__v_text"] == [None, "yes"]


def test_a_key_that_does_not_fit_its_column_falls_back_alone() -> None:
    first = [user("a", plan="gold", seats=3, renewalDate=MS)]
    off = [user("b", plan=4, seats=2, renewalDate=1.5),  # one-pass read works; plan and renewalDate misfit
           user("c", plan=5, seats=None, renewalDate=2.5)]
    fast, slow, failures = both([first, off])
    assert fast == slow
    assert failures == 0
    assert fast[1]["custom_attributes__plan"] == ["4", "5"]
    assert fast[1]["custom_attributes__renewal_date"] == [None, None]
    assert fast[1]["custom_attributes__renewal_date__v_text"] == ["1.5", "2.5"]


def test_new_keys_and_colliding_keys_take_the_key_by_key_path() -> None:
    pages = [[user("a", plan="gold")],
             [user("b", plan="free", seats=2)],  # a new key: typed from its values
             [user("c", planType="x", plan_type="y")],  # two keys, one column
             [user("d", plan="gold", seats=4)]]
    fast, slow, _ = both(pages)
    assert fast == slow
    assert fast[1]["custom_attributes__seats"] == [2.0]
    assert fast[2]["custom_attributes__plan_type"] == ["x"]
    assert fast[2]["custom_attributes__plan_type__v_text"] == ["y"]


def test_an_attribute_key_named_like_a_variant_column_keeps_its_values() -> None:
    pages = [[user("a", seats=1, seats__v_text="kept")],
             [user("b", seats="three", seats__v_text="also kept")]]
    fast, slow, _ = both(pages)
    assert fast == slow


def test_after_repeated_failures_the_converter_stops_trying_the_one_pass_read() -> None:
    converter = PageConverter(USERS, NAMING)
    converter.convert([user("a", seats=1)])
    tried = 0
    for n in range(MAX_STRUCT_FAILURES + 3):
        before = converter._struct_failures
        table = converter.convert([user(f"m{n}", seats="x"), user(f"n{n}", seats=2)])
        tried += converter._struct_failures - before
        assert table.column("custom_attributes__seats").to_pylist() == [None, 2.0]
    assert tried == MAX_STRUCT_FAILURES


def test_the_limits_still_name_record_and_field() -> None:
    converter = PageConverter(USERS, NAMING)
    converter.convert([user("a", notes="short")])
    with pytest.raises(APIError, match=r"aptrinsicId='big'.*custom_attributes__notes.*more than the"):
        converter.convert([user("ok", notes="x"), user("big", notes="y" * (MAX_VALUE_BYTES + 1))])


@pytest.mark.parametrize("pages", [
    [[user("a", score=1.5), user("b", score=True)]],  # one page: Arrow alone would read True as 1.0
    [[user("a", score=1.5)], [user("b", score=2.5), user("c", score=False)]],  # the column exists already
])
def test_a_boolean_after_a_float_goes_to_the_variant_column_not_a_number(pages) -> None:
    fast, slow, _ = both(pages)
    assert fast == slow
    last = fast[-1]
    flag = pages[-1][-1]["customAttributes"]["score"]
    value = last["custom_attributes__score"][-1]
    variant = last.get("custom_attributes__score__v_text", [None] * len(last["custom_attributes__score"]))[-1]
    assert value != 1.0 and value != 0.0  # not turned into a number
    assert ("true" if flag else "false") in (value, variant)
