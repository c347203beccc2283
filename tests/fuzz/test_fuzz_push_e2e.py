"""Fuzz the whole push: CSV files of users with hostile cell content, pushed for real to the emulator.

Cells hold separators, quotes, line breaks, leading and trailing spaces,
unicode, ids with `/ + @` and spaces, duplicated ids, malformed emails and
numbers. Acceptable outcomes only:
- every row is accounted for exactly once: delivered (PX got exactly one
  accepted write for it, carrying the cells as written) or rejected (in the
  rejects file, with its row number and a reason); exit 0 without rejects,
  2 with them;
- or a clean `GainsightPXError` naming the file, with nothing sent.
Rows that are certainly valid must be delivered; rows that are certainly
invalid must be rejected.
"""

from __future__ import annotations

import csv
import itertools
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fuzz_helpers import fuzz_settings, outcome
from gainsight_px.emulator import Emulator, TenantSpec
from gainsight_px.errors import GainsightPXError
from gainsight_px.push import PushSummary, push_csv
from gainsight_px.settings import EMULATOR_API_KEY
from hypothesis import event, given
from hypothesis import strategies as st

HEADER = ["identifyId", "email", "firstName", "customAttributes.note", "customAttributes.count"]
HOSTILE = st.text(alphabet=st.sampled_from(list(',;"\'\r\n \t/+@#%\\x\u00e9\u20ac\U0001f600')), max_size=8)
SAFE_EMAIL = st.from_regex(r"[a-z][a-z0-9]{0,6}@[a-z]{1,6}\.[a-z]{2,3}", fullmatch=True)
_examples = itertools.count()


@dataclass
class Row:
    cells: list[str]
    surely_valid_email: bool
    surely_bad_email: bool


@st.composite
def user_files(draw: st.DrawFn) -> list[Row]:
    rows = []
    tokens = draw(st.lists(HOSTILE | st.text(max_size=6), min_size=1, max_size=8))
    for token in tokens:
        kind = draw(st.sampled_from(["safe", "safe", "hostile", "no-at", "empty"]))
        email = {"safe": lambda: draw(SAFE_EMAIL), "hostile": lambda: draw(HOSTILE),
                 "no-at": lambda: draw(HOSTILE).replace("@", "") + "example.com", "empty": lambda: ""}[kind]()
        count = draw(st.sampled_from(["", "7", "-3", "007", "1.5", "x", " 12 "]))
        cells = [f"id {token}", email, draw(HOSTILE | st.text(max_size=6)), "n:" + draw(HOSTILE), count]
        rows.append(Row(cells, surely_valid_email=kind in ("safe", "empty"), surely_bad_email=kind == "no-at"))
    return rows


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(tenant=TenantSpec(users=5, accounts=1, features=1, engagements=1, subscriptions=1, seed=9)) as emu:
        yield emu


def rejected_rows(path: Path | None) -> dict[int, str]:
    if path is None or not path.exists():
        return {}
    with path.open(encoding="utf-8", newline="") as fh:
        return {int(r["row_number"]): r["reason"] for r in csv.DictReader(fh)}


@fuzz_settings(default=60, slow=1000)
@given(rows=user_files(), bom=st.booleans())
def test_a_push_of_hostile_cells_accounts_for_every_row(emulator: Emulator, rows: list[Row], bom: bool) -> None:
    prefix = f"ex{next(_examples)}"
    for row in rows:  # ids unique to this example: the emulator and ledger outlive it
        row.cells[0] = f"{prefix} {row.cells[0]}"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "users.csv"
        with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(HEADER)
            writer.writerows(r.cells for r in rows)
        result = outcome(lambda: push_csv(path, "users", base_url=emulator.base_url, api_key=EMULATOR_API_KEY,
                                          ledger=Path(tmp) / "ledger.sqlite", progress=False,
                                          handle_sigint=False, rate=1000))
        writes = [w for w in emulator.control.writes("users") if str(w["key"]).startswith(prefix)]
        if isinstance(result, GainsightPXError):
            event(f"error: {type(result).__name__}")
            assert str(path) in str(result) and writes == [], result
            return
        assert isinstance(result, PushSummary)
        rejects = rejected_rows(result.rejects_path)
    ok = Counter(w["key"] for w in writes if 200 <= w["status"] < 300)
    event(f"exit {result.exit_code}")
    assert result.exit_code == (2 if rejects else 0)
    ids = Counter(r.cells[0] for r in rows)
    for number, row in enumerate(rows, start=2):
        key = row.cells[0]
        if number in rejects:
            assert rejects[number].strip(), "a reject without a reason"
            assert ok[key] == 0 or ids[key] > 1, f"row {number} both rejected and delivered"
            continue
        assert ok[key] == 1, f"row {number} ({key!r}) delivered {ok[key]} times, not rejected"
        body = next(w["body"] for w in writes if w["key"] == key and 200 <= w["status"] < 300)
        first_name = row.cells[2]
        assert body.get("firstName") == (first_name if first_name.strip() else None)
        assert body["customAttributes"]["note"] == row.cells[3]
        assert body.get("email") == (row.cells[1].strip() or None)
    for number, row in enumerate(rows, start=2):
        if ids[row.cells[0]] > 1 or row.surely_bad_email:
            assert number in rejects, f"row {number} should have been rejected: {row.cells}"
        elif row.surely_valid_email:  # every other cell is free text or an untyped attribute
            assert number not in rejects, f"row {number} was rejected: {rejects.get(number)}"
    assert result.delivered + result.rejected == result.rows_read == len(rows)
