"""Fuzz the push's CSV reader: random encodings, BOMs, quoting, delimiters, line ends,
huge fields, missing and duplicated headers, NUL bytes, ragged rows and cut-off files.

Acceptable outcomes only:
- a `Table` equal to what was written, whenever the file is a well-formed
  UTF-8, comma-separated CSV with a usable header (a "standard" file);
- otherwise, either such a table or an `InputError` that names the file.
Any other exception type, or a hang, fails the test.
"""

from __future__ import annotations

import csv
import io
import tempfile
from dataclasses import dataclass
from pathlib import Path

from fuzz_helpers import SLOW, fuzz_settings, outcome
from gainsight_px.errors import InputError
from gainsight_px.push.readers import MAX_FIELD_BYTES, Table, read_csv
from hypothesis import assume, event, given
from hypothesis import strategies as st

HEADER_POOL = [
    "identifyId", "email", "firstName", "lastName", "signUpDate", "customAttributes.plan",
    "customAttributes.score", " email ", "Prénom", "名前", "a,b", 'say "hi"', "line\nbreak", "", " ",
]
# Cells: anything text can hold, weighted towards what breaks CSV (separators, quotes, line ends).
CELL = st.one_of(
    st.text(max_size=12),
    st.text(alphabet=st.sampled_from(list(',;\t|"\'\r\n \\x\u00e9\u20ac\U0001f600')), max_size=10),
    st.sampled_from(["", " ", "0", "true", "2024-05-01T10:00:00Z", "a@b.co", "=1+1", "\ufeff"]),
)
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-32", "latin-1", "cp1252"]
DELIMITERS = [",", ";", "\t", "|"]
QUOTING = {"minimal": csv.QUOTE_MINIMAL, "all": csv.QUOTE_ALL, "none": csv.QUOTE_NONE}
LINE_ENDS = ["\n", "\r\n", "\r"]
CORRUPTIONS = ["none", "truncate", "nul", "bad_byte", "open_quote"]


@dataclass
class Written:
    header: list[str]
    rows: list[list[str]]
    encoding: str
    delimiter: str
    quoting: str
    line_end: str
    corruption: str
    data: bytes

    @property
    def standard(self) -> bool:
        """A file the reader must read back exactly."""
        stripped = [h.strip() for h in self.header]
        cells = [c for row in self.rows for c in row] + self.header
        return (
            self.encoding in ("utf-8", "utf-8-sig")
            and self.delimiter == ","
            and self.quoting in ("minimal", "all")
            and self.corruption == "none"
            and all(stripped) and len(set(stripped)) == len(stripped)
            and all(len(row) == len(self.header) for row in self.rows)
            and not any("\x00" in c for c in cells)
            # Python's writer quotes only line-end characters of *its* terminator: a bare "\r"
            # in a "\n" file is written unquoted, and no reader can tell it from a line end.
            and (self.quoting == "all" or not any(ch in c for c in cells for ch in "\r\n"
                                                   if ch not in self.line_end))
            and max((len(c.encode()) for c in cells), default=0) < MAX_FIELD_BYTES
        )

    def expected(self) -> Table:
        """What the reader returns for a standard file: stripped header, blank rows skipped."""
        rows = []
        for number, row in enumerate(self.rows, start=2):
            if any(c.strip() for c in row):
                rows.append((number, row))
        return Table("", [h.strip() for h in self.header], rows)


def serialise(header: list[str], rows: list[list[str]], delimiter: str, quoting: str,
              line_end: str) -> str | None:
    buffer = io.StringIO(newline="")
    options = dict(delimiter=delimiter, quoting=QUOTING[quoting], lineterminator=line_end)
    if quoting == "none":
        options["escapechar"] = "\\"
    writer = csv.writer(buffer, **options)
    try:
        writer.writerow(header)
        writer.writerows(rows)
    except csv.Error:
        return None  # e.g. QUOTE_NONE cannot write an empty single-field row
    return buffer.getvalue()


def corrupt(data: bytes, how: str, at: int) -> bytes:
    if how == "none" or not data:
        return data
    position = at % (len(data) + 1)
    if how == "truncate":
        return data[:position]
    if how == "nul":
        return data[:position] + b"\x00" + data[position:]
    if how == "bad_byte":
        return data[:position] + b"\xff\xfe\x80" + data[position:]
    return data + b'"unterminated,' + data[:position]  # "open_quote"


@st.composite
def csv_files(draw: st.DrawFn) -> Written:
    # Half the files are well-formed (only their content is random), half are hostile.
    clean = draw(st.booleans())
    width = draw(st.integers(1, 5))
    names = st.sampled_from(HEADER_POOL[:7]) if clean else st.sampled_from(HEADER_POOL)
    header = draw(st.lists(names, min_size=width, max_size=width, unique=clean))
    ragged = not clean and draw(st.booleans())
    row_width = st.integers(max(0, width - 2), width + 2) if ragged else st.just(width)
    rows = draw(st.lists(row_width.flatmap(lambda n: st.lists(CELL, min_size=n, max_size=n)), max_size=6))
    if rows and draw(st.integers(0, 9)) == 0:  # a huge field now and then
        size = draw(st.sampled_from([70_000, 1_000_000] + ([MAX_FIELD_BYTES + 10] if SLOW else [])))
        rows[0] = ["x" * size] + rows[0][1:]
    encoding = draw(st.sampled_from(ENCODINGS[:2] if clean else ENCODINGS))
    delimiter = "," if clean else draw(st.sampled_from(DELIMITERS))
    quoting = draw(st.sampled_from(["minimal", "all"] if clean else list(QUOTING)))
    line_end = draw(st.sampled_from(LINE_ENDS))
    corruption = "none" if clean else draw(st.sampled_from(CORRUPTIONS))
    text = serialise(header, rows, delimiter, quoting, line_end)
    assume(text is not None)
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        data = text.encode(encoding, errors="replace")
        header = [h.encode(encoding, "replace").decode(encoding) for h in header]
        rows = [[c.encode(encoding, "replace").decode(encoding) for c in r] for r in rows]
        reserialised = serialise(header, rows, delimiter, quoting, line_end)
        assume(reserialised is not None)
        data = reserialised.encode(encoding)
    data = corrupt(data, corruption, draw(st.integers(0, 10**6)))
    return Written(header, rows, encoding, delimiter, quoting, line_end, corruption, data)


@fuzz_settings(default=400, slow=5000)
@given(written=csv_files())
def test_csv_reader_reads_back_exactly_or_fails_naming_the_file(written: Written) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "input file.csv"
        path.write_bytes(written.data)
        result = outcome(lambda: read_csv(path))
    event(f"{'standard' if written.standard else 'non-standard'} file -> "
          f"{'table' if isinstance(result, Table) else type(result).__name__}")
    if isinstance(result, Table):
        if written.standard:
            expected = written.expected()
            assert result.columns == expected.columns
            assert [(n, list(cells)) for n, cells in result.rows] == expected.rows
        return
    assert isinstance(result, InputError), f"not an InputError: {type(result).__name__}: {result}"
    assert str(path) in str(result), f"the message does not name the file: {result}"
    if written.standard:
        # A standard file fails only when it holds no data at all (only blank cells).
        assert not "".join(written.header).strip() and not any(
            c.strip() for row in written.rows for c in row), f"a standard file was refused: {result}"


@fuzz_settings(default=100, slow=2000)
@given(
    encoding=st.sampled_from(["utf-16", "utf-16-be", "utf-32", "utf-16-le"]),
    header=st.lists(st.sampled_from(["identifyId", "email", "customAttributes.plan"]), min_size=1, max_size=3,
                    unique=True),
)
def test_wide_encodings_are_refused_with_advice(encoding: str, header: list[str]) -> None:
    """UTF-16/32 files (Excel's "Unicode text") are refused, BOM or not, with a hint to save as UTF-8."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "wide.csv"
        path.write_bytes((",".join(header) + "\r\nu1,a@b.co,Pro\r\n").encode(encoding))
        result = outcome(lambda: read_csv(path))
    assert isinstance(result, InputError), f"{encoding} was read as {result!r}"
    assert str(path) in str(result) and "UTF-8" in str(result)
