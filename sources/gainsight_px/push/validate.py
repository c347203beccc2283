"""Rows -> API payloads: the field table from endpoints.py turned into checks and coercion.

Every row is checked before any request goes out. A row either becomes a
`Payload` (the exact JSON body to send) or a `Reject` with every reason found.
Problems with the columns themselves (unknown or read-only columns, a missing
required column) concern the whole input and raise `InputError`.

Coercion rules (documented in the README):
- An empty or whitespace-only cell means "leave unchanged": the field is not sent.
- `integer` / `number` fields: decimal text; `integer` also accepts an integral
  `12.0`. NaN and infinities are refused.
- `boolean` fields: true/false, yes/no, 1/0 (any case).
- `timestamp` fields: ISO 8601 (`2024-05-01`, `2024-05-01T10:00:00Z`, with an
  offset or without one, which means UTC) or epoch milliseconds. An integer below
  1e11 (before 1973 in ms) is refused: it is almost always epoch *seconds*.
- `email` format: one `@`, no spaces, a dot in the domain.
- `array` fields (the published `propertyKeys`): one value, or several
  separated by `;` or `,`.
- Fields the push fills itself (the endpoint's property-key field from the
  setting, and its write defaults such as `userType` USER) are sent whenever a
  row has no value of its own; a column of that name overrides them per row.
- Custom attributes (`customAttributes.<key>`, `attributes.<key>` for events)
  have no declared type, so text is inferred: `true`/`false` (any case) -> boolean;
  an integer without leading zeros (`42`, `-7`, not `007` or `02134`) -> integer;
  a plain decimal (`3.5`) -> number; anything else, dates included, stays text.
  Values from DuckDB keep their native type (dates become epoch ms).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

import orjson

from gainsight_px.endpoints import DEFAULT_DIALECT, Dialect, Endpoint, Field
from gainsight_px.errors import InputError
from gainsight_px.timestamps import datetime_to_ms

Entity = Literal["users", "accounts", "events"]
Mode = Literal["upsert", "update"]
ENTITIES: tuple[str, ...] = ("users", "accounts", "events")
MODES: tuple[str, ...] = ("upsert", "update")

# Epoch-ms sanity window: below 1e11 is 1973 in ms but 5138 AD in seconds.
MIN_EPOCH_MS = 100_000_000_000
MAX_EPOCH_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
_INT64 = 2**63

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_INT_TEXT = re.compile(r"^[+-]?[0-9]+$")
_EPOCH_TEXT = re.compile(r"^-?[0-9]+$")
_INFER_INT = re.compile(r"^-?(0|[1-9][0-9]*)$")
_INFER_FLOAT = re.compile(r"^-?(0|[1-9][0-9]*)\.[0-9]+$")
_TRUE = {"true", "yes", "1"}
_FALSE = {"false", "no", "0"}


@dataclass(frozen=True)
class Target:
    """Where rows of one entity go, and with which method, per the endpoint table."""

    entity: Entity
    mode: Mode
    endpoint: Endpoint

    @property
    def key_field(self) -> str | None:
        """The field naming the record (identifyId / id); events have none."""
        return self.endpoint.write_key

    @property
    def attributes_field(self) -> str | None:
        return self.endpoint.attributes_field

    @property
    def filled_fields(self) -> tuple[str, ...]:
        """Fields the push can fill when a row has none: the property key, the write defaults."""
        ep = self.endpoint
        return ((ep.property_key_field,) if ep.property_key_field else ()) + tuple(n for n, _ in ep.write_defaults)

    @property
    def required_fields(self) -> tuple[str, ...]:
        """Columns the input must have (filled fields excepted: a setting or default can supply them)."""
        # An update changes only the fields given: just the record's key is needed.
        if self.mode == "update":
            return (self.key_field,) if self.key_field else ()
        return tuple(n for n in self.endpoint.required_fields if n not in self.filled_fields)


def resolve_target(entity: str, mode: str = "upsert", dialect: Dialect = DEFAULT_DIALECT) -> Target:
    """Map a CLI entity (`users`, `accounts`, `events`) and mode onto the endpoint table."""
    if entity not in ENTITIES:
        raise InputError(f"unknown entity {entity!r}: expected one of {', '.join(ENTITIES)}")
    if mode not in MODES:
        raise InputError(f"unknown --mode {mode!r}: expected upsert or update")
    endpoint = dialect[dialect.events_endpoint if entity == "events" else entity]
    if mode == "update":
        if not endpoint.update_path or endpoint.update_method not in endpoint.item_methods:
            raise InputError(f"--mode update is not available for {entity}: the API has no update "
                             "call for them (use the default --mode upsert)")
    elif endpoint.create_method not in endpoint.methods:
        raise InputError(f"the API accepts no {endpoint.create_method} for {entity}")
    return Target(entity, mode, endpoint)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Payload:
    """A valid row: its position, its record key (None for events) and the JSON body to send,
    serialised with sorted keys (the same content always gives the same bytes)."""

    row_number: int
    key: str | None
    json: bytes

    @property
    def body(self) -> dict[str, Any]:
        return orjson.loads(self.json)


def body_json(body: dict[str, Any]) -> bytes:
    # orjson's bytes keep a ~4 KB buffer each; a copy is exact-size (1M rows: 4 GB vs 200 MB).
    return bytes(memoryview(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)))


@dataclass(frozen=True, slots=True)
class Reject:
    """A row that will not be sent, with the original cells and why."""

    row_number: int
    values: Sequence[Any]
    reason: str


@dataclass
class Validated:
    payloads: list[Payload]
    rejects: list[Reject]


@dataclass(frozen=True)
class _Column:
    index: int
    header: str
    field: Field | None  # a declared field, or None for a custom attribute
    attribute: str | None  # the custom attribute key


def plan_columns(columns: Sequence[str], target: Target, source: str) -> list[_Column]:
    """Map headers onto the field table; raise InputError naming every bad column."""
    fields = target.endpoint.field_map
    attr_prefix = f"{target.attributes_field}." if target.attributes_field else None
    unknown: list[str] = []
    read_only: list[str] = []
    planned: list[_Column] = []
    for index, header in enumerate(columns):
        if not header:
            raise InputError(f"{source}: column {index + 1} has no name in the header row")
        if attr_prefix and header.startswith(attr_prefix) and len(header) > len(attr_prefix):
            planned.append(_Column(index, header, None, header[len(attr_prefix):]))
        elif header in fields and header == target.attributes_field:
            unknown.append(f"{header} (use one column per attribute: {attr_prefix}<key>)")
        elif header in fields and not fields[header].writable:
            read_only.append(header)
        elif header in fields:
            planned.append(_Column(index, header, fields[header], None))
        else:
            unknown.append(header)
    problems = []
    if unknown:
        hint = ""
        if any(";" in c or "\t" in c for c in unknown):
            hint = " (the file must be comma-separated)"
        writable = ", ".join(f.name for f in target.endpoint.writable_fields if f.type != "object")
        attrs = f", or {attr_prefix}<key> for custom attributes" if attr_prefix else ""
        problems.append(f"unknown column(s) {', '.join(repr(c) for c in unknown)}{hint}; "
                        f"{target.entity} accepts {writable}{attrs}")
    if read_only:
        problems.append(f"read-only column(s) {', '.join(repr(c) for c in read_only)}: the API does "
                        "not accept them on write; remove them")
    present = {c.header for c in planned}
    missing = [name for name in target.required_fields if name not in present]
    if missing:
        problems.append(f"missing required column(s) {', '.join(repr(m) for m in missing)} "
                        f"for {target.entity} --mode {target.mode}")
    if problems:
        raise InputError(f"{source}: " + "; ".join(problems))
    return planned


def validate_rows(columns: Sequence[str], rows: Sequence[tuple[int, Sequence[Any]]],
                  target: Target, source: str, fill: dict[str, Any] | None = None,
                  fill_hint: str = "") -> Validated:
    """Check and coerce every row; duplicate keys reject every copy.

    `fill`: values for fields a row leaves empty (or the input has no column for).
    A filled field the input has as a column but `fill` cannot supply is
    required per row; `fill_hint` says how to supply it for every row.
    """
    planned = plan_columns(columns, target, source)
    fill = dict(fill or {})
    present = {c.header for c in planned}
    required = set(target.required_fields) | {
        n for n in target.filled_fields if n in present and n not in fill and n in target.endpoint.required_fields}
    attr_field = target.attributes_field
    payloads: list[Payload] = []
    rejects: list[Reject] = []
    problems_by_row: dict[int, list[str]] = {}
    position: dict[int, int] = {}  # row number -> index in `rows`, for rows that may be rejected
    rows_by_key: dict[str, list[int]] = defaultdict(list)

    for index, (row_number, values) in enumerate(rows):
        body: dict[str, Any] = {}
        problems: list[str] = []
        for col in planned:
            raw = values[col.index]
            if _is_empty(raw):
                if col.field is not None and col.field.name in required:
                    hint = f" ({fill_hint})" if fill_hint and col.field.name in target.filled_fields else ""
                    problems.append(f"{col.header}: required, but the cell is empty{hint}")
                continue
            try:
                if col.field is None:
                    body.setdefault(attr_field, {})[col.attribute] = infer_attribute(raw)
                else:
                    body[col.field.name] = coerce(raw, col.field)
            except ValueError as exc:
                problems.append(f"{col.header}: {exc}")
        for name, value in fill.items():
            body.setdefault(name, value)
        key = body.get(target.key_field) if target.key_field else None
        if key is not None:
            rows_by_key[key].append(row_number)
            position[row_number] = index
        if problems:
            problems_by_row[row_number] = problems
            position[row_number] = index
        else:
            payloads.append(Payload(row_number, key, body_json(body)))

    # A key twice in one file: which copy is right is unknowable, so no copy goes out.
    for key, numbers in rows_by_key.items():
        if len(numbers) > 1:
            where = ", ".join(str(n) for n in numbers[:10]) + (", ..." if len(numbers) > 10 else "")
            for n in numbers:
                problems_by_row.setdefault(n, []).append(
                    f"{target.key_field} {key!r} appears {len(numbers)} times in this input (rows {where})")
    if problems_by_row:
        payloads = [p for p in payloads if p.row_number not in problems_by_row]
        rejects = [Reject(n, rows[position[n]][1], "; ".join(problems_by_row[n])) for n in sorted(problems_by_row)]
    return Validated(payloads, rejects)


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def coerce(value: Any, field: Field) -> Any:
    """One cell -> the JSON value for a declared field; ValueError says what was expected."""
    kind = field.type
    if kind == "string":
        text = _as_text(value)
        if field.format == "email":
            text = text.strip()
            if not _EMAIL.match(text):
                raise ValueError(f"{_show(text)} is not an email address")
        if field.enum and text not in field.enum:
            raise ValueError(f"{_show(text)} is not one of {', '.join(field.enum)}")
        return text
    if kind == "integer":
        return _as_int(value)
    if kind == "number":
        return _as_number(value)
    if kind == "boolean":
        return _as_bool(value)
    if kind == "timestamp":
        return to_epoch_ms(value)
    if kind == "array":
        items = list(value) if isinstance(value, list | tuple) else re.split(r"[;,]", _as_text(value))
        out = [_as_text(v).strip() for v in items if not _is_empty(v)]
        if not out:
            raise ValueError(f"expected one or more values separated by ';', got {_show(value)}")
        return out
    raise ValueError(f"fields of type {kind} cannot be set from a single cell")


def _show(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # an integer id from a warehouse column
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return str(int(value))
    raise ValueError(f"expected text, got {type(value).__name__} {_show(value)}")


def _as_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"expected an integer, got boolean {value}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float | Decimal):
        if not math.isfinite(value) or value != int(value):
            raise ValueError(f"expected an integer, got {_show(value)}")
        number = int(value)
    else:
        text = str(value).strip()
        if _INT_TEXT.match(text):
            number = int(text)
        else:
            try:
                as_float = float(text)
            except ValueError:
                raise ValueError(f"expected an integer, got {_show(text)}") from None
            if not math.isfinite(as_float) or as_float != int(as_float) or "e" in text.lower():
                raise ValueError(f"expected an integer, got {_show(text)}")
            number = int(as_float)
    if not -_INT64 <= number < _INT64:
        raise ValueError(f"{number} is out of the 64-bit integer range")
    return number


def _as_number(value: Any) -> int | float:
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got boolean {value}")
    if isinstance(value, int):
        return value
    if isinstance(value, float | Decimal):
        number = float(value)
    else:
        text = str(value).strip()
        if _INT_TEXT.match(text):
            return int(text)
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"expected a number, got {_show(text)}") from None
    if not math.isfinite(number):
        raise ValueError(f"expected a finite number, got {_show(value)}")
    return number


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"expected true/false (or yes/no, 1/0), got {_show(value)}")


def to_epoch_ms(value: Any) -> int:
    """ISO 8601 text, epoch-ms text/int, or a date/datetime -> epoch milliseconds (UTC)."""
    if isinstance(value, bool):
        raise ValueError(f"expected a date, got boolean {value}")
    if isinstance(value, dt.datetime):
        ms = datetime_to_ms(value)
    elif isinstance(value, dt.date):
        ms = datetime_to_ms(dt.datetime(value.year, value.month, value.day))
    elif isinstance(value, int | Decimal) or (isinstance(value, float) and value.is_integer()):
        ms = int(value)
    elif isinstance(value, str):
        text = value.strip()
        if _EPOCH_TEXT.match(text):
            ms = int(text)
        else:
            try:
                parsed = dt.datetime.fromisoformat(text)
            except ValueError:
                raise ValueError(f"expected an ISO 8601 date (2024-05-01T10:00:00Z) or epoch "
                                 f"milliseconds, got {_show(text)}") from None
            ms = datetime_to_ms(parsed)
    else:
        raise ValueError(f"expected a date, got {type(value).__name__} {_show(value)}")
    if ms < MIN_EPOCH_MS:
        raise ValueError(f"{ms} is too small for epoch milliseconds (before 1973): "
                         "epoch seconds? multiply by 1000")
    if ms > MAX_EPOCH_MS:
        raise ValueError(f"{ms} is past year 9999 as epoch milliseconds")
    return ms




def infer_attribute(value: Any) -> Any:
    """A custom attribute value: native types kept, text inferred (see module docstring)."""
    if isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"expected a finite number, got {value}")
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.date):
        return to_epoch_ms(value)
    if not isinstance(value, str):
        raise ValueError(f"unsupported value type {type(value).__name__}")
    text = value.strip()
    lowered = text.lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    if _INFER_INT.match(text) and -_INT64 <= int(text) < _INT64:
        return int(text)
    if _INFER_FLOAT.match(text):
        return float(text)
    return value
