"""Records, scroll snapshots, filter and sort for the emulator.

Records are plain dicts that are never mutated once stored: every write builds
a new dict and replaces the old one (copy-on-write). A scroll snapshot is then
just a list of references, which costs a few milliseconds even at 1M users,
and later writes can never leak into an open scan.

Choices where docs/api-behaviour.md leaves room (clients must cope either way):
- `filter` values compare by the field's type in the endpoint table; numeric
  fields (integer, number, timestamp) need a numeric value (else 400).
  customAttributes.* compare as numbers when both sides are numbers, else as
  strings; booleans match `true`/`false`. A missing/null value matches only
  `!=` and `!~`. `~` and `!~` are case-sensitive full-value wildcard matches.
- `sort` puts missing values last in both directions; ties keep insertion
  order; values of mixed types order as booleans < numbers < strings.
- Write bodies: read-only fields (aptrinsicId, lastSeenDate...) and unknown
  fields are ignored, as the endpoint table says; `null` clears a field.
- Where the endpoint table has them (the published dialect), `createDate` is
  stamped on create and the modified cursor (`lastModifiedDate`) on every
  write that changes the record; a write that changes nothing leaves it. The
  stamp is now, or one millisecond past the newest stamp if that is later, so
  a change is always strictly after everything already stored.
- Updates (PATCH, PUT) change only the fields given, like an upsert does:
  the published API's PUT takes a whole User/Account schema, but its
  documentation promises no clearing of omitted fields. An update needs the
  endpoint's property-key field (when it has one), not every create field.
- Sort: `-field` and `+field` always; `field:desc` only where the dialect
  spells sorts that way (the contract; the published API answers 400).
"""

from __future__ import annotations

import base64
import math
import operator
import random
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any
from urllib.parse import urlparse

from gainsight_px.endpoints import CONTRACT, Dialect, Endpoint
from gainsight_px.timestamps import now_ms

from .tenant import uuid_like

NUMERIC_TYPES = frozenset({"integer", "number", "timestamp"})
# Longest operators first, so `<=` is never read as `<` followed by "=value".
_TERM = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*(?:\.[^=!<>~]+)?)(==|!=|<=|>=|!~|<|>|~)(.*)$", re.S)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


class APIError(Exception):
    """An error answer: HTTP status, the API's status string and a message."""

    def __init__(self, status: int, api_status: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.api_status = api_status
        self.message = message


def bad_request(message: str) -> APIError:
    return APIError(400, "BAD_REQUEST", message)


def not_found(message: str) -> APIError:
    return APIError(404, "NOT_FOUND", message)


# --------------------------------------------------------------------------- filter


def _field_type(ep: Endpoint, name: str) -> str:
    """The table type of `name` ('dynamic' for attributes), or 400 if unknown."""
    fmap = ep.field_map
    if name in fmap and fmap[name].type != "object":
        return fmap[name].type
    head, dot, tail = name.partition(".")
    if dot and tail and head == ep.attributes_field:
        return "dynamic"
    raise bad_request(f"Unknown field '{name}' for {ep.path}")


def _getter(name: str) -> Callable[[dict], Any]:
    head, dot, tail = name.partition(".")
    if not dot:
        return lambda r: r.get(name)

    def get(r: dict) -> Any:
        parent = r.get(head)
        return parent.get(tail) if isinstance(parent, dict) else None

    return get


def _number(text: str) -> int | float | None:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        v = float(text)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def _wildcard(pattern: str) -> re.Pattern[str]:
    parts = [".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern]
    return re.compile("".join(parts), re.S)


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _as_text(v: Any) -> str:
    return ("true" if v else "false") if isinstance(v, bool) else str(v)


def _dynamic_term(get: Callable[[dict], Any], op: str, raw: str) -> Callable[[dict], bool]:
    # customAttributes.*: the value's own type decides how it compares.
    num = _number(raw)
    low = raw.lower()
    negative = op == "!="
    cmp = _PY_OPS[op]

    def dynamic(r: dict) -> bool:
        v = get(r)
        if v is None:
            return negative
        if isinstance(v, bool):
            if low in ("true", "false") and op in ("==", "!="):
                return cmp(v, low == "true")
            return negative
        if _is_num(v):
            return cmp(v, num) if num is not None else negative
        if isinstance(v, str):
            return cmp(v, raw)
        return negative

    return dynamic


_PY_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt,
    "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}
_TYPE_CHECK = {"numeric": "in _NUMT", "boolean": "is bool", "string": "is str"}
_TYPE_CHECK_NOT = {"numeric": "not in _NUMT", "boolean": "is not bool", "string": "is not str"}


def _term_source(ep: Endpoint, term: str, consts: dict[str, Any]) -> str:
    """One `{field}{op}{value}` term as a Python expression over the record `r`.

    Field names enter the source only through repr() and values only as named
    constants, so no request text is ever evaluated as code.
    """
    m = _TERM.match(term)
    if not m:
        raise bad_request(f"Malformed filter term '{term}'")
    name, op, raw = m.groups()
    ftype = _field_type(ep, name)
    head, dot, tail = name.partition(".")
    get = (f"(_p.get({tail!r}) if type(_p := r.get({head!r})) is dict else None)" if dot
           else f"r.get({head!r})")
    c = f"_c{len(consts)}"
    if op in ("~", "!~"):
        consts[c] = _wildcard(raw)
        text = "(_v if type(_v) is str else _as_text(_v))"
        if op == "~":
            return f"((_v := {get}) is not None and {c}.fullmatch({text}) is not None)"
        return f"((_v := {get}) is None or {c}.fullmatch({text}) is None)"
    if ftype == "dynamic":
        consts[c] = _dynamic_term(_getter(name), op, raw)
        return f"{c}(r)"
    if ftype in NUMERIC_TYPES:
        kind, value = "numeric", _number(raw)
        if value is None:
            raise bad_request(f"Filter on numeric field '{name}' needs a number, got '{raw}'")
    elif ftype == "boolean":
        if raw.lower() not in ("true", "false") or op not in ("==", "!="):
            raise bad_request(f"Filter on boolean field '{name}' takes ==/!= true|false")
        kind, value = "boolean", raw.lower() == "true"
    else:
        kind, value = "string", raw
    consts[c] = value
    # A missing value or one of another type matches only `!=`.
    if op == "!=":
        return f"(type(_v := {get}) {_TYPE_CHECK_NOT[kind]} or _v != {c})"
    return f"(type(_v := {get}) {_TYPE_CHECK[kind]} and _v {op} {c})"


class CompiledFilter:
    """A filter compiled to Python: `f(record) -> bool`, `f.select(records) -> list`.

    Generated code instead of nested closures: filtering 1M records is one
    tight loop with no Python call per term (about 4x faster).
    """

    def __init__(self, source: str, consts: dict[str, Any]) -> None:
        self.source = source
        ns: dict[str, Any] = {"_NUMT": frozenset({int, float}), "_as_text": _as_text, **consts}
        code = (
            f"def _pred(r):\n    return {source}\n"
            f"def _select(records):\n    out = []\n    add = out.append\n"
            f"    for r in records:\n        if {source}:\n            add(r)\n    return out\n"
        )
        exec(compile(code, "<px-filter>", "exec"), ns)  # noqa: S102 - source built from checked parts only
        self._pred = ns["_pred"]
        self.select: Callable[[list[dict]], list[dict]] = ns["_select"]

    def __call__(self, record: dict) -> bool:
        return bool(self._pred(record))


def compile_filter(ep: Endpoint, filters: Iterable[str]) -> CompiledFilter | None:
    """Repeated `filter` params OR'ed; `;`-separated terms inside one AND'ed. 400 on a bad term."""
    consts: dict[str, Any] = {}
    groups = []
    for text in filters:
        terms = [t for t in text.split(";") if t != ""]
        if not terms:
            raise bad_request("Empty filter")
        groups.append("(" + " and ".join(_term_source(ep, t, consts) for t in terms) + ")")
    if not groups:
        return None
    return CompiledFilter(" or ".join(groups), consts)


def filter_fields(filters: Iterable[str], dialect: Dialect = CONTRACT) -> set[str]:
    """The field names a list of filter groups mentions (malformed terms are skipped)."""
    out = set()
    for text in filters:
        for term in text.split(dialect.filter_and):
            m = _TERM.match(term)
            if m:
                out.add(m.group(1))
    return out


# --------------------------------------------------------------------------- sort


def parse_sort(ep: Endpoint, text: str, dialect: Dialect = CONTRACT) -> list[tuple[str, bool]]:
    """`a;b:desc;-c` -> [(field, descending)]; 400 on unknown field or direction.

    `field:desc` is accepted only where the dialect spells sorts with a suffix.
    """
    suffix_ok = not dialect.sort_descending.startswith("-")
    out = []
    for part in text.split(dialect.sort_separator):
        part = part.strip()
        if not part:
            continue
        desc = False
        if part[0] in "-+":
            desc, part = part[0] == "-", part[1:]
        elif ":" in part:
            if not suffix_ok:
                raise bad_request(f"Bad sort '{part}': write -field for descending order")
            part, _, direction = part.rpartition(":")
            if direction.lower() not in ("asc", "desc"):
                raise bad_request(f"Bad sort direction '{direction}'")
            desc = direction.lower() == "desc"
        _field_type(ep, part)
        out.append((part, desc))
    if not out:
        raise bad_request("Empty sort")
    return out


def _sort_one(records: list[dict], name: str, desc: bool) -> list[dict]:
    """Stable sort on one field; a total order over mixed types, missing last.

    Records are split by value kind (bool < number < string), then each group
    sorts with native comparisons.
    """
    head, dot, tail = name.partition(".")
    if not dot:
        # Fast path: a top-level field present in every record with one comparable
        # type (a None or a mixed type raises, and the general path below decides).
        try:
            return sorted(records, key=itemgetter(name), reverse=desc)
        except (TypeError, KeyError):
            pass
    missing: list[dict] = []
    # kind -> (records, values); values are sorted through an index list, so no
    # per-record tuple is built (at 1M records those cost more than the sort).
    groups: dict[type, tuple[list[dict], list[Any]]] = {bool: ([], []), int: ([], []), str: ([], [])}
    for r in records:
        if dot:
            p = r.get(head)
            v = p.get(tail) if type(p) is dict else None
        else:
            v = r.get(head)
        if v is None:
            missing.append(r)
            continue
        t = type(v)
        if t is float:
            t = int
        elif t not in groups:
            t, v = str, str(v)
        recs, vals = groups[t]
        recs.append(r)
        vals.append(v)
    out: list[dict] = []
    for t in ((str, int, bool) if desc else (bool, int, str)):
        recs, vals = groups[t]
        order = sorted(range(len(vals)), key=vals.__getitem__, reverse=desc)
        out.extend([recs[i] for i in order])
    out.extend(missing)
    return out


def sort_records(records: list[dict], spec: list[tuple[str, bool]]) -> list[dict]:
    """Stable multi-key sort: one stable pass per key, last key first."""
    for name, desc in reversed(spec):
        records = _sort_one(records, name, desc)
    return records


# --------------------------------------------------------------------------- validation


def _type_ok(ftype: str, v: Any) -> bool:
    if ftype == "string":
        return isinstance(v, str)
    if ftype in ("integer", "timestamp"):
        return isinstance(v, int) and not isinstance(v, bool)
    if ftype == "number":
        return _is_num(v)
    if ftype == "boolean":
        return isinstance(v, bool)
    if ftype == "object":
        return isinstance(v, dict)
    if ftype == "array":
        return isinstance(v, list)
    return True


def _uri_ok(v: str) -> bool:
    u = urlparse(v)
    return u.scheme in ("http", "https") and bool(u.netloc)


def validate_body(ep: Endpoint, body: Any, *, partial: bool) -> dict:
    """The writable fields of `body`, type-checked against the endpoint table.

    `partial` (an update) checks only the property-key field, if the endpoint
    has one; otherwise every required field must be there. Raises 400 on a problem.
    """
    if not isinstance(body, dict):
        raise bad_request("Request body must be a JSON object")
    out: dict = {}
    for f in ep.fields:
        if not f.writable or f.name not in body:
            continue
        v = body[f.name]
        if v is None:
            if f.required:
                raise bad_request(f"Field '{f.name}' is required")
            out[f.name] = None
            continue
        if not _type_ok(f.type, v):
            raise bad_request(f"Field '{f.name}' must be of type {f.type}")
        if f.format == "email" and not _EMAIL.match(v):
            raise bad_request(f"Field '{f.name}' is not a valid email: '{v}'")
        if f.format == "uri" and not _uri_ok(v):
            raise bad_request(f"Field '{f.name}' is not a valid URI: '{v}'")
        if f.enum and v not in f.enum:
            raise bad_request(f"Field '{f.name}' must be one of {', '.join(f.enum)}")
        if f.type == "object" and f.name == ep.attributes_field:
            for k, item in v.items():
                if not (item is None or isinstance(item, str | int | float | bool)):
                    raise bad_request(f"{f.name}.{k} must be a string, number, boolean or null")
        if f.type == "string" and f.required and not v:
            raise bad_request(f"Field '{f.name}' must not be empty")
        if f.name == ep.property_key_field and f.type == "array" and (
                not v or not all(isinstance(k, str) and k for k in v)):
            raise bad_request(f"Field '{f.name}' needs at least one property key (AP-XXXX-N)")
        out[f.name] = v
    required = ep.required_fields
    if partial:
        required = (ep.property_key_field,) if ep.property_key_field in required else ()
    for name in required:
        if name not in out:
            raise bad_request(f"Field '{name}' is required")
    return out


def merge(record: dict, changes: dict, attributes_field: str | None) -> dict:
    """A new record: `changes` over `record`, attributes merged key by key."""
    new = {**record, **changes}
    if attributes_field and isinstance(changes.get(attributes_field), dict):
        old = record.get(attributes_field)
        new[attributes_field] = {**(old if isinstance(old, dict) else {}), **changes[attributes_field]}
    return new


def copy_record(r: dict) -> dict:
    return {k: (dict(v) if isinstance(v, dict) else v) for k, v in r.items()}


# --------------------------------------------------------------------------- scrolls


@dataclass
class Scroll:
    id: str
    resource: str
    records: list[dict]
    page_size: int
    pos: int = 0
    last_access: float = field(default_factory=time.monotonic)
    pages: int = 0


@dataclass
class Page:
    results: list[dict]
    scroll_id: str
    total: int


CREATE_DATE = "createDate"  # stamped on create where the endpoint table has it


# --------------------------------------------------------------------------- store


class Store:
    """Every resource's records, the custom events, and the open scrolls.

    One lock guards the tables and scrolls; it is held only for dict updates
    and list copies, never while filtering, sorting or serialising.
    """

    def __init__(self, data: dict[str, list[dict]], *, dialect: Dialect = CONTRACT, seed: int = 0,
                 scroll_ttl: float = 60.0, clock_ms: Callable[[], int] | None = None,
                 rotate_scroll_ids: bool = False) -> None:
        self.dialect = dialect
        self.scroll_ttl = scroll_ttl
        # Each page answers a new scrollId ("<id>~<n>"); every id of a scroll continues it.
        self.rotate_scroll_ids = rotate_scroll_ids
        self.clock_ms = clock_ms or now_ms
        self.lock = threading.RLock()
        self._rng_seed = seed
        self._new_ids = 0
        self.tables: dict[str, dict[str, dict]] = {}
        # write key -> primary key, where they differ (users: identifyId -> aptrinsicId)
        self._index: dict[str, dict[str, str]] = {}
        self.events: list[dict] = []
        self._scrolls: dict[str, Scroll] = {}
        self._expired_ids: dict[str, None] = {}
        self.max_last_seen = 0
        self.max_modified = 0  # newest modified-cursor stamp (lastModifiedDate), if the dialect has one
        for name, ep in dialect.endpoints.items():
            if "GET" not in ep.methods:
                continue
            table = {r[ep.primary_key]: r for r in data.get(name, [])}
            self.tables[name] = table
            if ep.write_key and ep.write_key != ep.primary_key:
                self._index[name] = {r[ep.write_key]: k for k, r in table.items()}
            for r in table.values():
                ls = r.get("lastSeenDate")
                if _is_num(ls) and ls > self.max_last_seen:
                    self.max_last_seen = ls
                lm = r.get(ep.modified_cursor) if ep.modified_cursor else None
                if _is_num(lm) and lm > self.max_modified:
                    self.max_modified = lm

    # ----------------------------------------------------------- reading

    def endpoint(self, resource: str) -> Endpoint:
        if resource not in self.tables:
            raise KeyError(f"unknown resource '{resource}' (one of {', '.join(self.tables)})")
        return self.dialect.endpoints[resource]

    def records(self, resource: str) -> list[dict]:
        """Current records of `resource` (copies, insertion order)."""
        self.endpoint(resource)
        with self.lock:
            snap = list(self.tables[resource].values())
        return [copy_record(r) for r in snap]

    def count(self, resource: str) -> int:
        return len(self.tables[resource])

    def get(self, resource: str, key: str) -> dict | None:
        """The stored record by primary key (not a copy: never mutate it)."""
        return self.tables[resource].get(key)

    def get_by_write_key(self, resource: str, wkey: str) -> dict | None:
        with self.lock:
            return self.tables[resource].get(self._primary(resource, wkey))

    def _primary(self, resource: str, wkey: str) -> str:
        index = self._index.get(resource)
        if index is None:
            return wkey
        return index.get(wkey, "\0missing")

    # ----------------------------------------------------------- writing

    def new_aptrinsic_id(self) -> str:
        with self.lock:
            self._new_ids += 1
            n = self._new_ids
        # Deterministic per seed and creation order, uuid-shaped like the tenant's.
        return uuid_like(random.Random(f"{self._rng_seed}:new:{n}").getrandbits(128))

    def _seen(self, r: dict) -> None:
        ls = r.get("lastSeenDate")
        if _is_num(ls) and ls > self.max_last_seen:
            self.max_last_seen = ls

    def modified_now(self) -> int:
        """The next modification stamp: now, or 1 ms past the newest stamp if that is later."""
        with self.lock:
            return max(self.clock_ms(), self.max_modified + 1)

    def _stamp(self, ep: Endpoint, old: dict | None, new: dict, at_ms: int | None = None) -> dict:
        """Stamp createDate / the modified cursor on `new` where the table has them."""
        mod = ep.modified_cursor
        if not mod and CREATE_DATE not in ep.field_map:
            return new
        if old is not None and {k: v for k, v in new.items() if k != mod} == \
                {k: v for k, v in old.items() if k != mod}:
            return new  # nothing changed: the stamp stays
        now = self.modified_now() if at_ms is None else int(at_ms)
        if old is None and CREATE_DATE in ep.field_map:
            new[CREATE_DATE] = now
        if mod:
            new[mod] = now
            with self.lock:
                self.max_modified = max(self.max_modified, now)
        return new

    def put(self, resource: str, record: dict) -> dict:
        """Store `record` (a fresh dict) under its primary key, keeping indexes right."""
        ep = self.endpoint(resource)
        key = record[ep.primary_key]
        with self.lock:
            table = self.tables[resource]
            old = table.get(key)
            index = self._index.get(resource)
            if index is not None:
                if old is not None and old.get(ep.write_key) != record.get(ep.write_key):
                    index.pop(old.get(ep.write_key), None)
                index[record[ep.write_key]] = key
            table[key] = record
            self._seen(record)
        return record

    def remove(self, resource: str, key: str) -> dict | None:
        ep = self.endpoint(resource)
        with self.lock:
            old = self.tables[resource].pop(key, None)
            if old is not None and resource in self._index:
                self._index[resource].pop(old.get(ep.write_key), None)
        return old

    def blank(self, ep: Endpoint) -> dict:
        """A new record with every field present, as the API would create it."""
        rec: dict = {}
        for f in ep.fields:
            if f.type in NUMERIC_TYPES and f.name != ep.primary_key:
                rec[f.name] = 0
            elif f.type == "object":
                rec[f.name] = {} if f.name == ep.attributes_field or not f.children else None
            elif f.type == "array":
                rec[f.name] = []
            elif f.type == "boolean":
                rec[f.name] = False
            else:
                rec[f.name] = None
        if ep.name == "users":
            rec["type"] = "USER"
        return rec

    def _new_record(self, ep: Endpoint) -> dict:
        rec = self.blank(ep)
        if ep.primary_key != ep.write_key:
            rec[ep.primary_key] = self.new_aptrinsic_id()
        return rec

    def _created(self, ep: Endpoint, rec: dict) -> dict:
        if "id" in ep.field_map and ep.write_key != "id" and not ep.field_map["id"].writable:
            rec["id"] = rec.get(ep.write_key)  # the published User's output-only synonym
        return self._stamp(ep, None, rec)

    def upsert(self, resource: str, body: Any) -> tuple[dict, bool]:
        """Contract POST semantics: create or update by the write key. Returns (record, created)."""
        ep = self.endpoint(resource)
        changes = validate_body(ep, body, partial=False)
        wkey = changes[ep.write_key]
        with self.lock:
            old = self.get_by_write_key(resource, wkey)
            if old is None:
                return self.put(resource, self._created(ep, merge(self._new_record(ep), changes,
                                                                  ep.attributes_field))), True
            return self.put(resource, self._stamp(ep, old, merge(old, changes, ep.attributes_field))), False

    def create(self, resource: str, body: Any) -> dict:
        """Published POST semantics: create only; an existing id is 400 "possible duplicate"."""
        ep = self.endpoint(resource)
        changes = validate_body(ep, body, partial=False)
        wkey = changes[ep.write_key]
        with self.lock:
            if self.get_by_write_key(resource, wkey) is not None:
                raise APIError(ep.duplicate_status or 400, "BAD_REQUEST",
                               f"Bad request, possible duplicate: {resource[:-1]} '{wkey}' already exists")
            return self.put(resource, self._created(ep, merge(self._new_record(ep), changes,
                                                              ep.attributes_field)))

    def update(self, resource: str, wkey: str | None, body: Any) -> dict:
        """PATCH / PUT: change the fields given; 404 if missing, nothing created.

        `wkey` None: the id comes from the body (PUT /users/update).
        """
        ep = self.endpoint(resource)
        changes = validate_body(ep, body, partial=True)
        if wkey is None:
            wkey = changes.get(ep.write_key)
            if not isinstance(wkey, str) or not wkey:
                raise bad_request(f"Field '{ep.write_key}' is required")
        elif ep.write_key in changes and changes[ep.write_key] != wkey:
            raise bad_request(f"'{ep.write_key}' in the body does not match the path")
        with self.lock:
            old = self.get_by_write_key(resource, wkey)
            if old is None:
                raise not_found(f"{resource[:-1].capitalize()} '{wkey}' was not found")
            return self.put(resource, self._stamp(ep, old, merge(old, changes, ep.attributes_field)))

    def patch(self, resource: str, wkey: str, body: Any) -> dict:
        return self.update(resource, wkey, body)

    def delete(self, resource: str, wkey: str) -> None:
        with self.lock:
            old = self.get_by_write_key(resource, wkey)
            if old is None:
                raise not_found(f"{resource[:-1].capitalize()} '{wkey}' was not found")
            self.remove(resource, old[self.endpoint(resource).primary_key])

    def add_event(self, body: Any) -> dict:
        ep = self.dialect.endpoints[self.dialect.events_endpoint]
        event = validate_body(ep, body, partial=False)
        if event.get("date") is None:
            event["date"] = self.clock_ms()
        if ep.primary_key in ep.field_map and ep.primary_key not in event:
            event[ep.primary_key] = self.new_aptrinsic_id()  # the published eventId
        with self.lock:
            self.events.append(event)
        return event

    def add_subscription(self, body: Any) -> dict:
        ep = self.endpoint("subscriptions")
        sub = validate_body(ep, body, partial=False)
        with self.lock:
            n = len(self.tables["subscriptions"]) + 1
            sid = f"sub-{n:04d}"
            while sid in self.tables["subscriptions"]:
                n += 1
                sid = f"sub-{n:04d}"
            rec = {"id": sid, **sub, "active": True}
            return self.put("subscriptions", rec)

    # ----------------------------------------------------------- scrolls

    def open_scroll(self, resource: str, page_size: int, filters: list[str] | None = None,
                    sort: str | None = None) -> Scroll:
        """Snapshot the matching records (filtered, sorted) into a new scroll."""
        ep = self.endpoint(resource)
        pred = compile_filter(ep, filters or [])
        order = parse_sort(ep, sort, self.dialect) if sort else None
        with self.lock:
            snap = list(self.tables[resource].values())
        if pred is not None:
            snap = pred.select(snap)
        if order:
            snap = sort_records(snap, order)
        sid = base64.urlsafe_b64encode(b"px-scroll:" + secrets.token_bytes(16)).decode()
        scroll = Scroll(sid, resource, snap, page_size)
        with self.lock:
            self._sweep()
            self._scrolls[sid] = scroll
        return scroll

    def _sweep(self) -> None:
        # Drop idle scrolls so their snapshots can be freed; remember their ids
        # (bounded) so a late request still gets SCROLL_EXPIRED.
        now = time.monotonic()
        for sid in [s.id for s in self._scrolls.values() if now - s.last_access > self.scroll_ttl]:
            self._forget(sid)

    def _forget(self, sid: str) -> None:
        self._scrolls.pop(sid, None)
        self._expired_ids[sid] = None
        while len(self._expired_ids) > 10_000:
            self._expired_ids.pop(next(iter(self._expired_ids)))

    def scroll(self, resource: str, sid: str) -> Scroll:
        sid = sid.split("~", 1)[0]
        with self.lock:
            s = self._scrolls.get(sid)
            if s is not None and time.monotonic() - s.last_access > self.scroll_ttl:
                self._forget(sid)
                s = None
            if s is None:
                if sid in self._expired_ids:
                    raise APIError(404, "SCROLL_EXPIRED", "Scroll has expired; start a new scan")
                raise not_found("Unknown scrollId")
            if s.resource != resource:
                raise not_found("Unknown scrollId for this endpoint")
            return s

    def next_page(self, scroll: Scroll, *, consume: bool = True) -> Page:
        """The next page of `scroll`; `consume=False` serves it without advancing."""
        with self.lock:
            start = scroll.pos
            end = min(start + scroll.page_size, len(scroll.records))
            if consume:
                scroll.pos = end
                scroll.pages += 1
            scroll.last_access = time.monotonic()
            sid = f"{scroll.id}~{scroll.pages}" if self.rotate_scroll_ids else scroll.id
        return Page(scroll.records[start:end], sid, len(scroll.records))

    def numbered_page(self, resource: str, number: int, size: int) -> tuple[list[dict], bool]:
        """Page `number` (from the dialect's first page number) of `size`: (records, is last page)."""
        self.endpoint(resource)
        with self.lock:
            snap = list(self.tables[resource].values())
        start = (number - self.dialect.first_page_number) * size
        return snap[start:start + size], start + size >= len(snap)

    def expire_scrolls(self) -> int:
        with self.lock:
            ids = list(self._scrolls)
            for sid in ids:
                self._forget(sid)
        return len(ids)

    def open_scrolls(self) -> int:
        with self.lock:
            self._sweep()
            return len(self._scrolls)
