"""Scroll iteration over a PX list endpoint, with restarts that never skip a page.

dlt's REST paginators cannot do this: a scroll that expires, or a continuation
whose answer is lost after the server may already have moved on, needs a
*new* scan that starts where the data (not the scroll) left off.

- The scan ends on a short or empty page; a `scrollId` that stays set on the
  last page is expected (docs/api-behaviour.md) and ignored.
- A server that loops (the same page again, a full page sharing more than half
  its keys with the page before, more pages than `ceil(totalHits / pageSize)
  + 2`, or without `totalHits` more than `MAX_SCROLL_PAGES` = 20,000 pages)
  raises `PagingError` instead of loading forever.
- A scan that ends on a short page having received fewer records than its
  first page's `totalHits` is resumed like a broken scroll (below); the
  resumed scan asks again, so records deleted meanwhile lower the new total.
  One that keeps ending short fails after `MAX_RESTARTS` restarts.
- The first page of a scan is idempotent and retried by the client on 429/5xx
  and connection errors. A continuation is retried on 429 only. An expired or
  unknown scroll, a 5xx, a dropped connection or a cut-off body on a
  continuation restarts the scan, skipping every record already yielded:
  - cursor endpoints (users, accounts) restart with a new scan **from the
    highest cursor value reached**: `filter=lastSeenDate>=value` (inclusive)
    sorted ascending on it (`lastSeenDate:asc` in the contract, `lastSeenDate`
    in the published API), so every restart makes progress; the same holds for
    a scan on another cursor (`cursor_field`, e.g. lastModifiedDate);
  - other endpoints rescan from the top.
  A full read (no stored cursor) starts unsorted: sorting a whole tenant costs
  the server more than the rare restart saves. Its first restart is a sorted
  scan from the start, later ones resume from the cursor as above.
  Restarts that yield nothing new are bounded; then the scan fails cleanly.
- `Position` is also how an incremental run starts: the cursor value and the
  keys already loaded at it (kept in dlt state by `source.py`). When those keys
  are few and filter-safe, the server excludes them
  (`filter=lastSeenDate>v` OR `filter=lastSeenDate==v;aptrinsicId!=k...`), so a
  run with no changes fetches no rows at all.

Page-number endpoints (the published `/feature`, `/engagement`, `/segment`)
are read page by page from the dialect's first page number; the scan ends on
`isLastPage` true or a short page, whichever comes first. Each page request
is idempotent, so the client retries it on 429/5xx and connection errors. A
server that sends the same page twice, answers another page number than asked,
or never ends (more than `MAX_NUMBERED_PAGES` pages) raises `PagingError`.
Offset paging cannot see a consistent snapshot: a record that shifts between
pages may be read twice (dropped here by key) or missed (these lists are small
and replaced every run, so the next run has it).

Every name on the wire (parameters, response keys, sort and filter spelling)
and every page-size limit comes from the dialect (`endpoints/`).

"Already yielded" is kept as 64-bit hashes (8 bytes per record, so memory
stays flat at millions of users): of the key in a full read (whose load
replaces the table, so a key must not appear twice), of (key, cursor value)
in an incremental read (so a record that moved during the run is read again
and merge keeps its newest version). The chance that a hash collision hides a
record during a restart is below 1e-7 at 1M records.
"""

from __future__ import annotations

import logging
import math
import re
import time
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any

import requests

from gainsight_px import settings
from gainsight_px.client import PXClient, TransportError
from gainsight_px.endpoints import Endpoint
from gainsight_px.errors import (
    APIError,
    AuthError,
    NotFoundError,
    PagingError,
    ScrollExpiredError,
)
from gainsight_px.timestamps import as_ms, now_ms

log = logging.getLogger(__name__)

MAX_RESTARTS = 10  # consecutive restarts that yield nothing new, before giving up
MAX_NUMBERED_PAGES = 10_000  # page-number scans: a bound for servers that never say "last page"
# Scroll scans without totalHits: 20,000 pages (10M records at 500 a page) and no more.
MAX_SCROLL_PAGES = 20_000
# A full page sharing more than this share of its keys with the page before is a repeat.
# A cursor value further than this ahead of this machine's clock never moves the cursor.
MAX_CLOCK_SKEW_MS = 10 * 60 * 1000
MAX_REPEATED_SHARE = 0.5
PAGE_SLACK = 2  # pages allowed beyond ceil(totalHits / pageSize)
# Boundary keys sent as server-side exclusions (the query stays under ~3 KB).
MAX_EXCLUDED_KEYS = 50
# Keys that can go into a filter term verbatim (no `;`, which separates terms).
_FILTER_SAFE = re.compile(r"[A-Za-z0-9@._+\-/:# ]+")


@dataclass
class Position:
    """The highest cursor value reached (epoch ms) and the keys yielded at it."""

    cursor: int | None = None
    keys: set[str] = field(default_factory=set)

    def copy(self) -> Position:
        return Position(self.cursor, set(self.keys))


@dataclass
class ScanStats:
    requests: int = 0
    pages: int = 0
    records: int = 0  # yielded (after skipping records already yielded)
    restarts: int = 0
    warnings: list[str] = field(default_factory=list)  # said once each, shown in the load summary


class _Restart(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _key(record: dict[str, Any], key_field: str) -> str:  # the key as the skip sets see it
    value = record.get(key_field)
    return value if isinstance(value, str) else str(value)


class Scan:
    """Iterate the pages (lists of raw records) of one endpoint, each record once.

    `start=None` reads everything (a full read). `start=Position(ms, keys)`
    reads records whose cursor is at least `ms`, sorted, minus `keys` at `ms`.

    >>> scan = Scan(client, CONTRACT["users"], page_size=500, start=Position(1732579200000))
    >>> for records in scan.pages(): ...
    >>> scan.position  # where the next incremental run starts
    """

    def __init__(self, client: PXClient, endpoint: Endpoint, *, page_size: int | None = None,
                 start: Position | None = None, max_restarts: int = MAX_RESTARTS,
                 cursor_field: str | None = None, track: str | None = None) -> None:
        """`page_size` None means the endpoint's limit; `cursor_field` overrides the
        endpoint's cursor (e.g. its modified cursor); `track` names another cursor
        whose highest value among the yielded records is kept in `tracked`."""
        self.client = client
        self.dialect = client.dialect
        self.endpoint = endpoint
        limit = self.dialect.page_limit(endpoint)
        page_size = limit if page_size is None else page_size
        if endpoint.paging != "none" and not 1 <= page_size <= limit:
            raise ValueError(f"{endpoint.name}: page_size must be between 1 and {limit}, got {page_size}")
        self.page_size = page_size
        self.key_field = endpoint.primary_key
        cursor = cursor_field or endpoint.cursor
        self.cursor_field = cursor if cursor and endpoint.incremental else None
        if start is not None and (self.cursor_field is None or start.cursor is None):
            raise ValueError(f"{endpoint.name}: a start position needs a cursor endpoint and value")
        self.track_field = track
        self.tracked = Position()
        self.full_read = start is None
        self.max_restarts = max_restarts
        self.stats = ScanStats()
        # Highest cursor value and keys there among the records yielded: the next run's start.
        self.position = start.copy() if start else Position()
        # Where a sorted scan (re)starts: the start, then the highest cursor value seen sorted.
        self._sorted = start is not None
        self._resume: Position | None = start.copy() if start else None
        # True once _resume.keys are all from this run's sorted pages (not the previous run's).
        self._resume_in_order = False
        # Records an earlier run loaded at the start value (the server may send them again).
        self._boundary: Position | None = start.copy() if start and start.keys else None
        # Hashes of what this scan yielded; a set of them once a restart needs it.
        self._yielded = array("q")
        self._skip: set[int] | None = None
        self._ordered = True

    # -- queries ----------------------------------------------------------------

    def first_page_params(self) -> list[tuple[str, Any]]:
        d = self.dialect
        params: list[tuple[str, Any]] = []
        if self.endpoint.paging == "scroll":
            params.append((d.page_size_param, self.page_size))
        if not self._sorted:
            return params
        cursor, key = self.cursor_field, self.key_field
        # The key breaks ties, so a restart can resume inside a crowd of equal cursor values.
        params.append((d.sort_param, d.sort(cursor, key)))
        if self._resume is None or self._resume.cursor is None:
            return params
        value, keys = self._resume.cursor, self._resume.keys
        safe = bool(keys) and all(_FILTER_SAFE.fullmatch(k) for k in keys)
        after = d.term(cursor, ">", value)
        if safe and len(keys) <= MAX_EXCLUDED_KEYS:
            # Everything after `value`, and whatever at `value` has not been read yet.
            exclusions = tuple(d.term(key, "!=", k) for k in sorted(keys))
            params += d.filters(after, (d.term(cursor, "==", value), *exclusions))
        elif safe and self._resume_in_order:
            # Too many to list: this run read them in (cursor, key) order, so go on after the last.
            params += d.filters(after, (d.term(cursor, "==", value), d.term(key, ">", max(keys))))
        else:
            params += d.filters(d.term(cursor, ">=", value))  # re-read; skipped here, merged there
        return params

    # -- iteration --------------------------------------------------------------

    def pages(self) -> Iterator[list[dict[str, Any]]]:
        """Yield every record once, page by page; restart new scans as needed."""
        stalled = 0
        while True:
            before = self.stats.records
            try:
                yield from self._one_scan()
                return
            except _Restart as restart:
                stalled = 0 if self.stats.records > before else stalled + 1
                self.stats.restarts += 1
                if stalled > self.max_restarts:
                    raise PagingError(
                        f"GET {self.endpoint.path}: gave up after {self.max_restarts} restarts "
                        f"in a row that read nothing new; last problem: {restart.reason}",
                        method="GET", path=self.endpoint.path,
                    ) from None
                if self._sorted and not self._ordered:
                    raise PagingError(
                        f"GET {self.endpoint.path}: the scan broke off ({restart.reason}) and the "
                        f"server had not sorted by {self.cursor_field}, so it cannot resume safely.",
                        method="GET", path=self.endpoint.path,
                    ) from None
                self._skip = set(self._yielded)
                if self.cursor_field:
                    self._sorted = True
                log.warning("%s: %s; starting a new scan from %s", self.endpoint.name,
                            restart.reason, self._where())

    def _where(self) -> str:
        if self._resume is not None and self._resume.cursor is not None:
            return f"{self.cursor_field}>={self._resume.cursor}"
        return f"the start, skipping the {self.stats.records} records already read"

    def _records(self, body: dict[str, Any], path: str) -> list[dict[str, Any]]:
        records = body.get(self.endpoint.response_key)
        if not isinstance(records, list) or not all(type(r) is dict for r in records):
            others = sorted(k for k, v in body.items() if isinstance(v, list) and k != self.endpoint.response_key)
            hint = (f" (the answer has {', '.join(map(repr, others))} instead: the server may speak another "
                    f"API dialect than {self.dialect.name}; set {settings.DIALECT_ENV})") if others else ""
            raise APIError(
                f"GET {path}: expected a list of records under {self.endpoint.response_key!r}{hint}",
                method="GET", path=path,
            )
        return records

    def _fingerprint(self, records: list[dict[str, Any]]) -> tuple[int, str, str]:
        return len(records), _key(records[0], self.key_field), _key(records[-1], self.key_field)

    def _one_scan(self) -> Iterator[list[dict[str, Any]]]:
        if self.endpoint.paging == "page_number":
            yield from self._numbered_scan()
            return
        d = self.dialect
        path = self.endpoint.path
        params = self.first_page_params()
        seen_pages: set[tuple[int, str, str]] = set()
        page_limit: int | None = None
        total: int | None = None
        received = 0  # records this scan was sent (repeats included)
        previous: set[int] = set()  # key hashes of the page before
        pages = 0
        while True:
            first = pages == 0
            body = self._get(path, params, first)
            records = self._records(body, path)
            pages += 1
            received += len(records)
            self.stats.pages += 1
            if self.endpoint.paging != "scroll":
                out = self._emit(records)
                if out:
                    yield out
                return
            if first:
                hits = body.get(d.total_key)
                if type(hits) is int and hits >= 0:
                    total = hits
                    page_limit = math.ceil(total / self.page_size) + PAGE_SLACK
            if records:
                fingerprint = self._fingerprint(records)
                if fingerprint in seen_pages:
                    raise PagingError(
                        f"GET {path}: the server sent the same page twice in one scan "
                        f"(page {pages}); its {d.scroll_param} does not advance.",
                        method="GET", path=path,
                    )
                seen_pages.add(fingerprint)
                keys = {hash(_key(r, self.key_field)) for r in records}
                if len(records) >= self.page_size and len(keys & previous) > MAX_REPEATED_SHARE * len(keys):
                    raise PagingError(
                        f"GET {path}: page {pages} repeats {len(keys & previous)} of the {len(keys)} records "
                        f"of the page before; the {d.scroll_param} does not advance.", method="GET", path=path,
                    )
                previous = keys
            limit = page_limit if page_limit is not None else MAX_SCROLL_PAGES
            if pages > limit:
                why = (f"more pages than {d.total_key} allows ({pages} > {page_limit})" if page_limit is not None
                       else f"{MAX_SCROLL_PAGES:,} pages without {d.total_key} (paging.MAX_SCROLL_PAGES)")
                raise PagingError(f"GET {path}: {why}; the scroll does not end.", method="GET", path=path)
            out = self._emit(records)
            if out:
                yield out
            if len(records) < self.page_size:
                if total is not None and received < total:
                    # Records deleted meanwhile are fine: the restart asks again and gets a new total.
                    raise _Restart(f"the scan ended after {received:,} of the {total:,} records "
                                   f"{d.total_key} announced")
                return  # short or empty page: the scan is over, whatever scrollId says
            scroll_id = body.get(d.scroll_param)
            if not scroll_id or not isinstance(scroll_id, str):
                raise _Restart(f"a full page came without a {d.scroll_param}")
            params = [(d.page_size_param, self.page_size), (d.scroll_param, scroll_id)]

    def _numbered_scan(self) -> Iterator[list[dict[str, Any]]]:
        """pageNumber from the first, until isLastPage or a short page; each page retried alone."""
        d = self.dialect
        path = self.endpoint.path
        seen_pages: set[tuple[int, str, str]] = set()
        seen_keys: set[int] = set()  # a record that shifted to a later page is read twice
        for number in range(d.first_page_number, d.first_page_number + MAX_NUMBERED_PAGES):
            params = [(d.page_size_param, self.page_size), (d.page_number_param, number)]
            body = self._get(path, params, True)  # idempotent: the client retries it
            records = self._records(body, path)
            self.stats.pages += 1
            last = body.get(d.last_page_key) is True or len(records) < self.page_size
            answered = body.get(d.page_number_param)
            if type(answered) is int and answered != number:
                raise PagingError(f"GET {path}: asked for {d.page_number_param} {number}, the server "
                                  f"answered page {answered}.", method="GET", path=path)
            if records:
                fingerprint = self._fingerprint(records)
                if fingerprint in seen_pages:
                    raise PagingError(
                        f"GET {path}: the server sent the same page twice in one scan "
                        f"({d.page_number_param} {number}); it ignores {d.page_number_param}.",
                        method="GET", path=path,
                    )
                seen_pages.add(fingerprint)
                hashes = [hash(_key(r, self.key_field)) for r in records]
                if not seen_keys.isdisjoint(hashes):
                    records = [r for r, h in zip(records, hashes, strict=True) if h not in seen_keys]
                seen_keys.update(hashes)
            out = self._emit(records)
            if out:
                yield out
            if last:
                return
        raise PagingError(f"GET {path}: more than {MAX_NUMBERED_PAGES} pages without "
                          f"{d.last_page_key}; the paging does not end.", method="GET", path=path)

    def _get(self, path: str, params: list[tuple[str, Any]], first: bool) -> dict[str, Any]:
        self.stats.requests += 1
        try:
            return self.client.get_json(path, params, retry="all" if first else "throttle_only")
        except AuthError:
            raise
        except (ScrollExpiredError, NotFoundError) as exc:
            if first:
                raise
            raise _Restart(f"the scroll is gone ({exc.status} {exc.api_status or ''})".strip()) from None
        except TransportError as exc:  # no answer; the client already retried what was safe to
            if first:
                raise
            raise _Restart(str(exc)) from None
        except APIError as exc:
            # A 200 with a cut-off body, or a 5xx on a continuation: the server may have advanced.
            if exc.status == 200 or (not first and exc.status is not None and exc.status >= 500):
                raise _Restart(str(exc)) from None
            raise
        except requests.RequestException as exc:
            if first:  # the client already retried this idempotent request
                raise APIError(f"GET {path}: {type(exc).__name__} after retries: {_short(exc)}",
                               method="GET", path=path) from None
            raise _Restart(f"{type(exc).__name__} on a continuation") from None

    # -- skipping and position --------------------------------------------------

    def _sane(self, keys: list[str], values: list[int | None], field_name: str | None) -> list[int | None]:
        """Cursor values with those beyond now + MAX_CLOCK_SKEW_MS hidden (None) from the position.

        The record itself still loads; only the next run's start ignores it, so one
        record stamped 9999-12-31 cannot move the cursor past every later change.
        """
        limit = now_ms() + MAX_CLOCK_SKEW_MS
        if not any(v is not None and v > limit for v in values):
            return values
        for key, value in zip(keys, values, strict=True):
            if value is not None and value > limit and len(self.stats.warnings) < 5:
                when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(min(value, 253402300799999) / 1000))
                message = (f"{self.endpoint.name} record {self.key_field}={key!r} has {field_name} {when}, "
                           f"beyond now + {MAX_CLOCK_SKEW_MS // 60000} min: loaded, but the cursor ignores it")
                self.stats.warnings.append(message)
                log.warning("%s", message)
        return [None if v is not None and v > limit else v for v in values]

    def _emit(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Drop records already yielded, advance the positions; return what is new."""
        key_field, cursor_field = self.key_field, self.cursor_field
        keys = _column(records, key_field)
        if set(map(type, keys)) != {str}:
            keys = [k if isinstance(k, str) else str(k) for k in keys]
        values = None
        if cursor_field:
            values = _column(records, cursor_field)
            if not set(map(type, values)) <= {int, type(None)}:
                values = [as_ms(v) for v in values]
        if self._sorted and values is not None:
            before = self._resume.cursor if self._resume else None
            self._resume = _advanced(self._resume, keys, values, self)
            if self._resume is not None and self._resume.cursor != before:
                # Every key at the new value was read by this run, in key order (keyset-safe).
                self._resume_in_order = True
        if self.full_read or values is None:
            hashes = list(map(hash, keys))
        else:
            hashes = list(map(hash, zip(keys, values, strict=True)))
        keep = None
        if self._skip is not None:
            keep = [h not in self._skip for h in hashes]
        boundary = self._boundary
        if boundary is not None and values is not None:
            at_boundary = [v == boundary.cursor and k in boundary.keys for k, v in zip(keys, values, strict=True)]
            keep = [not b for b in at_boundary] if keep is None else [
                k and not b for k, b in zip(keep, at_boundary, strict=True)]
            present = [v for v in values if v is not None]
            if present and min(present) > boundary.cursor:  # type: ignore[operator]
                self._boundary = None  # sorted ascending: no more records at the old boundary
        if keep is not None and not all(keep):
            records = [r for r, ok in zip(records, keep, strict=True) if ok]
            keys = [k for k, ok in zip(keys, keep, strict=True) if ok]
            hashes = [h for h, ok in zip(hashes, keep, strict=True) if ok]
            if values is not None:
                values = [v for v, ok in zip(values, keep, strict=True) if ok]
        self._yielded.extend(hashes)
        if values is not None:
            values = self._sane(keys, values, cursor_field)
            self.position = _advanced(self.position, keys, values, None) or self.position
        if self.track_field and records:
            tracked = self._sane(keys, [as_ms(v) for v in _column(records, self.track_field)], self.track_field)
            self.tracked = _advanced(self.tracked, keys, tracked, None) or self.tracked
        self.stats.records += len(records)
        return records


def _advanced(pos: Position | None, keys: list[str], values: list[int | None],
              order_check: Scan | None) -> Position | None:
    """`pos` moved to the highest cursor value in a page, with the keys found there."""
    present = [v for v in values if v is not None] if None in values else values
    if not present:
        return pos
    low, top = min(present), max(present)  # type: ignore[type-var]
    if pos is None or pos.cursor is None:
        pos = Position()
    elif order_check is not None and low < pos.cursor:
        order_check._ordered = False
    if pos.cursor is not None and top < pos.cursor:
        return pos
    if values.count(top) == 1:  # the usual case, found without a Python loop
        at_top = {keys[values.index(top)]}
    else:
        at_top = {k for k, v in zip(keys, values, strict=True) if v == top}
    if pos.cursor is None or top > pos.cursor:
        pos.cursor, pos.keys = top, at_top
    else:
        pos.keys |= at_top
    return pos


def _column(records: list[dict[str, Any]], name: str) -> list[Any]:
    return list(map(dict.get, records, repeat(name, len(records))))


def _short(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) <= 200 else text[:197] + "..."


def window_count(client: PXClient, endpoint: Endpoint, cursor_field: str, low: int, high: int,
                 stats: ScanStats | None = None) -> tuple[int | None, int | None]:
    """Records with `low <= cursor_field <= high`, and the highest value among them: one request,
    one record (sorted descending). (None, ...) when the server gives no total."""
    d = client.dialect
    params: list[tuple[str, Any]] = [
        (d.page_size_param, 1),
        (d.sort_param, d.sort(f"-{cursor_field}")),
        *d.filters((d.term(cursor_field, ">=", low), d.term(cursor_field, "<=", high))),
    ]
    scan = Scan(client, endpoint, page_size=1)
    try:
        body = scan._get(endpoint.path, params, True)
    finally:
        if stats is not None:
            stats.requests += 1
    records = scan._records(body, endpoint.path)
    hits = body.get(d.total_key)
    top = as_ms(records[0].get(cursor_field)) if records else None
    return (hits if type(hits) is int and hits >= 0 else None), top
