"""One page of API records -> one typed `pyarrow.Table` (the load's fast path).

dlt loads Arrow tables an order of magnitude faster than Python dicts, so each
page is converted here, column by column, and yielded as a table.

Rules (what an analyst finds in the warehouse):

- **Known fields** (the endpoint table in `endpoints.py`) always become columns,
  typed from the table: string -> text, integer -> bigint, number -> double,
  boolean -> bool, timestamp -> `TIMESTAMP WITH TIME ZONE` (UTC, from epoch
  milliseconds; `0` means "never" and becomes NULL). A field missing from a
  record is NULL. Column names follow dlt's naming convention
  (`lastSeenDate` -> `last_seen_date`).
- **Off-type values in known fields** are coerced only when nothing is lost:
  `"12"` or `12.0` for an integer, `"true"`/`"false"` for a boolean, a digit
  string or an ISO-8601 string with a timezone for a timestamp, any scalar for
  a string (objects as JSON text). Anything else (`"abc"` for an integer, a
  record without its primary key) stops the load with an `APIError` naming the
  resource, the record's key and the field.
- **Attributes** (`customAttributes`): each key becomes its own column
  `custom_attributes__<key>`. PX does not type them, so the type comes from the
  values, by a rule that cannot contradict itself:
  numbers -> double (always, so 3 and 3.5 never disagree), booleans -> bool,
  strings -> text, whole numbers under a key ending in `Date` -> timestamp
  (epoch ms, 0 -> NULL), objects and lists -> JSON text. A new key whose first
  page mixes types -> text.
- **Sticky types.** Once a column has a type, it keeps it: the registry is
  seeded from the pipeline's stored schema (earlier runs) and grows page by
  page. A later value that does not fit (a string under a double column) is
  kept as text in the variant column `<column>__v_text` (dlt's own convention
  for variants), so two pages or two runs never conflict and nothing is lost.
  A text column takes any value, rendered as text.
- **Brand-new top-level fields** become new columns by the same rules.
- Keys whose column names collide (`planType` and `plan_type`) share the column
  (first non-null value wins, with a warning); another colliding key's value in
  the same record goes, as text, to the variant column `<column>__v_text`, so
  it is not lost. A blank key is named `_blank_key`.
- Every page carries every column the registry knows (NULL where absent), so
  consecutive pages share one schema and dlt writes them into one file.

**How** (the rules above hold on every path): text and boolean fields are read
in one C pass over the records (`_strict_arrays`); once every attribute key of
a page has a column of its own, the page's attribute objects are read in one
Arrow pass too (`_inferred_attributes`: Arrow infers each key's type, and a key
whose inferred type fits its column takes it as is). Any key that does not fit
(a string under a double, a float under a timestamp) is read again key by key
and coerced or sent to its variant column; a page Arrow cannot read in one pass
(a key mixing strings and numbers, an integer past int64) is read key by key
throughout, and after `MAX_STRUCT_FAILURES` such pages a converter stops trying.

**Limits** (past them the load stops with an `APIError` naming the resource,
the record's key and the field; nothing is written):

- a text value (an attribute, a field, an object as JSON) of at most
  `MAX_VALUE_BYTES` (1 MiB): PX's own attribute values are short, and one
  30 MB value would make every page that carries it hundreds of MB;
- at most `MAX_ATTRIBUTE_KEYS` (1,000) `customAttributes` keys in one record
  (real tenants carry up to ~100); each key is a column;
- values nested at most `MAX_NESTING` (254) levels deep (objects and lists
  become JSON text; deeper than that cannot be encoded);
- a timestamp (epoch milliseconds) at most year 9999: a value past it in a
  known field is most likely microseconds or nanoseconds, and the message
  says so (in an attribute it is kept as text in the variant column).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from itertools import repeat
from typing import Any, Literal

import orjson
import pyarrow as pa
import pyarrow.compute as pc
from dlt.common.normalizers.naming import NamingConvention

from gainsight_px.endpoints import Endpoint, Field
from gainsight_px.errors import APIError
from gainsight_px.timestamps import datetime_to_ms

log = logging.getLogger(__name__)

# Microseconds: DuckDB keeps TIMESTAMPTZ at this precision, so dlt does not warn
# about a timezone-plus-precision type it cannot create.
TIMESTAMP_TYPE = pa.timestamp("us", tz="UTC")

# Kinds of dynamic (attribute / unknown field) columns and their Arrow types.
Kind = Literal["text", "double", "bool", "timestamp", "bigint"]
KIND_TYPES: dict[str, pa.DataType] = {
    "text": pa.string(),
    "double": pa.float64(),
    "bool": pa.bool_(),
    "timestamp": TIMESTAMP_TYPE,
    "bigint": pa.int64(),
}
# dlt data types of an existing column -> our kind (seeding from a stored schema).
DLT_TYPE_KINDS: dict[str, Kind] = {
    "text": "text",
    "double": "double",
    "bool": "bool",
    "timestamp": "timestamp",
    "bigint": "bigint",
}
FIELD_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "integer": pa.int64(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
    "timestamp": TIMESTAMP_TYPE,
    "object": pa.string(),  # non-attribute objects travel as JSON text
    "array": pa.string(),  # so do arrays (propertyKeys, channelMetricList, ...)
}
# Python types the slow path accepts per kind before coercing (anything else is a misfit).
FIT_TYPES: dict[str, frozenset[type]] = {
    "text": frozenset({str}),
    "double": frozenset({int, float}),
    "bool": frozenset({bool}),
    "bigint": frozenset({int}),
    "timestamp": frozenset({int}),
}
# Arrow's own inference is exact (1 -> int64, 1.5 -> double, True -> bool, mixes fail),
# so the fast path infers and checks the result, instead of typing each value in Python.
# Asking Arrow for int64 or double directly would truncate 1.5 to 1 or read True as 1.0.
_INFERRED_OK: dict[str, frozenset[pa.DataType]] = {
    "double": frozenset({pa.int64(), pa.float64(), pa.null()}),
    "bigint": frozenset({pa.int64(), pa.null()}),
    "timestamp": frozenset({pa.int64(), pa.null()}),
}
FIELD_KINDS: dict[str, str] = {"string": "text", "integer": "bigint", "number": "double",
                               "boolean": "bool", "timestamp": "timestamp", "object": "text",
                               "array": "text"}

VARIANT_SUFFIX = "v_text"
BLANK_KEY_NAME = "_blank_key"
_INT_RE = re.compile(r"[+-]?\d+")
_MAX_EXACT_FLOAT_INT = 2**53
MAX_VALUE_BYTES = 1 << 20
MAX_ATTRIBUTE_KEYS = 1000
MAX_NESTING = 254  # orjson's own limit for encoding
MAX_EPOCH_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
_EMPTY: dict[str, Any] = {}
# Pages on which the one-pass read of the attributes may fail before a converter stops trying it.
MAX_STRUCT_FAILURES = 3


class _Inferred:
    """An attribute column's values as Arrow inferred them (see `_inferred_attributes`), and
    where to read them as Python values should they not fit the column's kind."""

    __slots__ = ("array", "attributes", "key")

    def __init__(self, array: pa.Array, attributes: list[dict[str, Any]], key: str) -> None:
        self.array = array
        self.attributes = attributes
        self.key = key


class _Unfit(ValueError):
    """A value that does not fit a column type without loss."""


class _TooDeep(ValueError):
    """A value nested deeper than MAX_NESTING."""


def _to_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except orjson.JSONEncodeError:
        raise _TooDeep from None


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise _Unfit
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INT_RE.fullmatch(value.strip()):
        return int(value.strip())
    raise _Unfit


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise _Unfit
    if isinstance(value, int) and abs(value) > _MAX_EXACT_FLOAT_INT:
        raise _Unfit
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            raise _Unfit from None
        if number != number or number in (float("inf"), float("-inf")):
            raise _Unfit
        return number
    raise _Unfit


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise _Unfit


def _to_epoch_ms(value: Any) -> int | None:
    """Epoch milliseconds, or None for 0 ("never")."""
    if isinstance(value, str) and not _INT_RE.fullmatch(value.strip()):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise _Unfit from None
        if parsed.tzinfo is None:  # a naive time has no defined instant
            raise _Unfit
        return datetime_to_ms(parsed)
    ms = _to_int(value)
    if abs(ms) > MAX_EPOCH_MS:  # past year 9999: microseconds or nanoseconds, not milliseconds
        raise _Unfit
    return ms or None


COERCE: dict[str, Callable[[Any], Any]] = {
    "text": _to_text,
    "bigint": _to_int,
    "double": _to_float,
    "bool": _to_bool,
    "timestamp": _to_epoch_ms,
}


def _ms_to_timestamps(values: pa.Array) -> pa.Array:
    """int64 epoch ms -> timestamp[us, UTC]; 0 -> NULL."""
    values = pc.if_else(pc.equal(values, 0), pa.scalar(None, pa.int64()), values)
    return values.cast(pa.timestamp("ms", tz="UTC")).cast(TIMESTAMP_TYPE)


def _array(values: list[Any], kind: str) -> pa.Array:
    """Values already known to fit `kind` -> an Arrow array."""
    if kind == "timestamp":
        return _ms_to_timestamps(pa.array(values, pa.int64()))
    return pa.array(values, KIND_TYPES[kind])


def _column(records: list[dict[str, Any]], name: str) -> list[Any]:
    """`[r.get(name) for r in records]`, iterated in C (the hot loop of a load)."""
    return list(map(dict.get, records, repeat(name, len(records))))


def _fast_array(values: list[Any], kind: str) -> pa.Array | None:
    """An array when every value fits `kind` exactly as it is; else None (slow path)."""
    try:
        if kind in ("text", "bool"):  # strict when typed: 1 is not text, 1 is not a bool
            return pa.array(values, KIND_TYPES[kind])
        inferred = pa.array(values)
        if _bools_read_as_numbers(inferred, lambda: values):
            return None
        return _fit_inferred(inferred, kind)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return None


_BOOLS_AS_NUMBERS = pa.array([0.0, 1.0])


def _bools_read_as_numbers(inferred: pa.Array, values: Callable[[], list[Any]]) -> bool:
    """Arrow infers `[1.5, True]` as doubles (True -> 1.0; `[True, 1.5]` fails): a boolean after a
    float must go the slow way, to the variant column, not become a number. The Python values are
    looked at only when a double is exactly 0.0 or 1.0 (the hot path stays in C)."""
    if not pa.types.is_floating(inferred.type) or not pc.any(pc.is_in(inferred, value_set=_BOOLS_AS_NUMBERS)).as_py():
        return False
    return bool in set(map(type, values()))


# Inferred types that hold exactly the values a text or bool column takes as they are.
_INFERRED_STRICT: dict[str, frozenset[pa.DataType]] = {
    "text": frozenset({pa.string(), pa.null()}),
    "bool": frozenset({pa.bool_(), pa.null()}),
}


def _fit_inferred(inferred: pa.Array, kind: str) -> pa.Array | None:
    """An array Arrow inferred from the values -> the column's array, or None if some value
    does not fit `kind` as it is (the slow path then coerces it or names it)."""
    try:
        if kind in _INFERRED_STRICT:
            if inferred.type not in _INFERRED_STRICT[kind]:
                return None
            return inferred.cast(KIND_TYPES[kind])
        if inferred.type not in _INFERRED_OK[kind]:
            return None
        if kind == "timestamp":
            ms = inferred.cast(pa.int64())
            top = pc.max(pc.abs(ms)).as_py() if len(ms) else None
            if top is not None and top > MAX_EPOCH_MS:
                return None  # the slow path names the value
            return _ms_to_timestamps(ms)
        return inferred.cast(KIND_TYPES[kind])  # a safe cast: refuses to lose precision
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return None


def natural_kind(key: str, value: Any) -> Kind:
    """The kind an untyped value asks for (see the module docstring)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int) and key.endswith("Date"):
        return "timestamp"
    if isinstance(value, int | float):
        return "double"
    return "text"


class PageConverter:
    """Converts the pages of one resource in one run; holds the sticky type registry.

    `known_columns` maps existing column names (from the pipeline's stored
    schema) to dlt data types, so a run never contradicts an earlier one.
    """

    def __init__(self, endpoint: Endpoint, naming: NamingConvention,
                 known_columns: dict[str, str] | None = None) -> None:
        self.endpoint = endpoint
        self.naming = naming
        self.key_field = endpoint.primary_key
        self.attributes_field = endpoint.attributes_field
        # Attribute objects -> the scope their keys' columns are named in ("attr" for the main one).
        self._attribute_scopes: dict[str, str] = {
            name: "attr" if name == self.attributes_field else name
            for name in (endpoint.all_attributes_fields or ())
        }
        # Fixed columns: (api field, column name), in endpoint order.
        self.fixed: list[tuple[Field, str]] = [
            (f, naming.normalize_identifier(f.name)) for f in endpoint.fields
            if f.name not in self._attribute_scopes
        ]
        self.key_column = naming.normalize_identifier(self.key_field)
        # Text and boolean fields, read from the records in one pass (see _strict_arrays).
        self._strict = pa.struct([
            pa.field(f.name, KIND_TYPES[FIELD_KINDS[f.type]]) for f, _ in self.fixed
            if f.type in ("string", "boolean")
        ])
        self.attributes_prefix = (
            naming.normalize_identifier(self.attributes_field) if self.attributes_field else None
        )
        fixed_names = {column for _, column in self.fixed}
        # Dynamic columns: column name -> kind; insertion order is column order.
        self.dynamic: dict[str, str] = {}
        for column, data_type in (known_columns or {}).items():
            kind = DLT_TYPE_KINDS.get(data_type)
            if column not in fixed_names and not column.startswith("_dlt") and kind:
                self.dynamic[column] = kind
        # Scope -> column prefix of its keys.
        self._prefixes = {scope: naming.normalize_identifier(name) for name, scope in self._attribute_scopes.items()}
        self._reserved = fixed_names | {self.attributes_prefix} | set(self._prefixes.values())
        # source key (attribute key or unknown top-level field) -> column, and back.
        self._columns: dict[tuple[str, str], str] = {}
        self._owners: dict[str, tuple[str, str]] = {}
        self._known_fields = {f.name for f in endpoint.fields}
        # Per page: column -> text of values that lost a key collision (see _collect).
        self._overflow: dict[str, list[str | None]] = {}
        self._struct_failures = 0  # pages whose attributes Arrow could not read in one pass

    # -- public ---------------------------------------------------------------

    @property
    def cursor_column(self) -> str | None:
        return self.naming.normalize_identifier(self.endpoint.cursor) if self.endpoint.cursor else None

    def convert(self, records: list[dict[str, Any]]) -> pa.Table:
        """One page -> one table with every known and registered column (within the limits above)."""
        self._check_shape(records)
        try:
            table = self._convert(records)
        except _TooDeep:
            raise self._limit_error(*self._find_deep(records), f"is nested deeper than {MAX_NESTING} levels") \
                from None
        self._check_sizes(table, records)
        return table

    def _limit_error(self, record: dict[str, Any], field_name: str, what: str) -> APIError:
        return APIError(
            f"{self.endpoint.name} record {self.key_field}={record.get(self.key_field)!r}: field "
            f"{field_name!r} {what}; the load stopped and nothing was written. Fix the record in PX "
            "(or ask Gainsight why it looks like this), then rerun.",
            method="GET", path=self.endpoint.path,
        )

    def _check_shape(self, records: list[dict[str, Any]]) -> None:
        if not self.attributes_field:
            return
        for record in records:
            attrs = record.get(self.attributes_field)
            if type(attrs) is dict and len(attrs) > MAX_ATTRIBUTE_KEYS:
                raise self._limit_error(record, self.attributes_field,
                                        f"has {len(attrs):,} keys, more than the {MAX_ATTRIBUTE_KEYS:,} allowed")

    def _find_deep(self, records: list[dict[str, Any]]) -> tuple[dict[str, Any], str]:
        for record in records:
            for name, value in record.items():
                values = value.items() if name == self.attributes_field and type(value) is dict else [(name, value)]
                for key, item in values:
                    if isinstance(item, dict | list):
                        try:
                            orjson.dumps(item)
                        except orjson.JSONEncodeError:
                            field_name = f"{self.attributes_field}.{key}" if name == self.attributes_field else key
                            return record, field_name
        return records[0] if records else {}, "?"

    def _check_sizes(self, table: pa.Table, records: list[dict[str, Any]]) -> None:
        for name, column in zip(table.column_names, table.columns, strict=True):
            if not pa.types.is_string(column.type) or not len(column):
                continue
            lengths = pc.binary_length(column)
            top = pc.max(lengths).as_py()
            if top is not None and top > MAX_VALUE_BYTES:
                index = pc.index(lengths, top).as_py()
                raise self._limit_error(records[index], name,
                                        f"holds a value of {top:,} bytes, more than the {MAX_VALUE_BYTES:,} allowed")

    def _convert(self, records: list[dict[str, Any]]) -> pa.Table:
        names: list[str] = []
        arrays: list[pa.Array] = []
        fields: list[pa.Field] = []
        strict = self._strict_arrays(records)
        for f, column in self.fixed:
            array = strict.get(f.name)
            if array is None:
                values = _column(records, f.name)
                array = self._fixed_array(f, values, records)
            nullable = column != self.key_column
            if not nullable and array.null_count:
                self._missing_key(records, _column(records, f.name))
            names.append(column)
            arrays.append(array)
            fields.append(pa.field(column, array.type, nullable=nullable))
        dynamic_values = self._dynamic_values(records)
        for column, kind in list(self.dynamic.items()):
            values = dynamic_values.get(column)
            if isinstance(values, _Inferred):
                fitted = _fit_inferred(values.array, kind)
                if fitted is not None and _bools_read_as_numbers(
                        values.array, lambda v=values: _column(v.attributes, v.key)):
                    fitted = None
                if fitted is not None:
                    dynamic_values[column] = fitted
                    continue
                values = dynamic_values[column] = _column(values.attributes, values.key)  # coerce or variant
            if not isinstance(values, list):
                continue  # absent (NULLs below) or a variant already filled by its base column
            self._dynamic_array(column, kind, values, dynamic_values)
        # New columns may have been registered (variants); emit them all, in order.
        for column, kind in self.dynamic.items():
            array = dynamic_values.get(column)
            if not isinstance(array, pa.Array):
                array = pa.nulls(len(records), KIND_TYPES[kind])
            names.append(column)
            arrays.append(array)
            fields.append(pa.field(column, array.type))
        return pa.Table.from_arrays(arrays, schema=pa.schema(fields))

    # -- fixed fields -----------------------------------------------------------

    def _strict_arrays(self, records: list[dict[str, Any]]) -> dict[str, pa.Array]:
        """Text and boolean fields in one C pass over the records (conversion ~15% faster).

        Arrow converts to string/bool strictly (1 is not text, 1 is not a bool), so
        success means every value is as sent. Any other value fails the whole
        pass; then every field takes the per-column path, which coerces or names it.
        Numbers are not read this way: a typed int64 would truncate 1.5 to 1.
        """
        if not self._strict.num_fields:
            return {}
        try:
            struct = pa.array(records, type=self._strict)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            return {}
        return {self._strict.field(i).name: array for i, array in enumerate(struct.flatten())}

    def _fixed_array(self, f: Field, values: list[Any], records: list[dict[str, Any]]) -> pa.Array:
        kind = FIELD_KINDS[f.type]
        if f.type not in ("object", "array"):
            fast = _fast_array(values, kind)
            if fast is not None:
                return fast
        coerce = COERCE[kind]
        out: list[Any] = []
        for record, value in zip(records, values, strict=True):
            if value is None:
                out.append(None)
                continue
            try:
                out.append(coerce(value))
            except (_Unfit, OverflowError):
                raise self._bad_value(record, f.name, f.type, value) from None
        try:
            if kind == "timestamp":
                return _ms_to_timestamps(pa.array(out, pa.int64()))
            return pa.array(out, KIND_TYPES[kind])
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            bad = next(
                (r, v) for r, v in zip(records, values, strict=True) if v is not None
            )
            raise self._bad_value(bad[0], f.name, f.type, bad[1]) from None

    def _bad_value(self, record: dict[str, Any], field_name: str, expected: str, value: Any) -> APIError:
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        if expected == "timestamp" and isinstance(value, int) and not isinstance(value, bool) \
                and abs(value) > MAX_EPOCH_MS:
            return self._limit_error(record, field_name, f"holds {value}, past year 9999 as epoch "
                                     "milliseconds: it looks like microseconds or nanoseconds")
        return APIError(
            f"{self.endpoint.name} record {self.key_field}={record.get(self.key_field)!r}: field "
            f"{field_name!r} should be {expected}, got {type(value).__name__} {shown}; "
            "it cannot be converted without losing information.",
            method="GET", path=self.endpoint.path,
        )

    def _missing_key(self, records: list[dict[str, Any]], keys: list[Any]) -> None:
        index = next(i for i, key in enumerate(keys) if key is None)
        record = records[index]
        other = {k: record.get(k) for k in list(record)[:3] if k != self.key_field}
        raise APIError(
            f"{self.endpoint.name} record without its primary key {self.key_field!r} "
            f"(first fields: {other!r}); it cannot be merged.",
            method="GET", path=self.endpoint.path,
        )

    # -- dynamic columns ----------------------------------------------------------

    def _column_for(self, scope: str, key: str) -> str:
        """The column of an attribute key (scope "attr") or unknown field (scope "field")."""
        found = self._columns.get((scope, key))
        if found is not None:
            return found
        # JSON allows a blank key; no column name can be blank, so it gets a fixed one.
        name = self.naming.normalize_identifier(key if key.strip() else BLANK_KEY_NAME)
        if scope != "field":
            column = self.naming.make_path(self._prefixes[scope], name)
        else:
            column = name
            if column in self._reserved:
                # e.g. a field "last_seen_date" next to "lastSeenDate": keep both, apart.
                column = self.naming.make_path(column, "extra")
        owner = self._owners.setdefault(column, (scope, key))
        if owner != (scope, key):
            log.warning(
                "%s: %s %r and %r both map to column %r; their values share it "
                "(a second value in one record goes to its text variant column).",
                self.endpoint.name, "attribute keys" if scope == "attr" else "fields",
                owner[1], key, column,
            )
        self._columns[(scope, key)] = column
        return column

    def _dynamic_values(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        """Column -> values for attribute keys and unknown fields on this page: a list, or
        an `_Inferred` array for registered attribute columns (see `_inferred_attributes`)."""
        out: dict[str, Any] = {}
        keys: dict[str, str] = {}  # column -> source key (for the Date rule)
        self._overflow = {}
        for attributes_field, scope in self._attribute_scopes.items():
            attributes = [r.get(attributes_field) or _EMPTY for r in records]
            for record, attrs in zip(records, attributes, strict=True):
                if type(attrs) is not dict:
                    raise self._bad_value(record, attributes_field, "object", attrs)
            present = sorted(set().union(*attributes))
            inferred = self._inferred_attributes(scope, present, attributes)
            for key in present:
                column = self._column_for(scope, key)
                if key in inferred:
                    out[column] = _Inferred(inferred[key], attributes, key)
                    keys[column] = key
                    continue
                values = _column(attributes, key)
                self._collect(out, keys, column, key, values)
        extra = set().union(*records) - self._known_fields
        for key in sorted(extra):
            column = self._column_for("field", key)
            values = _column(records, key)
            self._collect(out, keys, column, key, values)
        # Register new columns (in the sorted key order above) from their first values.
        for column, values in out.items():
            if column not in self.dynamic:
                kinds = {natural_kind(keys[column], v) for v in values if v is not None}
                if kinds:
                    self.dynamic[column] = kinds.pop() if len(kinds) == 1 else "text"
        return out

    def _inferred_attributes(self, scope: str, present: list[str],
                             attributes: list[dict[str, Any]]) -> dict[str, pa.Array]:
        """Key -> the array Arrow infers for it, all keys in one C pass over the attribute objects.

        Only when every key already has a column of its own (registered, not shared with
        another key of this page): new columns are typed from their values and collisions
        are merged value by value, both in Python. A page Arrow cannot infer (a key whose
        values mix types, an integer past int64) is read key by key as before.
        """
        if self._struct_failures >= MAX_STRUCT_FAILURES:
            return {}
        columns = [self._column_for(scope, key) for key in present]
        if not present or len(set(columns)) < len(columns) or not all(c in self.dynamic for c in columns):
            return {}
        try:
            struct = pa.array(attributes)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError,
                RecursionError):
            self._struct_failures += 1  # a key that keeps mixing types would make every page pay twice
            return {}
        if not pa.types.is_struct(struct.type):
            return {}
        names = [struct.type.field(i).name for i in range(struct.type.num_fields)]
        if sorted(names) != present:  # never expected; the key-by-key path is always right
            return {}
        return dict(zip(names, struct.flatten(), strict=True))

    def _collect(self, out: dict[str, Any], keys: dict[str, str], column: str, key: str,
                 values: list[Any]) -> None:
        previous = out.get(column)
        if previous is None:
            out[column] = values
            keys[column] = key
            return
        # Two keys share a column: first non-null wins per record; a second value
        # in the same record is kept as text for the variant column.
        out[column] = [p if p is not None else v for p, v in zip(previous, values, strict=True)]
        overflow = self._overflow.get(column) or [None] * len(values)
        self._overflow[column] = [
            o if o is not None else _to_text(v) if p is not None and v is not None else None
            for o, p, v in zip(overflow, previous, values, strict=True)
        ]

    def _dynamic_array(self, column: str, kind: str, values: list[Any], out: dict[str, Any]) -> None:
        """Replace `out[column]` by its array; off-kind values go to the variant column."""
        fast = _fast_array(values, kind)
        if fast is not None:
            out[column] = fast
            if column in self._overflow:
                self._add_variant(column, self._overflow[column], out)
            return
        coerce = COERCE[kind]
        fits: list[Any] = []
        misfits: list[Any] = []
        for value in values:
            fitted = misfit = None
            if value is not None:
                if kind == "text" or type(value) in FIT_TYPES[kind]:
                    try:
                        fitted = coerce(value)
                    except (_Unfit, OverflowError):
                        misfit = _to_text(value)
                else:
                    misfit = _to_text(value)
            fits.append(fitted)
            misfits.append(misfit)
        out[column] = _array(fits, kind) if kind != "timestamp" else _ms_to_timestamps(
            pa.array(fits, pa.int64()))
        overflow = self._overflow.get(column)
        if overflow is not None:
            misfits = [m if m is not None else o for m, o in zip(misfits, overflow, strict=True)]
        self._add_variant(column, misfits, out)

    def _add_variant(self, column: str, misfits: list[str | None], out: dict[str, Any]) -> None:
        """Text that does not fit `column` -> its variant column (registered on first use)."""
        if any(m is not None for m in misfits):
            variant = self.naming.make_path(column, VARIANT_SUFFIX)
            self.dynamic.setdefault(variant, "text")
            previous = out.get(variant)
            if isinstance(previous, _Inferred):  # an attribute key literally named like the variant
                previous = _column(previous.attributes, previous.key)
            if isinstance(previous, list):  # a field literally named like the variant
                misfits = [m if m is not None else _to_text(p) if p is not None else None
                           for m, p in zip(misfits, previous, strict=True)]
            out[variant] = pa.array(misfits, pa.string())


def column_types(table_schema: dict[str, Any] | None) -> dict[str, str]:
    """Column name -> dlt data type, from a dlt table schema (or nothing)."""
    if not table_schema:
        return {}
    return {
        name: column["data_type"]
        for name, column in table_schema.get("columns", {}).items()
        if column.get("data_type")
    }


def iter_tables(pages: Iterable[list[dict[str, Any]]], converter: PageConverter) -> Iterable[pa.Table]:
    for records in pages:
        if records:
            yield converter.convert(records)
