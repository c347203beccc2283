"""Documented limits (columns.py): past them the load stops with one message naming the record and
the field, and writes nothing."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from gainsight_px.columns import MAX_ATTRIBUTE_KEYS, MAX_NESTING, MAX_VALUE_BYTES
from gainsight_px.emulator import TenantSpec
from gainsight_px.errors import APIError
from load_helpers import Loader

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "hostile"))
from hostile_server import HostileServer, json_reply  # noqa: E402

TENANT = TenantSpec(users=40, accounts=4, seed=9)


def _nested(levels: int) -> object:
    value: object = "bottom"
    for _ in range(levels):
        value = {"next": value}
    return value


CASES = {
    "huge-value": ({"customAttributes": {"notes": "x" * (MAX_VALUE_BYTES + 1)}},
                   ["customAttributes__notes", "custom_attributes__notes", "bytes"]),
    "too-many-keys": ({"customAttributes": {f"k{i}": i for i in range(MAX_ATTRIBUTE_KEYS * 2)}},
                      ["customAttributes", "2,000 keys"]),
    "microseconds": ({"lastSeenDate": 1_732_579_200_000_000}, ["lastSeenDate", "microseconds"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_record_past_a_limit_stops_the_load_naming_record_and_field(make_emulator, tmp_path: Path,
                                                                      case: str) -> None:
    record, expected = CASES[case]
    emulator = make_emulator(tenant=TENANT)
    emulator.control.add_record("users", {"aptrinsicId": "poison-1", "identifyId": "poison-1",
                                          "lastSeenDate": 1_732_579_200_000, **record})
    loader = Loader(emulator, tmp_path)
    with pytest.raises(APIError) as failed:
        loader.run(resources="users", dialect="contract")
    message = str(failed.value)
    assert "poison-1" in message and "\n" not in message
    assert any(e in message for e in expected[:-1]) and expected[-1] in message, message
    assert "Recursion limit" not in message and "out of range" not in message
    assert not loader.db_path.exists() or not loader.query(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'users'")[0][0]


def test_attributes_nested_past_the_limit_name_the_field(tmp_path: Path) -> None:
    """The emulator cannot even serve such a record; a hostile server can."""
    record = {"aptrinsicId": "deep-1", "identifyId": "deep-1", "lastSeenDate": 1_732_579_200_000,
              "customAttributes": {"tree": _nested(MAX_NESTING + 10)}}
    with HostileServer() as server:
        server.on("GET", "/users", json_reply({"results": [record], "scrollId": None, "totalHits": 1}))

        class Stub:  # what Loader needs of an emulator
            base_url = server.base_url
            control = None

        with pytest.raises(APIError) as failed:
            Loader(Stub(), tmp_path).run(resources="users", dialect="contract")  # type: ignore[arg-type]
    message = str(failed.value)
    assert "deep-1" in message and "customAttributes.tree" in message and "nested deeper" in message
    assert "Recursion limit" not in message
