"""The push flow: validated rows -> ledger filter -> sender -> ledger record -> summary.

`push_table()` is the one entry point every front end uses (CLI, `push_csv`,
`push_query`, the dlt destination adapter). It validates every row before any
request, consults the ledger (diff sync and resume), delivers what is left with
at most `concurrency` rows in flight, records each answer, and writes the
rejects file. Only the calling (main) thread touches the ledger.

Event identity: an event has no key, so the ledger keys it by a hash of its
normalised payload (the JSON body after coercion, keys sorted) plus the
occurrence index of that payload in the input: the second identical row is
occurrence 1. Two identical rows are two events and each goes once; a rerun
sends neither; a row appended later is new. The consequence: rows with the
same content in *another* file pushed to the same tenant count as the same
events (give events a `date` so that distinct events differ).

Dialect: `PushOptions.dialect` (`--dialect`), else the `dialect` setting
(SOURCES__GAINSIGHT_PX__DIALECT), else `auto`: the choice remembered for this
base URL in `dialects.json` beside the ledger, else one GET to ask the server
(`gainsight_px.dialects`). The summary names the dialect and how it was chosen.

Writes per row, all from the endpoint table (`write_job`):
- upsert where the create upserts (contract): one POST;
- upsert where it only creates (published): the update (PUT) first, the create
  (POST) when the record is not found; a create whose first answer was lost
  and whose retry meets the record ("possible duplicate") is delivered; one
  that meets a record created meanwhile by someone else updates it;
- update: the update call only; not found is a rejected row;
- an id the dialect cannot carry in a path goes to the update-by-body path
  (PUT /users/update) instead;
- the property key (SOURCES__GAINSIGHT_PX__PROPERTY_KEY, or a column) and the
  write defaults (userType USER) are filled into rows that have none; without
  the setting or the column the push stops before any request.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from gainsight_px import dialects, settings
from gainsight_px.client import check_api_key, check_base_url, item_path
from gainsight_px.endpoints import Dialect
from gainsight_px.errors import ConfigError, GainsightPXError, InputError
from gainsight_px.identity import Tenant
from gainsight_px.push.ledger import Entry, Ledger, ledger_path
from gainsight_px.push.readers import Table
from gainsight_px.push.report import PushSummary, progress_bar, write_rejects
from gainsight_px.push.sender import Job, Result, Sender, Transport
from gainsight_px.push.validate import Payload, Reject, Target, resolve_target, validate_rows

RowState = Literal["new", "changed", "in_doubt"]


@dataclass(frozen=True)
class PushOptions:
    """Everything a push can be told, with the CLI's defaults."""

    mode: str = "upsert"
    dry_run: bool = False
    rate: float = settings.DEFAULT_PUSH_RATE
    concurrency: int = settings.DEFAULT_PUSH_CONCURRENCY
    ledger: str | Path | None = None  # None: $GAINSIGHT_PX_LEDGER or .gainsight-px/ledger.sqlite
    rejects: str | Path | None = None  # None: beside the input (see report.default_rejects_path)
    timeout: float | None = None  # None: SOURCES__GAINSIGHT_PX__REQUEST_TIMEOUT, else 60 s (client.request_timeout)
    max_attempts: int = settings.MAX_ATTEMPTS
    backoff_factor: float = settings.BACKOFF_FACTOR
    force: bool = False  # users/accounts: send rows the ledger has as unchanged
    rekey: bool = False  # the API key was rotated: the ledger's tenant on this URL takes the new key
    progress: bool | None = None  # None: only on a terminal
    handle_sigint: bool = True  # Ctrl-C finishes in-flight rows (main thread only)
    # A Dialect, "auto", "contract" or "published"; None: the dialect setting, else auto.
    dialect: Dialect | str | None = field(default=None, repr=False)
    # The product key (AP-XXXX-N) for propertyKeys / propertyKey; None: the property_key setting.
    property_key: str | None = None


def resolve_credentials(base_url: str | None, api_key: str | None) -> tuple[str, str | None]:
    """Explicit values, else dlt config like the source: SOURCES__GAINSIGHT_PX__BASE_URL /
    __API_KEY in the environment, or [sources.gainsight_px] in .dlt/config.toml and secrets.toml."""
    import dlt

    if base_url is None:
        base_url = dlt.config.get("sources.gainsight_px.base_url") or settings.DEFAULT_BASE_URL
    if api_key is None:
        found = dlt.secrets.get("sources.gainsight_px.api_key")
        api_key = str(found) if found else None
    return check_base_url(str(base_url)), api_key


def _memo_path(ledger_file: Path) -> Path:
    return ledger_file.parent / "dialects.json"


def _recall(ledger_file: Path, base_url: str) -> dict[str, str] | None:
    try:
        memo = json.loads(_memo_path(ledger_file).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    name = memo.get(base_url) if isinstance(memo, dict) else None
    return {"name": name, "base_url": base_url} if isinstance(name, str) else None


def _remember(ledger_file: Path, base_url: str, name: str) -> None:
    path = _memo_path(ledger_file)
    with contextlib.suppress(OSError, ValueError):
        memo = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        memo = memo if isinstance(memo, dict) else {}
        memo[base_url] = name
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(memo, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)


def _dry_run_without_key(opts: PushOptions, base_url: str) -> None:
    """A dry run with no key can check the rows alone, unless it has to ask PX something first."""
    import dlt

    setting = opts.dialect if isinstance(opts.dialect, str) or opts.dialect is None else opts.dialect.name
    setting = setting or dlt.config.get("sources.gainsight_px.dialect") or settings.DEFAULT_DIALECT_SETTING
    if opts.mode == "update":
        raise ConfigError(f"--dry-run --mode update asks PX whether each record exists, and no PX API key is "
                          f"configured: set {settings.API_KEY_ENV} (a read-only key is enough).")
    if setting == "auto" and _recall(ledger_path(opts.ledger), base_url) is None:
        raise ConfigError(f"--dry-run: no PX API key is configured, so PX could not be asked which API dialect "
                          f"it speaks and no row was checked. Set {settings.API_KEY_ENV}, or pass --dialect "
                          "contract or --dialect published to check the rows alone.")


def resolve_dialect(setting: Dialect | str | None, base_url: str, api_key: str | None,
                    ledger_file: Path, *, remember: bool = True) -> dialects.Choice:
    """The push's dialect: explicit, else the setting, else remembered for `base_url`, else asked."""
    if isinstance(setting, Dialect):
        return dialects.Choice(setting, "set")
    if setting is None:
        import dlt

        setting = dlt.config.get("sources.gainsight_px.dialect") or settings.DEFAULT_DIALECT_SETTING
    choice = dialects.resolve(setting, base_url, api_key or "", remembered=_recall(ledger_file, base_url))
    if choice.how == "detected" and remember:
        _remember(ledger_file, base_url, choice.dialect.name)
    return choice


def resolve_property_key(explicit: str | None) -> str | None:
    """The product key: explicit, else SOURCES__GAINSIGHT_PX__PROPERTY_KEY / [sources.gainsight_px]."""
    if explicit is None:
        import dlt

        found = dlt.config.get("sources.gainsight_px.property_key")
        explicit = str(found) if found else None
    value = (explicit or "").strip()
    if value and any(c.isspace() for c in value):
        raise ConfigError(f"{settings.PROPERTY_KEY_ENV}: {value!r} is not a product key (AP-XXXX-N)")
    return value or None


def write_fill(target: Target, columns: list[str], property_key: str | None) -> dict[str, Any]:
    """Values for fields rows leave empty: the property key and the endpoint's write defaults.

    Raises ConfigError (naming the setting) when the endpoint needs a property
    key and there is neither the setting nor a column: before any request.
    """
    ep = target.endpoint
    fill: dict[str, Any] = dict(ep.write_defaults)
    pk = ep.property_key_field
    if pk:
        if property_key:
            fill[pk] = [property_key] if ep.field_map[pk].type == "array" else property_key
        elif pk not in columns:
            raise ConfigError(
                f"push {target.entity}: the API needs {pk} on every write; set {settings.PROPERTY_KEY_ENV} "
                f"to the product key (AP-XXXX-N, in PX under Administration > Products), or add a "
                f"{pk!r} column. Nothing was sent.")
    return fill


def write_job(handle: int, target: Target, dialect: Dialect, key: str | None, body: bytes,
              *, dry_run: bool = False) -> Job | None:
    """The request(s) for one row, from the endpoint table. None: a dry run cannot ask (see below)."""
    ep = target.endpoint
    if target.key_field is None or key is None:  # events: one create each
        return Job(handle, ep.create_method, ep.path, body)
    fits = dialect.id_fits_path(key, ep) or not ep.id_in_body_update_path
    update = None
    if ep.update_method and ep.update_path:
        update = Job(handle, ep.update_method,
                     item_path(ep.update_path, key) if fits else ep.id_in_body_update_path or "", body)
    if dry_run:  # update mode: ask whether the record exists (a read); ids kept out of paths cannot be asked
        readable = fits and ep.item_path and dialect.read_method in ep.item_methods
        return Job(handle, dialect.read_method, item_path(ep.item_path or "", key), None) if readable else None
    if target.mode == "update":
        assert update is not None  # resolve_target checked the endpoint has an update call
        return update
    duplicate = (ep.duplicate_status, (ep.duplicate_message or "").lower()) \
        if ep.duplicate_status is not None and not ep.create_upserts else None
    create = Job(handle, ep.create_method, ep.path, body, duplicate=duplicate)
    if ep.create_upserts or update is None:
        return create
    create.on_duplicate = Job(handle, update.method, update.path, body)
    update.fallback = create
    return update


@dataclass(slots=True)
class _Item:
    handle: int
    row_number: int
    key: str  # ledger key: the record key, or the event identity
    body: bytes
    digest: bytes
    record_key: str | None  # users/accounts: the id; events: None
    state: RowState


def push_table(table: Table, entity: str, *, base_url: str | None = None, api_key: str | None = None,
               options: PushOptions | None = None, default_rejects: Path, started: float | None = None,
               **overrides: Any) -> PushSummary:
    """Validate, filter, deliver and record one table of rows. See the module docstring.

    Returns the summary. A fatal error (bad auth, unreachable API) is raised after
    the summary and the rejects file are written; the summary is on `exc.summary`.
    """
    started = time.monotonic() if started is None else started
    opts = replace(options or PushOptions(), **overrides)
    if opts.force and entity == "events":
        raise InputError("--force applies to users and accounts: it would send every event again")
    base_url, api_key = resolve_credentials(base_url, api_key)
    property_key = resolve_property_key(opts.property_key)
    if opts.dry_run and not api_key:
        _dry_run_without_key(opts, base_url)
    choice = resolve_dialect(opts.dialect, base_url, api_key, ledger_path(opts.ledger), remember=not opts.dry_run)
    opts = replace(opts, dialect=choice.dialect)
    target = resolve_target(entity, opts.mode, choice.dialect)
    fill = write_fill(target, list(table.columns), property_key)

    checked = validate_rows(table.columns, table.rows, target, table.source, fill,
                            fill_hint=f"or set {settings.PROPERTY_KEY_ENV}")
    summary = PushSummary(entity=entity, mode=opts.mode, source=table.source, dry_run=opts.dry_run,
                          rows_read=len(table.rows), rejected_invalid=len(checked.rejects),
                          dialect=choice.describe())
    if opts.dry_run and not api_key:
        summary.notes.append(f"not checked against PX: no API key is configured ({settings.API_KEY_ENV}); "
                             "the rows were checked here only, and a real run needs a key with write access")
    api_rejects: list[Reject] = []
    rejects_path = Path(opts.rejects) if opts.rejects else default_rejects
    if not rejects_path.parent.is_dir():  # found now, not after the rows went out
        raise InputError(f"--rejects {rejects_path}: the directory {rejects_path.parent} does not exist")
    if rejects_path.is_dir() or not os.access(rejects_path.parent, os.W_OK):
        what = "is a directory" if rejects_path.is_dir() else f"cannot be written in {rejects_path.parent}"
        raise InputError(f"--rejects {rejects_path}: {what}; pass another --rejects PATH")
    summary.ledger_path = ledger_path(opts.ledger)
    undated = sum(1 for p in checked.payloads if "date" not in p.body) if target.key_field is None else 0
    items = _prepare(checked.payloads, target)
    invalid = checked.rejects
    del checked  # the payloads live on as items
    if undated:
        summary.notes.append(f"{undated:,} event row(s) have no date: PX stamps them on arrival, and the "
                             "ledger treats the same content pushed again (from any file) as already sent")

    with Ledger(summary.ledger_path, entity, read_only=opts.dry_run, rekey=opts.rekey,
                tenant=Tenant.of(base_url, api_key)) as ledger:
        summary.in_doubt = ledger.in_doubt()
        to_send = _filter(items, ledger.lookup([it.key for it in items]), target, opts.force, summary)
        summary.to_send = len(to_send)
        fatal: GainsightPXError | None = None
        try:
            if opts.dry_run and opts.mode != "update":
                summary.delivered = len(to_send)  # nothing to ask the API: every row would go
            elif to_send:
                fatal = _deliver(to_send, target, ledger, summary, api_rejects, table, base_url, api_key, opts)
        finally:
            summary.elapsed_s = time.monotonic() - started
            try:
                summary.rejects_path = write_rejects(rejects_path, table.columns, [*invalid, *api_rejects])
            except GainsightPXError as exc:  # the summary still prints (cli/push.py)
                exc.summary = summary  # type: ignore[attr-defined]
                raise
    if fatal is not None:
        fatal.summary = summary  # type: ignore[attr-defined]
        raise fatal
    return summary


def _prepare(payloads: list[Payload], target: Target) -> list[_Item]:
    """Give each payload its ledger key, content digest and request path."""
    items: list[_Item] = []
    occurrences: Counter[bytes] = Counter()
    for handle, payload in enumerate(payloads):
        body = payload.json
        digest = hashlib.blake2b(body, digest_size=16).digest()
        if target.key_field is None:
            occurrence = occurrences[digest]
            occurrences[digest] += 1
            key = hashlib.blake2b(body + b"#%d" % occurrence, digest_size=16).hexdigest()
        else:
            key = payload.key
        items.append(_Item(handle, payload.row_number, key, body, digest, payload.key, "new"))
    return items


def _filter(items: list[_Item], entries: dict[str, Entry], target: Target, force: bool,
            summary: PushSummary) -> list[_Item]:
    """Diff sync and resume: what the ledger says is already in PX is skipped."""
    to_send: list[_Item] = []
    for item in items:
        entry = entries.get(item.key)
        if entry is not None and entry.pending is not None:
            item.state = "in_doubt"  # in flight when an earlier run died: send again
            summary.in_doubt_resent += 1
        elif entry is not None and entry.digest is not None:
            if target.key_field is None or (entry.digest == item.digest and not force):
                summary.unchanged += 1  # events: delivered already; records: same content
                continue
            item.state = "changed"
        if item.state != "in_doubt":
            if entry is None or entry.digest is None:
                summary.new += 1
            else:
                summary.changed += 1
        to_send.append(item)
    return to_send


def _deliver(to_send: list[_Item], target: Target, ledger: Ledger, summary: PushSummary,
             api_rejects: list[Reject], table: Table, base_url: str, api_key: str | None,
             opts: PushOptions) -> GainsightPXError | None:
    """Send `to_send`; return the fatal error that stopped the run, if any."""
    check_api_key(api_key)  # only now: a push with nothing to send needs no key
    concurrency = max(1, min(opts.concurrency, len(to_send)))
    dialect = opts.dialect
    assert isinstance(dialect, Dialect)  # push_table resolved it
    transport = Transport(base_url, api_key or "", api_key_header=dialect.api_key_header,
                          timeout=opts.timeout, pool_size=concurrency)
    not_found = "does not exist in PX; --mode update never creates records" if opts.mode == "update" else None
    sender = Sender(transport, rate=opts.rate, concurrency=concurrency, dialect=dialect, not_found_reason=not_found,
                    max_attempts=opts.max_attempts, backoff_factor=opts.backoff_factor)
    # A dry run in update mode asks whether each record exists (GET): reads only, no ledger writes.
    by_handle = {it.handle: it for it in to_send}
    inflight: set[int] = set()
    unchecked = 0  # dry run, update mode: ids that cannot be looked up by path
    next_index = 0
    presses = 0

    def on_sigint(signum: int, frame: object) -> None:
        nonlocal presses
        presses += 1
        if presses > 1:
            raise KeyboardInterrupt
        sender.stop()
        print(f"\nCtrl-C: finishing the {len(inflight)} request(s) in flight, sending nothing new "
              "(Ctrl-C again to abandon them)", file=sys.stderr, flush=True)

    previous = None
    if opts.handle_sigint and threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGINT, on_sigint)
    bar = progress_bar(len(to_send), enabled=opts.progress, desc=f"push {summary.entity}")
    try:
        while next_index < len(to_send) or inflight:
            free = concurrency - len(inflight)
            if free and next_index < len(to_send) and not sender.stopping:
                batch = to_send[next_index:next_index + free]
                if not opts.dry_run:
                    ledger.mark_pending((it.key, it.digest) for it in batch)  # committed before sending
                for it in batch:
                    job = write_job(it.handle, target, dialect, it.record_key, it.body, dry_run=opts.dry_run)
                    if job is None:  # a dry run cannot ask about this id: count it as it would go
                        summary.delivered += 1
                        unchecked += 1
                        continue
                    inflight.add(it.handle)
                    sender.submit(job)
                next_index += len(batch)
            elif not inflight:
                break  # stopping, and everything in flight has come back
            results = sender.results(timeout=0.25)
            if results:
                _record(results, by_handle, ledger, summary, api_rejects, table, opts.dry_run)
                for result in results:
                    inflight.discard(result.job.handle)
                bar.update(len(results))
                bar.set_postfix(retried=sender.counters.retried, throttled=sender.counters.throttled,
                                refresh=False)
    except KeyboardInterrupt:
        # Second Ctrl-C: abandon. Rows in flight stay `pending` in the ledger: in doubt next run.
        summary.left_in_doubt += len(inflight)
        summary.interrupted = True
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        bar.close()
        sender.close()
        summary.not_sent += len(to_send) - next_index
        counters = sender.counters
        summary.requests, summary.retried = counters.requests, counters.retried
        summary.throttled, summary.lost_answers = counters.throttled, counters.lost_answers
    if unchecked:
        summary.notes.append(f"{unchecked:,} id(s) cannot be looked up by path (they are updated through the "
                             "body): not checked, counted as they would be sent")
    if presses:
        summary.interrupted = True
    if sender.fatal is not None:
        summary.error = str(sender.fatal)
    return sender.fatal


def _record(results: list[Result], by_handle: dict[int, _Item], ledger: Ledger, summary: PushSummary,
            api_rejects: list[Reject], table: Table, dry_run: bool) -> None:
    """Commit a batch of answers to the ledger, then count them."""
    delivered: list[tuple[str, bytes]] = []
    rejected: list[tuple[str, str]] = []
    withdrawn: list[str] = []
    for result in results:
        item = by_handle[result.job.handle]
        if result.outcome == "delivered":
            delivered.append((item.key, item.digest))
        elif result.outcome == "rejected":
            rejected.append((item.key, result.reason or f"HTTP {result.status}"))
            api_rejects.append(Reject(item.row_number, table.cells(item.row_number),
                                      result.reason or f"HTTP {result.status}"))
        elif result.outcome == "not_sent" and item.state != "in_doubt":
            withdrawn.append(item.key)  # an in-doubt row stays in doubt: an earlier run may have sent it
    if not dry_run:
        ledger.record(delivered=delivered, rejected=rejected, not_sent=withdrawn)
    for result in results:
        if result.outcome == "delivered":
            summary.delivered += 1
            summary.sent += 1
        elif result.outcome == "rejected":
            summary.rejected_api += 1
            summary.sent += 1
        elif result.outcome == "not_sent":
            summary.not_sent += 1
        else:
            summary.left_in_doubt += 1
