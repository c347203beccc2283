"""Malformed CSVs: each gives a clear error naming the file (and line), exit 1, nothing sent,
no ledger change. Plus a fuzz run of the reader and validator: a table or a clean InputError."""

from __future__ import annotations

import codecs

import pytest
from gainsight_px.errors import InputError
from gainsight_px.push.readers import read_csv
from gainsight_px.push.validate import resolve_target, validate_rows
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from push_helpers import PushHarness

CASES = {
    "latin-1 encoding": (b"identifyId,firstName\nu-1,Jos\xe9\n", ["line 2 is not valid UTF-8", "0xE9"]),
    "UTF-16 with BOM": ("identifyId,email\nu-1,a@example.com\n".encode("utf-16"), ["UTF-16", "save it as UTF-8"]),
    "UTF-16 without BOM": ("identifyId\nu-1\n".encode("utf-16-le"), ["NUL byte"]),
    "NUL byte": (b"identifyId,email\nu-1,a\x00@example.com\n", ["line 2 contains a NUL byte"]),
    "empty file": (b"", ["the file is empty"]),
    "blank lines only": (b"\n\r\n  \n", ["the file is empty"]),
    "BOM only": (codecs.BOM_UTF8, ["the file is empty"]),
    "missing required column": (b"email,firstName\na@example.com,Ann\n", ["missing required column(s) 'identifyId'"]),
    "duplicated headers": (b"identifyId,email,email\nu-1,a@example.com,b@example.com\n",
                           ["duplicated column name(s)", "'email' in columns 2, 3"]),
    "ragged row, too many": (b"identifyId,email\nu-1,a@example.com\nu-2,b@example.com,extra\n",
                             ["line 3 (row 3) has 3 cells, the header has 2"]),
    "ragged row, too few": (b"identifyId,email,firstName\nu-1,a@example.com\n", ["has 2 cells, the header has 3"]),
    "unterminated quote": (b'identifyId,email\nu-1,"a@example.com\n', ["is not valid CSV"]),
    "unknown column": (b"identifyId,emial\nu-1,a@example.com\n", ["unknown column(s) 'emial'", "accepts"]),
    "semicolon separated": (b"identifyId;email\nu-1;a@example.com\n", ["comma-separated"]),
    "read-only column": (b"identifyId,aptrinsicId\nu-1,x\n", ["read-only column(s) 'aptrinsicId'"]),
    "header without a name": (b"identifyId,,email\nu-1,,a@example.com\n", ["no name for column(s) 2"]),
    "customAttributes as one column": (b"identifyId,customAttributes\nu-1,{}\n", ["customAttributes.<key>"]),
}


@pytest.mark.parametrize("content, expected", CASES.values(), ids=CASES.keys())
def test_malformed_csv_is_a_clear_error_and_nothing_happens(
        px: PushHarness, content: bytes, expected: list[str]) -> None:
    path = px.workdir / "users.csv"
    path.write_bytes(content)
    run = px.push("users", path)

    assert run.code == 1
    assert run.err.startswith(f"error: {path}: "), run.err
    for fragment in expected:
        assert fragment in run.err
    assert "Traceback" not in run.err
    assert px.control.requests() == []
    assert not px.ledger.exists()
    assert not (px.workdir / "users.rejects.csv").exists()


def test_utf8_bom_from_excel_is_accepted(px: PushHarness) -> None:
    path = px.workdir / "users.csv"
    path.write_bytes(codecs.BOM_UTF8 + "identifyId,firstName\r\nbom-1,Zoë\r\n".encode())
    assert px.push("users", path).code == 0
    (write,) = px.writes("users")
    assert write["body"] == {"identifyId": "bom-1", "firstName": "Zoë"}


def test_missing_file_names_it(px: PushHarness) -> None:
    run = px.push("users", px.workdir / "nope.csv")
    assert run.code == 1 and "nope.csv: no such file" in run.err


def test_blank_rows_are_skipped_and_quoted_newlines_kept(px: PushHarness) -> None:
    path = px.workdir / "users.csv"
    path.write_bytes(b'identifyId,title\n\nq-1,"two\nlines"\n,\nq-2,plain\n')
    run = px.push("users", path)
    assert run.code == 0 and run.count("rows read") == 2
    assert {w["key"]: w["body"].get("title") for w in px.writes("users")} == {"q-1": "two\nlines", "q-2": "plain"}


CSV_ALPHABET = st.sampled_from(list("ab,\"\n\r;\t \x00é@.") + ["identifyId", "email", "customAttributes.x",
                                                               "\ufeff", "signUpDate", "2024-05-01"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.lists(CSV_ALPHABET, max_size=40).map("".join),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "utf-16"]))
def test_fuzzed_csv_reads_or_fails_cleanly(tmp_path_factory: pytest.TempPathFactory, text: str,
                                           encoding: str) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "in.csv"
    try:
        path.write_bytes(text.encode(encoding))
    except UnicodeEncodeError:
        return
    target = resolve_target("users")
    try:
        table = read_csv(path)
        checked = validate_rows(table.columns, table.rows, target, table.source)
    except InputError as exc:
        assert str(path) in str(exc)
        return
    assert len(checked.payloads) + len(checked.rejects) == len(table.rows)
    for payload in checked.payloads:
        assert payload.body["identifyId"].strip()
