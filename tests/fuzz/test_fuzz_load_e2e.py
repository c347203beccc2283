"""Fuzz the whole load: records of random shape served by the emulator, `gainsight-px load` into DuckDB.

Users are added to the emulator unvalidated, with fields of the wrong type
(numbers as text, floats, booleans, objects, garbage), random
`customAttributes` and brand-new top-level fields. Acceptable outcomes only:
- exit 0 and every user in the table, each added record's values in their
  columns (or, when they do not fit the column's type, as text in the
  `__v_text` variant column);
- exit 1 with an `error:` naming the resource and the field, and nothing
  written to the warehouse (no half-load reported as anything).
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any
from unittest import mock

import dlt
import duckdb
import pytest
from fuzz_helpers import fuzz_settings
from gainsight_px.columns import BLANK_KEY_NAME
from gainsight_px.emulator import Emulator, TenantSpec
from hypothesis import event, given
from hypothesis import strategies as st
from reliability_harness import LOAD_ARGS, Workdir, snapshot

NAMING = dlt.Schema("fuzz").naming
# Keys and values as the client's JSON decoder can hand them over (see test_fuzz_decoder.py).
KEYS = st.text(max_size=6)  # blank keys included
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8),
                    st.sampled_from(["12", "true", "2024-05-01T10:00:00Z", "abc", ""]))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=2) | st.dictionaries(KEYS, inner, max_size=2),
                      max_leaves=4)
FIELD_VALUES = {
    "numberOfVisits": st.integers(0, 10**6) | st.sampled_from(["12", "abc", 1.5, True, 3.0]),
    "score": st.integers(-100, 100) | st.sampled_from(["7", "x", 2.5]),
    "firstName": st.text(max_size=8) | st.integers(-(2**63), 2**63 - 1) | st.booleans(),
    "signUpDate": st.integers(0, 4_102_444_800_000) | st.sampled_from(["1732579200000", "2024-05-01T10:00:00Z",
                                                                         "yesterday"]),
    "email": st.text(max_size=8),
}


@st.composite
def odd_users(draw: st.DrawFn) -> list[dict[str, Any]]:
    out = []
    for i in range(draw(st.integers(1, 4))):
        record: dict[str, Any] = {"aptrinsicId": f"fuzz-{i}", "identifyId": f"fuzz-{i}",
                                  "lastSeenDate": 1_732_579_200_000 + i}
        for name, values in FIELD_VALUES.items():
            if draw(st.booleans()):
                record[name] = draw(values)
        record["customAttributes"] = draw(st.dictionaries(KEYS, VALUES, max_size=4))
        for name in draw(st.lists(st.sampled_from(["brandNewField", "pxInternal"]), max_size=2, unique=True)):
            record[name] = draw(VALUES)
        out.append(record)
    return out


@fuzz_settings(default=10, slow=120)
@given(added=odd_users())
def test_a_load_of_odd_records_is_complete_or_fails_without_writing(added: list[dict[str, Any]],
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    with Emulator(tenant=TenantSpec(users=20, accounts=3, features=2, engagements=2, subscriptions=1, seed=5),
                  now_ms=1_732_579_200_000) as emulator, tempfile.TemporaryDirectory() as tmp:
        for record in added:
            emulator.control.add_record("users", record)
        work = Workdir(Path(tmp), emulator.base_url)
        with mock.patch.dict(os.environ, work.env):
            run = work.cli(*LOAD_ARGS, "--resources", "users", capsys=capsys)
        event(f"exit {run.code}")
        # In-process, any exception but GainsightPXError would propagate out of `cli` and fail the test.
        if run.code != 0:
            assert run.code == 1, run.text
            message = [line for line in run.err.splitlines() if line.startswith("error: ")]
            assert message and "users" in message[0], run.err
            assert snapshot(work.duckdb) == {}, "a failed load wrote to the warehouse"
            return
        with duckdb.connect(str(work.duckdb), read_only=True) as conn:
            cursor = conn.execute("SELECT * FROM gainsight_px.users")
            columns = [d[0] for d in cursor.description]
            rows = {r[columns.index("aptrinsic_id")]: dict(zip(columns, r, strict=True)) for r in cursor.fetchall()}
        assert len(rows) == 20 + len(added)
        for record in added:
            row = rows[record["aptrinsicId"]]
            assert row["identify_id"] == record["identifyId"]
            # Keys of one record that normalise to one column share it (documented: first value wins).
            columns_of = Counter(NAMING.normalize_identifier(k if k.strip() else BLANK_KEY_NAME)
                                 for k in record["customAttributes"])
            values = [v for k, v in record["customAttributes"].items() if v is not None
                      and columns_of[NAMING.normalize_identifier(k if k.strip() else BLANK_KEY_NAME)] == 1]
            landed = [v for c, v in row.items() if c.startswith("custom_attributes__") and v is not None]
            assert len(landed) >= min(1, len(values)), (record["customAttributes"], landed)
            if isinstance(record.get("firstName"), str):
                assert row["first_name"] == record["firstName"]
            for value in values:
                if isinstance(value, str) and value.strip() and not any(
                        isinstance(v, str) and v == value for v in landed):
                    # A text value lands verbatim, in its column or its text variant.
                    raise AssertionError(f"attribute value {value!r} lost: {landed}")
            # Values of other types are checked one by one by the decoder fuzz (test_fuzz_decoder.py).
