"""The `gainsight_px` dlt source: one resource per PX list endpoint.

Resources come from the endpoint table (`endpoints/`), never from code here,
in the dialect the server speaks (`dialect`: auto, contract or published;
`auto` asks the server once and remembers the answer in the source state,
see `dialects.py`):

| resource | contract | published | primary key | loads |
| --- | --- | --- | --- | --- |
| users | /users | /users (scroll) | aptrinsic_id | merge; incremental |
| accounts | /accounts | /accounts (scroll) | id | merge; incremental |
| features | /feature_match | /feature (page numbers, <= 200) | id | replace each run |
| engagements | /engagements | /engagement (page numbers, <= 500) | id | replace each run |
| subscriptions | /subscriptions | - | id | replace each run |
| segments | - | /segment (page numbers, <= 200) | id | replace each run |

Endpoints without a cursor are read whole every run, so their load replaces
the table (rows PX no longer has disappear). Each request asks for at most the
endpoint's own page limit: `page_size` (default: each endpoint's limit) is
capped per endpoint.

**Contract: one cursor.** Users and accounts keep their cursor in
`dlt.sources.incremental` on lastSeenDate, whose state is committed only with
a load package that extracted completely, and send it to PX as
`filter=lastSeenDate>=<ms>` with `sort=lastSeenDate:asc`, from `lookback_s`
(default 3600) behind the highest value loaded, for activity PX stamps late;
merge removes the overlap. Each run first asks whether the window behind the
cursor changed (`lookback.py`: one request for one record), so an unchanged
tenant costs one request and no rows, however many records tie at the
cursor. With `lookback_s=0` the boundary is inclusive and the keys already
loaded at it are kept in the resource state and excluded by the server.
Never-seen records (lastSeenDate 0 -> NULL) load on a run without a stored
cursor. `initial` limits the first run.

**Published: two cursors.** Users and accounts also carry `lastModifiedDate`,
which attribute writes move (activity moves only `lastSeenDate`). An
incremental run reads both changes: a scan of `lastSeenDate` from its stored
position, then a scan of `lastModifiedDate` from its own. Each is sorted on
its cursor, so a scan that breaks off resumes from the highest value it
reached (see `paging.py`); one scan ORing the two filters could not be sorted
on both and would have to re-read everything after a break. A record found
by both scans loads once (merge; `lastModifiedDate` decides which copy is
newer). Both positions (value and keys at it) live in the resource state
(`cursors`), committed with the package like dlt's incremental state; dlt's
incremental is not used here because it drops rows below its one cursor,
which is exactly what an attribute-only change looks like. Both scans start
`lookback_s` behind their positions, and an unchanged tenant costs one
one-record request per cursor (`lookback.py`). The first run
(or a reconcile) reads everything and records both maxima. If the server
answers 400 to a `lastModifiedDate` filter (undocumented for live tenants),
the run keeps the `lastSeenDate` scan alone and warns once; the next run
tries again.

A run of users/accounts without a stored cursor (the first run, or a
reconcile) and without `initial` reads the whole tenant, so that load
*replaces* the table (marked on its first item with `dlt.mark.with_hints`):
cheaper than merge, and it cannot keep rows PX no longer has. Runs with a
cursor merge.

Reconcile (deletions, and in the contract attribute-only changes, which
`lastSeenDate` cannot see): `load.py` drops the selected resources' state
(dlt's state-only drop: cursors, boundaries, both published positions), so
the resources read everything and their loads replace the tables in one
transaction (`atomic.py`).

**Nested values** (published): objects become columns, one per key, named
the way dlt's normalizer names nested fields: `location.city` ->
`location__city`, `lastInferredLocation.countryCode` ->
`last_inferred_location__country_code`, like `customAttributes` ->
`custom_attributes__<key>` (typed from their values, see `columns.py`; a
value that is itself an object, such as `location.coordinates`, is JSON
text). Arrays (`propertyKeys`, `channelMetricList`,
`lastVisitedUserAgentData`, `featureLabels`, `envs`, ...) stay in their row
as one JSON text column each (`property_keys`), not child tables: they are
short, and a child table per array would multiply the joins an analyst needs
for little gain. DuckDB reads them with `json_extract` / `from_json`.

Each page travels as a typed Arrow table (`columns.py`); dlt writes it as
parquet, which works for any destination.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import dlt
import pendulum
import pyarrow as pa
from dlt.common.configuration.container import Container
from dlt.common.destination.capabilities import DestinationCapabilitiesContext
from dlt.common.normalizers.naming import NamingConvention
from dlt.common.schema import Schema
from dlt.extract.resource import DltResource

from gainsight_px import atomic, dialects, lookback, settings
from gainsight_px.client import PXClient
from gainsight_px.columns import PageConverter, column_types
from gainsight_px.dialects import Choice
from gainsight_px.endpoints import DEFAULT_DIALECT, DIALECTS, Dialect, Endpoint
from gainsight_px.errors import APIError, ConfigError
from gainsight_px.event_source import event_streams, make_event_resource
from gainsight_px.gcpause import collector_paused
from gainsight_px.lookback import DEFAULT_RECORD_LOOKBACK_S, WindowTally, lookback_seconds
from gainsight_px.paging import MAX_CLOCK_SKEW_MS, MAX_EXCLUDED_KEYS, Position, Scan, ScanStats
from gainsight_px.timestamps import datetime_to_ms, now_ms
from gainsight_px.windows import DEFAULT_LOOKBACK_S, DEFAULT_WINDOW_DAYS

log = logging.getLogger(__name__)

# Where the keys loaded at the cursor boundary live in each resource's state.
BOUNDARY_STATE_KEY = "boundary"
# Two-cursor resources (published users/accounts): {cursor field: {"cursor": ms, "keys": [...]}}.
CURSORS_STATE_KEY = "cursors"
# Source state: the dialect `auto` found, and for which base URL ({"name", "base_url"}).
DIALECT_STATE_KEY = "dialect"
# Rows per yielded Arrow table (about 10 pages): big enough to amortise dlt's
# per-item overhead, small enough to keep memory flat.
BATCH_ROWS = 5000


def parse_initial(initial: datetime | date | str | None) -> datetime | None:
    """`initial` as an aware UTC datetime; a date or naive time counts as UTC."""
    if initial is None or initial == "":
        return None
    if isinstance(initial, datetime):
        value = initial
    elif isinstance(initial, date):
        value = datetime(initial.year, initial.month, initial.day)
    elif isinstance(initial, str):
        try:
            value = pendulum.parse(initial.strip(), tz="UTC", exact=False)
        except (ValueError, pendulum.parsing.exceptions.ParserError):
            raise ConfigError(
                f"initial: expected an ISO date or time such as 2024-01-31 or 2024-01-31T12:00:00Z, "
                f"got {initial!r}."
            ) from None
    else:
        raise ConfigError(f"initial: expected an ISO date or time, got {type(initial).__name__}.")
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def to_epoch_ms(value: Any) -> int | None:
    """A cursor value from dlt state (datetime) as epoch milliseconds."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return datetime_to_ms(value)
    if isinstance(value, int | float):
        return int(value)
    raise ConfigError(f"unexpected stored cursor value {value!r}; reset with --full-refresh.")


def listable_endpoints(dialect: Dialect) -> dict[str, Endpoint]:
    """Resources this source offers: every endpoint that can be listed, except the
    event streams (windowed by date; their resources are built apart)."""
    return {e.name: e for e in dialect.list_endpoints if e.max_range_days is None}


def _stored_columns(table_name: str) -> dict[str, str]:
    """Column types from earlier runs (the pipeline's stored schema), if any."""
    try:
        schema = dlt.current.source_schema()
    except Exception:  # outside a pipeline (e.g. iterating the resource directly)
        return {}
    return column_types(schema.tables.get(table_name))


def _publish(stats: Any) -> None:
    """Requests, pages and restarts as dlt custom metrics (shown in the load summary)."""
    try:
        metrics = dlt.current.resource_metrics()
    except Exception:
        return
    metrics["requests"] = stats.requests
    metrics["pages"] = stats.pages
    metrics["restarts"] = stats.restarts
    if getattr(stats, "warnings", None):  # e.g. a cursor value from the future (paging.py)
        metrics.setdefault("warnings", []).extend(stats.warnings)


def _tables(scan: Scan, converter: PageConverter, *, replace: dict[str, Any] | None = None,
            batch_rows: int = BATCH_ROWS, stats: ScanStats | None = None) -> Iterator[pa.Table]:
    """Pages -> Arrow tables of about `batch_rows` rows.

    dlt spends a few milliseconds per yielded item on schema bookkeeping, so
    pages are converted and yielded in batches of several; memory stays flat.
    `replace` (hints) marks the first table so that this load replaces the table.
    `stats`, when given, accumulates the scan's counters (several scans, one resource).
    """
    if stats is not None:
        try:
            yield from _tables(scan, converter, replace=replace, batch_rows=batch_rows)
        finally:
            for name in ("requests", "pages", "records", "restarts"):
                setattr(stats, name, getattr(stats, name) + getattr(scan.stats, name))
            stats.warnings.extend(scan.stats.warnings)
        return
    batch: list[dict[str, Any]] = []
    first = True

    def table() -> Any:
        nonlocal first
        converted = converter.convert(batch)
        if first and replace:
            first = False
            return dlt.mark.with_hints(converted, replace)
        first = False
        return converted

    with collector_paused():  # the records hold no cycles: refcounting frees them (gcpause.py)
        for records in scan.pages():
            batch.extend(records)
            if len(batch) >= batch_rows:
                yield table()
                batch = []
        if batch or (first and replace is not None and atomic.replaces(replace)):
            yield table()  # an empty full read still replaces: the table is emptied


def _converter_factory(endpoint: Endpoint, naming: NamingConvention) -> Any:
    def new_converter() -> PageConverter:
        return PageConverter(endpoint, naming, _stored_columns(endpoint.name))
    return new_converter


def _replace_hints(cursor_column: str | None) -> Any:
    # Decided while the resource runs: the hints depend on the running pipeline's destination.
    return atomic.replace_hints(cursor_column)


def _make_resource(endpoint: Endpoint, client: PXClient, naming: NamingConvention, *,
                   page_size: int | None, initial: datetime | None, run: RunContext | None = None,
                   lookback_s: float = 0.0) -> DltResource:
    """The resource for `endpoint`: two cursors, one cursor, or a full read replacing its table."""
    run = run or RunContext()
    if not endpoint.incremental:
        return _full_read_resource(endpoint, client, naming, page_size=page_size, run=run)
    if endpoint.modified_cursor:
        return _two_cursor_resource(endpoint, client, naming, page_size=page_size, initial=initial, run=run,
                                    lookback_s=lookback_s)
    return _incremental_resource(endpoint, client, naming, page_size=page_size, initial=initial, run=run,
                                 lookback_s=lookback_s)


def _full_read_resource(endpoint: Endpoint, client: PXClient, naming: NamingConvention, *,
                        page_size: int | None, run: RunContext) -> DltResource:
    """Read whole every run; the load replaces the table."""
    key_column = naming.normalize_identifier(endpoint.primary_key)
    new_converter = _converter_factory(endpoint, naming)

    def rows() -> Iterator[pa.Table]:
        run.keep_dialect()
        scan = Scan(client, endpoint, page_size=page_size)
        try:
            yield from _tables(scan, new_converter(), replace=_replace_hints(None))
        finally:
            _publish(scan.stats)

    return dlt.resource(
        rows,
        name=endpoint.name,
        table_name=endpoint.name,
        primary_key=key_column,
        write_disposition="replace",
        columns={key_column: {"nullable": False}},
    )


def _incremental_resource(endpoint: Endpoint, client: PXClient, naming: NamingConvention, *,
                          page_size: int | None, initial: datetime | None, run: RunContext,
                          lookback_s: float = 0.0) -> DltResource:
    """One cursor (the contract's lastSeenDate) kept by dlt's incremental."""
    key_column = naming.normalize_identifier(endpoint.primary_key)
    cursor_column = naming.normalize_identifier(endpoint.cursor)  # type: ignore[arg-type]
    new_converter = _converter_factory(endpoint, naming)
    cursor_spec = dlt.sources.incremental(
        cursor_column,
        initial_value=initial,
        # Boundary rows are excluded by the server and deduplicated by merge,
        # so dlt's own per-row hashing would only cost CPU.
        primary_key=(),
        on_cursor_value_missing="include",  # never-seen users load too
        lag=lookback_s or None,  # dlt keeps rows down to the cursor minus the lookback
    )

    lag_ms = round(lookback_s * 1000)

    def rows(cursor: dlt.sources.incremental[datetime] = cursor_spec) -> Iterator[pa.Table]:
        run.keep_dialect()
        state = dlt.current.resource_state()
        stored_ms = _stored_cursor_ms(state, cursor_column)  # dlt's last_value has the lag taken off
        boundary = state.get(BOUNDARY_STATE_KEY) or {}
        reached: Position | None = None
        stats = ScanStats()
        tally = WindowTally(key_column, cursor_column, lag_ms)
        try:
            if stored_ms is None:  # first run: everything, or from `initial`
                start_ms = to_epoch_ms(cursor.last_value)
                start = Position(start_ms) if start_ms is not None else None
            else:
                if lookback.unchanged(client, endpoint, endpoint.cursor, stored_ms,  # type: ignore[arg-type]
                                      boundary.get("window"), lag_ms, stats):
                    return  # idle: one request, no rows, however many records tie at the cursor
                keys = set(boundary.get("keys") or ()) if boundary.get("cursor") == stored_ms else set()
                reached = Position(stored_ms, keys)
                # Late activity: re-read the lookback window behind the cursor; merge removes the overlap.
                start = Position(stored_ms - lag_ms) if lag_ms else reached
            scan = Scan(client, endpoint, page_size=page_size, start=start)
            # No cursor and no `initial`: the scan reads the whole tenant, so this
            # load replaces the table (cheaper than merge, and drops deleted rows).
            for table in _tables(scan, new_converter(), stats=stats,
                                 replace=_replace_hints(cursor_column) if start is None
                                 else atomic.merge_hints(key_column, cursor_column)):
                tally.add(table)
                yield table
        finally:
            _publish(stats)
        reached = _not_behind(scan.position, reached)
        state[BOUNDARY_STATE_KEY] = {**_stored_position(reached), "window": tally.record(reached.cursor)}
        _hold_back_future_cursor(state, cursor_column, reached.cursor)

    # Should a record appear twice in one load (a restart after it moved), keep the newest.
    return _merge_resource(rows, endpoint, naming, key_column, cursor_column)


def _merge_resource(rows: Any, endpoint: Endpoint, naming: NamingConvention, key_column: str,
                    newest_by: str) -> DltResource:
    """A resource merged on `key_column`; of two copies of a record in one load, the one with the
    highest `newest_by` stays."""
    return dlt.resource(
        rows,
        name=endpoint.name,
        table_name=endpoint.name,
        primary_key=key_column,
        write_disposition="merge",
        columns={key_column: {"nullable": False}, **_dedup_on(endpoint, naming, newest_by)},
    )


def _pipeline_columns(table_name: str) -> dict[str, str]:
    """Column types of `table_name` in the running pipeline's stored schema (while the source is built)."""
    try:
        schema = dlt.current.pipeline().schemas[settings.SOURCE_NAME]
    except Exception:  # no pipeline, or it never ran
        return {}
    return column_types(schema.tables.get(table_name))


def _dedup_on(endpoint: Endpoint, naming: NamingConvention, column: str) -> dict[str, Any]:
    """Column hints: merge keeps the row with the highest `column`, and no other cursor column of
    this resource in any dialect competes (dlt allows one `dedup_sort` per table, and a table first
    loaded in one dialect may be reloaded in the other)."""
    others = {naming.normalize_identifier(name)
              for d in DIALECTS.values() if endpoint.name in d.endpoints
              for name in (d[endpoint.name].cursor, d[endpoint.name].modified_cursor) if name}
    stored = _pipeline_columns(endpoint.name)  # only columns the table has (else dlt warns of empty ones)
    return {**{c: {"dedup_sort": None} for c in others & set(stored)}, column: {"dedup_sort": "desc"}}


def _hold_back_future_cursor(state: dict[str, Any], cursor_column: str, sane_ms: int | None) -> None:
    """dlt's incremental takes the max of the cursor column, a value from the future included
    (Arrow tables allow only min/max): put it back to the highest sane value the scan reached
    (paging.MAX_CLOCK_SKEW_MS), or the next run would start in year 9999 and load nothing."""
    stored = ((state.get("incremental") or {}).get(cursor_column) or {})
    last = to_epoch_ms(stored.get("last_value")) if stored.get("last_value") is not None else None
    if last is None or last <= now_ms() + MAX_CLOCK_SKEW_MS:
        return
    stored["last_value"] = pendulum.from_timestamp(sane_ms / 1000, tz="UTC") if sane_ms is not None else None


def _stored_cursor_ms(state: dict[str, Any], cursor_column: str) -> int | None:
    """The highest cursor value loaded, as stored (dlt's `last_value` is lowered by `lag`)."""
    stored = (state.get("incremental") or {}).get(cursor_column) or {}
    return to_epoch_ms(stored.get("last_value"))


def _not_behind(position: Position, before: Position | None) -> Position:
    """A scan that re-read the lookback window may end below where the last run stopped: keep that."""
    if before is None or before.cursor is None:
        return position
    return before if position.cursor is None or position.cursor < before.cursor else position


def _stored_position(position: Position) -> dict[str, Any]:
    # Too many keys would not fit in a query; the next run then re-reads
    # the boundary rows and merge deduplicates them.
    keys = sorted(position.keys) if len(position.keys) <= MAX_EXCLUDED_KEYS else []
    return {"cursor": position.cursor, "keys": keys}


def _loaded_position(stored: Any) -> Position | None:
    if not isinstance(stored, dict) or stored.get("cursor") is None:
        return None
    return Position(to_epoch_ms(stored["cursor"]), set(stored.get("keys") or ()))


class RunContext:
    """What the resources of one source instance (one run) share.

    - warnings said once per run, whichever resource meets them first;
    - the dialect `auto` chose, written to the source state by the first
      resource that runs (dlt discards state written in the source function),
      and how it was chosen, published as the `dialect` metric for the summary.
      The state changes only when the dialect does: a changed state is a
      state job to load, which an idle run should not have.
    """

    def __init__(self, dialect_record: dict[str, Any] | None = None, how: str | None = None) -> None:
        self.said: list[str] = []
        self.dialect_record = dialect_record
        self.how = how

    def keep_dialect(self) -> None:
        if self.dialect_record is None:
            return
        with contextlib.suppress(Exception):  # outside a pipeline: nothing to remember it in
            state = dlt.current.source_state()
            if state.get(DIALECT_STATE_KEY) != self.dialect_record:
                state[DIALECT_STATE_KEY] = dict(self.dialect_record)
        with contextlib.suppress(Exception):
            name = self.dialect_record.get("name")
            dlt.current.resource_metrics()["dialect"] = f"{name} ({self.how})" if self.how else name

    def warn_once(self, topic: str, message: str) -> None:
        if any(s.startswith(topic) for s in self.said):
            return
        self.said.append(f"{topic}: {message}")
        log.warning("%s", message)
        try:
            metrics = dlt.current.resource_metrics()
            metrics.setdefault("warnings", []).append(message)
        except Exception:
            pass


def _two_cursor_resource(endpoint: Endpoint, client: PXClient, naming: NamingConvention, *,
                         page_size: int | None, initial: datetime | None, run: RunContext,
                         lookback_s: float = 0.0) -> DltResource:
    """Activity (lastSeenDate) and attribute changes (lastModifiedDate), positions in resource state."""
    seen_field, modified_field = endpoint.cursor, endpoint.modified_cursor
    assert seen_field and modified_field
    key_column = naming.normalize_identifier(endpoint.primary_key)
    modified_column = naming.normalize_identifier(modified_field)
    new_converter = _converter_factory(endpoint, naming)
    initial_ms = to_epoch_ms(initial)

    lag_ms = round(lookback_s * 1000)
    seen_column = naming.normalize_identifier(seen_field)

    def rows() -> Iterator[pa.Table]:
        run.keep_dialect()
        state = dlt.current.resource_state()
        stored = state.get(CURSORS_STATE_KEY) or {}
        seen = _loaded_position(stored.get(seen_field))
        modified = _loaded_position(stored.get(modified_field))
        was_seen, was_modified = seen, modified
        if seen is None and initial_ms is not None:
            seen, modified = Position(initial_ms), Position(initial_ms)
        tallies = {seen_field: WindowTally(key_column, seen_column, lag_ms),
                   modified_field: WindowTally(key_column, modified_column, lag_ms)}
        converter = new_converter()
        stats = ScanStats()
        read_modified = modified is not None and modified.cursor is not None

        def tables(scan: Scan, replace: Any) -> Iterator[pa.Table]:
            for table in _tables(scan, converter, replace=replace, stats=stats):
                for tally in tallies.values():
                    tally.add(table)
                yield table

        try:
            if seen is None:
                # Nothing stored: read everything (this load replaces the table), note both maxima.
                scan = Scan(client, endpoint, page_size=page_size, track=modified_field)
                yield from tables(scan, _replace_hints(modified_column))
                seen, modified = scan.position, scan.tracked
            else:
                if was_seen is not None:
                    idle, read_modified = _unchanged(stored, was_seen, was_modified, stats)
                    if idle:
                        return  # nothing moved in either window: no rows, state stays as it is
                    if lag_ms:  # late activity and late attribute writes: re-read a window, merge dedups
                        seen = Position(seen.cursor - lag_ms) if seen.cursor is not None else seen
                        modified = (Position(modified.cursor - lag_ms) if modified is not None
                                    and modified.cursor is not None else modified)
                scan = Scan(client, endpoint, page_size=page_size, start=seen)
                yield from tables(scan, atomic.merge_hints(key_column, modified_column))
                seen = _not_behind(scan.position, was_seen)
                if read_modified and modified is not None and modified.cursor is not None:
                    changed = Scan(client, endpoint, page_size=page_size, start=modified,
                                   cursor_field=modified_field)
                    try:
                        yield from tables(changed, atomic.merge_hints(key_column, modified_column))
                        modified = _not_behind(changed.position, was_modified)
                    except APIError as exc:
                        if exc.status != 400 or changed.stats.pages:
                            raise
                        _refused(exc)
                        modified = was_modified
                else:
                    modified = was_modified if was_modified is not None else modified
        finally:
            _publish(stats)
        state[CURSORS_STATE_KEY] = {
            seen_field: {**_stored_position(seen), "window": tallies[seen_field].record(seen.cursor)},
            **({modified_field: {**_stored_position(modified),
                                 "window": tallies[modified_field].record(modified.cursor)}}
               if modified and modified.cursor is not None else {}),
        }

    def _refused(exc: APIError) -> None:
        run.warn_once(
            "modified-filter",
            f"the server refused a filter on {modified_field} ({exc}); this run "
            f"picked up activity ({seen_field}) only, so attribute-only changes wait "
            "for a later run or a --full-refresh.",
        )

    def _unchanged(stored: dict[str, Any], seen: Position, modified: Position | None,
                   stats: ScanStats) -> tuple[bool, bool]:
        """(neither window changed, may lastModifiedDate be filtered on): one request per cursor,
        the second only when the first found nothing."""
        if not lookback.unchanged(client, endpoint, seen_field, seen.cursor,  # type: ignore[arg-type]
                                  (stored.get(seen_field) or {}).get("window"), lag_ms, stats):
            return False, modified is not None and modified.cursor is not None
        if modified is None or modified.cursor is None:
            return True, False
        try:
            return lookback.unchanged(client, endpoint, modified_field, modified.cursor,
                                      (stored.get(modified_field) or {}).get("window"), lag_ms, stats), True
        except APIError as exc:
            if exc.status != 400:
                raise
            _refused(exc)
            return True, False

    # A record found by both scans loads once: the copy with the newer lastModifiedDate.
    return _merge_resource(rows, endpoint, naming, key_column, modified_column)


def _own_naming(schema: Schema) -> Schema:
    """dlt names a new source's columns the way the *active* pipeline's destination wants, which in
    library use may be another pipeline than the one about to run it (a push through
    `px_destination`, whose naming is "direct", would give camelCase warehouse columns). Columns
    follow dlt's configured naming instead (`schema.naming`, default snake_case); a destination
    that needs its own naming still gets it when its pipeline extracts."""
    container = Container()
    if DestinationCapabilitiesContext not in container:
        return schema
    capabilities = container[DestinationCapabilitiesContext]
    if capabilities.naming_convention is None:
        return schema
    del container[DestinationCapabilitiesContext]
    try:
        schema.replace_schema_content(Schema(schema.name))  # a new schema, named without it
    finally:
        container[DestinationCapabilitiesContext] = capabilities
    return schema


def _dialect_choice(setting: Any, client: PXClient) -> Choice:
    """The dialect for this run; `auto` remembers its answer per base URL in the source state."""
    if isinstance(setting, Dialect):
        return Choice(setting, "set")
    try:
        remembered = dlt.current.source_state().get(DIALECT_STATE_KEY)
    except Exception:  # outside a pipeline
        remembered = None
    return dialects.resolve(setting, client.base_url, "", remembered=remembered, client=client)


@dlt.source(name=settings.SOURCE_NAME, section=settings.SOURCE_NAME)
def gainsight_px_source(
    api_key: str = dlt.secrets.value,
    base_url: str = settings.DEFAULT_BASE_URL,
    page_size: int | None = None,
    initial: datetime | str | None = None,
    dialect: Any = settings.DEFAULT_DIALECT_SETTING,
    event_lookback_s: float = DEFAULT_LOOKBACK_S,
    event_window_days: float = DEFAULT_WINDOW_DAYS,
    event_initial: datetime | str | None = None,
    reconcile: bool = False,
    lookback_s: float = DEFAULT_RECORD_LOOKBACK_S,
) -> list[DltResource]:
    """Gainsight PX users, accounts, features, engagements, and subscriptions
    (contract) or segments (published).

    Args:
        api_key: the PX API key (`SOURCES__GAINSIGHT_PX__API_KEY` or
            `[sources.gainsight_px] api_key` in `.dlt/secrets.toml`).
        base_url: the regional API host (`SOURCES__GAINSIGHT_PX__BASE_URL`);
            US by default.
        page_size: records per request; each endpoint asks for at most its own
            limit (default: that limit).
        initial: an ISO date or time; the first load of users and accounts
            starts there instead of at the beginning of time (a datetime works too).
        dialect: `auto` (default: ask the server once, remember it per base URL),
            `contract`, `published` (`SOURCES__GAINSIGHT_PX__DIALECT`), or a
            `gainsight_px.endpoints.Dialect`.
        event_lookback_s: event streams re-read this many seconds before their
            cursor, for events PX ingests late (`SOURCES__GAINSIGHT_PX__EVENT_LOOKBACK_S`).
        event_window_days: days per event request window, at most 190.
        event_initial: where the first run of the event streams starts, when it
            should differ from `initial` (default: `initial`, else 30 days back).
        reconcile: read everything whatever `initial` says (`gainsight-px load
            --full-refresh`, after its cursors were reset).
        lookback_s: users and accounts re-read this many seconds behind their
            cursors (`SOURCES__GAINSIGHT_PX__LOOKBACK_S`, default 3600): PX stamps
            activity asynchronously, so a lastSeenDate can arrive older than the
            newest one already loaded; merge removes the overlap. A run that
            finds nothing changed in that window costs one request per cursor
            (see `lookback.py`). 0 turns the re-read off.
    """
    if dialect is not None and not isinstance(dialect, Dialect | str):
        raise ConfigError(f"dialect: expected auto, contract, published or a Dialect, got {type(dialect).__name__}")
    if page_size is not None:
        try:
            page_size = int(page_size)
        except (TypeError, ValueError):
            raise ConfigError(f"page_size: expected a whole number, got {page_size!r}.") from None
    configured = dialects.parse_setting(dialect) if not isinstance(dialect, Dialect) else dialect
    client = PXClient(base_url, api_key, dialect=configured or DEFAULT_DIALECT)
    choice = _dialect_choice(dialect, client)
    chosen = choice.dialect
    if chosen is not client.dialect:
        client = PXClient(base_url, api_key, dialect=chosen)
    if page_size is not None and not 1 <= page_size <= chosen.max_page_size:
        raise ConfigError(f"page_size: must be between 1 and {chosen.max_page_size} "
                          f"in the {chosen.name} dialect, got {page_size}.")
    naming = _own_naming(dlt.current.source_schema()).naming
    # A reconcile reads everything: `initial` limits first loads only (load.py resets the cursors).
    start = None if reconcile else parse_initial(initial)
    run = RunContext(choice.remember(client.base_url), choice.how)
    events = [
        make_event_resource(endpoint, client, naming, initial=parse_initial(event_initial) or start,
                            page_size=page_size,
                            lookback_s=lookback_seconds(event_lookback_s, "event_lookback_s"), window_days=float(event_window_days),
                            stored_columns=_stored_columns)
        for endpoint in event_streams(chosen).values()
    ]
    return [
        _make_resource(endpoint, client, naming, initial=start, run=run, lookback_s=lookback_seconds(lookback_s, "lookback_s"),
                       page_size=None if page_size is None else min(page_size, chosen.page_limit(endpoint)))
        for endpoint in listable_endpoints(chosen).values()
    ] + events
