"""Run the warehouse load: build the pipeline, run the source, summarise.

The CLI (`gainsight-px load`), the demo and `pipelines/load_gainsight_px.py`
all go through here, so they behave the same:

- DuckDB by default, into `gainsight.duckdb` in the working directory (not
  named after the dataset: DuckDB would then see catalog `gainsight_px` and
  schema `gainsight_px` as ambiguous). dlt's `DESTINATION__DUCKDB__CREDENTIALS`
  overrides the path; `DLT_DATA_DIR` decides where pipeline state lives.
- That DuckDB gets three settings (`DUCKDB_SETTINGS`) that keep a load's memory
  flat as the tenant grows, narrow or wide: `threads = 1` (DuckDB's memory need
  grows with its threads; the load is one INSERT and one merge, which gain
  little from a second core the extract of the next run or the emulator use),
  a `memory_limit` (DuckDB otherwise caches up to 80% of RAM while inserting;
  beyond the limit it spills to its temp directory) and
  `preserve_insertion_order = false` (rows in a table have no order; keeping
  it costs DuckDB memory and about a quarter of the insert time). Configured
  values win, the dlt way:
  `[destination.duckdb.credentials.global_config]` in `.dlt/config.toml` or
  `DESTINATION__DUCKDB__CREDENTIALS__GLOBAL_CONFIG='{"memory_limit": "2GB"}'`.
- A package left by an interrupted run is loaded first, then the new run starts.
- `full_refresh=True` is the reconcile: the cursors are reset (`reset_cursors`,
  dlt's state-only drop) and every table is read whole and replaced in one
  transaction (atomic.py), so rows deleted in PX disappear and attribute-only
  changes arrive, and readers never see a table half-filled.
- Failures come out as `GainsightPXError` with a readable message (dlt's
  `PipelineStepFailed` is unwrapped); the API key never appears in one.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import dlt
from dlt.common.configuration.exceptions import (
    ConfigFieldMissingException,
    ConfigValueCannotBeCoercedException,
)
from dlt.common.runtime.collector import Collector, NullCollector
from dlt.pipeline.exceptions import PipelineStepFailed

from gainsight_px import failures, lake, settings
from gainsight_px.endpoints import DIALECTS, Dialect, dialect_named
from gainsight_px.errors import ConfigError, GainsightPXError, InputError
from gainsight_px.event_source import event_streams
from gainsight_px.identity import TENANT_ID_ENV, Tenant, describe_binding
from gainsight_px.progress import PXLogCollector, PXTqdmCollector
from gainsight_px.source import gainsight_px_source, listable_endpoints

log = logging.getLogger(__name__)

Progress = Literal["log", "tqdm", "none"] | Collector | None
DUCKDB_CREDENTIALS_KEY = "destination.duckdb.credentials"
# Source state: the tenant the dataset belongs to (identity.py; no key, a salted hash).
TENANT_STATE_KEY = "tenant"
DUCKDB_SETTINGS_KEY = DUCKDB_CREDENTIALS_KEY + ".global_config"


def _ram_mb() -> int:
    """This machine's memory in MB (4 GB where the platform does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") >> 20
    except (AttributeError, ValueError, OSError):
        return 4 << 10


def default_memory_limit() -> str:
    """DuckDB's cap: 120 MB, or an eighth of RAM on a machine with less than 1 GB.

    DuckDB's memory need grows with its threads (each buffers its own row
    groups and merge state), so the load runs DuckDB on one thread and the cap
    bounds what is left. Measured (bench/, 2 cores, shared): 10k users x 100
    attributes fail at 96 MB with 2 threads (OutOfMemoryException) and load at
    96 MB and at 64 MB with one; 100k x 100 peak at 385 MB (128 MB, 1 thread)
    against 493 MB (256 MB, 2 threads); 1M x 20 at 386 MB against 541 MB, with
    the load step about as fast (15 s against 12-14 s at load average 4-6).
    120 MB rather than 128: DuckDB shows it as a round MiB figure, and both load.
    `[destination.duckdb.credentials.global_config] memory_limit` overrides it.
    """
    return f"{max(64, min(120, _ram_mb() // 8))}MB"


# One thread, a bounded cap and no insertion order keep a load's memory flat as the tenant grows,
# whatever its width (bench/); figures in default_memory_limit().
DUCKDB_SETTINGS: dict[str, Any] = {"memory_limit": default_memory_limit(), "threads": 1,
                                   "preserve_insertion_order": False}
# The merge deduplicates its staging table with a window over whole rows, which DuckDB does not
# spill far enough: its memory need grows with rows x columns. Measured (one thread): 1M rows x
# 103 columns fail at 120 MB and load at 160 MB; 600k x 103 and 3M x 22 load at 120 MB. So a
# package's largest table gets this many bytes per cell, when that is more than the default cap
# (and at most a quarter of RAM); a configured memory_limit is left alone.
MERGE_BYTES_PER_CELL = 2.0


def _own_duckdb_settings(pipeline: dlt.Pipeline) -> dict[str, Any] | None:
    """The DuckDB settings dict of the pipeline's destination while its `memory_limit` is ours to
    change (not configured), else None."""
    if pipeline.destination is None or pipeline.destination.destination_name != "duckdb":
        return None
    credentials = pipeline.destination.config_params.get("credentials")
    settings_ = getattr(credentials, "global_config", None)
    if not isinstance(settings_, dict) or settings_.get("memory_limit") != default_memory_limit():
        return None  # not ours, or configured
    return settings_


def _mb(limit: str) -> int:
    return int(limit.removesuffix("MB"))


def _ceiling_mb(default: str) -> int:
    """The most a raised cap may take: a quarter of RAM, never less than the default."""
    return max(_mb(default), _ram_mb() // 4)


def fit_duckdb_memory(pipeline: dlt.Pipeline) -> str | None:
    """Raise the default DuckDB cap for the package about to load, if its largest table needs it
    (see MERGE_BYTES_PER_CELL). Returns the new cap, or None when it stays."""
    settings_ = _own_duckdb_settings(pipeline)
    info = pipeline.last_trace.last_normalize_info if pipeline.last_trace else None
    if settings_ is None or info is None:
        return None
    schema = pipeline.default_schema
    cells = max((rows * len(schema.get_table_columns(table)) for table, rows in info.row_counts.items()
                 if table in schema.tables), default=0)
    need = int(cells * MERGE_BYTES_PER_CELL) >> 20
    default = settings_["memory_limit"]
    if need <= _mb(default):
        return None
    limit = f"{min(need, _ceiling_mb(default))}MB"
    settings_["memory_limit"] = limit
    log.info("DuckDB memory limit raised from %s to %s for this load (its largest table: %s cells)",
             default, limit, f"{cells:,}")
    return limit


def load_within_memory(pipeline: dlt.Pipeline) -> Any:
    """`pipeline.load()`, under a DuckDB cap fitted to the package, raised again if DuckDB runs out.

    MERGE_BYTES_PER_CELL is a first guess from a few measured tenants; what
    DuckDB needs also depends on the values (600k rows x 80 columns of
    distinct strings needed 120-160 MB, an emulator tenant of that size less
    than 120). So a load that fails with DuckDB's OutOfMemory (dlt keeps the
    package, its finished jobs done) is loaded again under twice the cap, up
    to a quarter of RAM, with a warning saying so. A configured
    `memory_limit` is never changed: that load fails as before. The cap goes
    back to the default afterwards, so the next load of a pipeline object that
    lives on (the Dagster assets') starts from it again.
    """
    settings_ = _own_duckdb_settings(pipeline)
    if settings_ is None:
        return pipeline.load()
    default = settings_["memory_limit"]
    ceiling = _ceiling_mb(default)
    try:
        fit_duckdb_memory(pipeline)
        while True:
            try:
                return pipeline.load()
            except PipelineStepFailed as exc:
                current = settings_["memory_limit"]
                if exc.step != "load" or not failures.out_of_memory(exc) or _mb(current) >= ceiling:
                    raise
                raised = f"{min(2 * _mb(current), ceiling)}MB"
                log.warning("DuckDB ran out of its %s memory limit loading this package; loading it again under "
                            "%s (a memory_limit set in %s is never raised)", current, raised, DUCKDB_SETTINGS_KEY)
                settings_["memory_limit"] = raised
    finally:
        settings_["memory_limit"] = default


def load_pending(pipeline: dlt.Pipeline) -> Any:
    """Finish the packages an interrupted run left, as `pipeline.run()` without data does (normalize
    what was extracted, load what was normalized), but loading through `load_within_memory`."""
    if pipeline.list_extracted_load_packages():
        pipeline.normalize()
    if pipeline.list_normalized_load_packages():
        return load_within_memory(pipeline)
    return None


@dataclass
class LoadSummary:
    """What one `run_load` did."""

    pipeline_name: str
    dataset_name: str
    destination: str
    location: str | None  # the DuckDB file, when DuckDB
    rows: dict[str, int]  # table -> rows loaded by this run
    seconds: float
    requests: int = 0  # HTTP requests to PX
    restarts: int = 0  # scans restarted (expired scroll, lost answer)
    dialect: str | None = None  # the API dialect and how it was chosen, e.g. "published (detected)"
    full_refresh: bool = False
    resumed_pending: bool = False  # an interrupted earlier load was finished first
    dropped_pending: bool = False  # a package an earlier run left was discarded (--drop-pending)
    views: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    def lines(self) -> list[str]:
        """The summary as printed by the CLI."""
        kind = "Reconcile (full refresh)" if self.full_refresh else "Load"
        where = f"{self.destination} {self.location}" if self.location else self.destination
        out = [f"{kind} finished in {self.seconds:.1f}s into {where}, dataset {self.dataset_name}."]
        if self.dropped_pending:
            out.append("The load package an earlier run left was discarded; its rows were fetched again.")
        if self.resumed_pending:
            out.append("An interrupted earlier load was completed first.")
        width = max((len(t) for t in self.rows), default=5)
        out.append("Rows loaded:")
        for table, count in self.rows.items():
            out.append(f"  {table:<{width}}  {count:>10,}")
        out.append(f"  {'total':<{width}}  {self.total_rows:>10,}")
        # PX allows about 1M requests a day per tenant; 1,000 events cost one request.
        extra = f"{self.requests:,} API requests ({self.requests / settings.DAILY_REQUEST_QUOTA:.3%} of PX's daily quota)"
        if self.restarts:
            extra += f", {self.restarts} scan restart(s)"
        if self.dialect:
            extra += f", API dialect {self.dialect}"
        out.append(extra + ".")
        if self.views:
            out.append(f"Views refreshed: {', '.join(self.views)}.")
        out.extend(f"warning: {w}" for w in self.warnings)
        return out


def resource_names(dialect: Dialect | None = None) -> list[str]:
    """Resources `dialect` offers; None (`auto`, not known yet): those of any dialect."""
    if dialect is None:
        names = [n for d in DIALECTS.values() for n in resource_names(d)]
        return list(dict.fromkeys(names))
    return list(listable_endpoints(dialect)) + list(event_streams(dialect))


def parse_resources(value: str | Iterable[str] | None, dialect: Dialect | None = None) -> list[str] | None:
    """`"users,accounts"` (or a list) -> validated names; None means all."""
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else list(value)
    names = [n.strip() for n in items if n and n.strip()]
    valid = resource_names(dialect)
    unknown = [n for n in names if n not in valid]
    if unknown or not names:
        what = f"unknown resource(s): {', '.join(unknown)}" if unknown else "no resource named"
        raise InputError(f"--resources: {what}. Valid names: {', '.join(valid)}.")
    return list(dict.fromkeys(names))


TRUNCATE_STAGING_KEY = "load.truncate_staging_dataset"


def truncate_staging_after_load() -> None:
    """Have dlt empty the staging dataset once a load completes (its `[load] truncate_staging_dataset`).

    Unless configured otherwise. Without it the staging table keeps a full
    load's rows until the next merge truncates them, and that merge's connection
    then pays for freeing them in DuckDB's checkpoint at close: the first merge
    after a full load was 1-1.6 s slower than the later ones (bench/README.md).
    Staging is scratch space; truncating it after the load record is committed
    changes nothing a rerun relies on.
    """
    if dlt.config.get(TRUNCATE_STAGING_KEY) is None:
        dlt.config[TRUNCATE_STAGING_KEY] = True


def duckdb_settings() -> dict[str, Any]:
    """`DUCKDB_SETTINGS` under whatever `destination.duckdb.credentials.global_config` configures."""
    configured = dlt.config.get(DUCKDB_SETTINGS_KEY, dict) or dlt.secrets.get(DUCKDB_SETTINGS_KEY, dict)
    return {**DUCKDB_SETTINGS, **(configured or {})}


def duckdb_destination(path: str) -> Any:
    """DuckDB at `path` (a file or a `duckdb:///` URL) with `duckdb_settings()`."""
    from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials
    from pathvalidate import is_valid_filepath

    if "://" in path or path.startswith(("md:", "motherduck:")) or not is_valid_filepath(path, platform="auto"):
        return dlt.destinations.duckdb(DuckDbCredentials(path, global_config=duckdb_settings()))
    # A file path, set as such: parsing it as a URL first imports SQLAlchemy (about 0.25 s, a
    # third of a run with nothing to load) only to find that it is not one.
    credentials = DuckDbCredentials(global_config=duckdb_settings())
    credentials.database = path
    return dlt.destinations.duckdb(credentials)


def default_destination(destination: str | Any = "duckdb") -> Any:
    """The destination to load into; DuckDB gets `gainsight.duckdb` unless configured."""
    if destination != "duckdb":
        return destination
    configured = dlt.secrets.get(DUCKDB_CREDENTIALS_KEY) or dlt.config.get(DUCKDB_CREDENTIALS_KEY)
    if isinstance(configured, str) and configured.strip() and configured.strip() != ":pipeline:":
        return duckdb_destination(configured.strip())
    if configured:
        # A credentials table (database, global_config, ...) or ":pipeline:": dlt resolves it all.
        return dlt.destinations.duckdb()
    return duckdb_destination(os.path.abspath(settings.DEFAULT_DUCKDB_FILE))


# SQL destinations whose merge job can run as one transaction. dlt wraps a job in one only when its
# capabilities say `supports_transactions`, which DuckDB's and PostgreSQL's leave unset: a replacing
# merge (atomic.py) would then commit its DELETE before its INSERT, and a reader, or a kill -9
# between the two, would see the table empty.
TRANSACTIONAL_DESTINATIONS = ("duckdb", "motherduck", "postgres")


def transactional(destination: str | Any) -> Any:
    """`destination` with each load job (the merges above all) run in one transaction, where it can."""
    from dlt.common.destination import Destination

    if isinstance(destination, str):
        if destination not in TRANSACTIONAL_DESTINATIONS:
            return destination
        destination = Destination.from_reference(destination)
    kind = destination.destination_type.rsplit(".", 1)[-1] if isinstance(destination, Destination) else None
    if kind in TRANSACTIONAL_DESTINATIONS:
        destination.caps_params.setdefault("supports_transactions", True)
    return destination


def make_collector(progress: Progress) -> Collector:
    """dlt's progress display, labelled with what is moving: bars on a terminal, a line every few
    seconds in CI logs (progress.py)."""
    if isinstance(progress, Collector):
        return progress
    if progress in (None, "none"):
        return NullCollector()
    if progress == "tqdm":
        return PXTqdmCollector(single_bar=False, file=sys.stderr)
    if progress == "log":
        return PXLogCollector(log_period=5.0, logger=sys.stderr, dump_system_stats=False)
    raise InputError(f"progress: expected 'log', 'tqdm' or 'none', got {progress!r}")


def _duckdb_location(pipeline: dlt.Pipeline) -> str | None:
    if pipeline.destination is None or pipeline.destination.destination_name != "duckdb":
        return None
    try:
        with pipeline.destination_client() as client:
            return str(client.config.credentials.database)  # type: ignore[attr-defined]
    except Exception:
        return None


def _unwrap(exc: BaseException, secret: str | None) -> GainsightPXError:
    """The first GainsightPXError behind dlt's wrappers, or a readable one made from dlt's."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, GainsightPXError):
            return current
        if isinstance(current, ConfigFieldMissingException):
            return _missing_config(current)
        if type(current).__module__.split(".")[0] == "psycopg2":
            return _postgres_error(current)
        if isinstance(current, ConfigValueCannotBeCoercedException):
            hint = getattr(current.hint, "__name__", str(current.hint))
            return ConfigError(
                f"{current.field_name} under [sources.gainsight_px] (or SOURCES__GAINSIGHT_PX__"
                f"{current.field_name.upper()}): the configured value cannot be read as {hint}."
            )
        nxt = getattr(current, "exception", None)
        current = nxt if isinstance(nxt, BaseException) else (current.__cause__ or current.__context__)
    known = failures.describe(exc)  # Ctrl-C, a locked DuckDB file, a full disk
    if known is not None:
        return known
    step = getattr(exc, "step", None)
    inner = getattr(exc, "exception", exc)
    message = f"{type(inner).__name__}: {inner}"
    if secret and len(secret) >= 6:  # a real key; scrubbing "x" would garble the message
        message = message.replace(secret, "***")
    where = f"dlt {step} step failed" if step else "the load failed"
    return GainsightPXError(f"{where}: {message}")


def _configured_api_key() -> str | None:
    """The configured key, only to scrub it from messages that are not ours."""
    try:
        value = dlt.secrets.get("sources.gainsight_px.api_key")
    except Exception:
        return None
    return value if isinstance(value, str) and value else None


def _missing_config(exc: ConfigFieldMissingException) -> ConfigError:
    fields = list(getattr(exc, "fields", []) or [])
    if "api_key" in fields:
        return ConfigError(
            f"No PX API key configured: set {settings.API_KEY_ENV} or api_key under "
            "[sources.gainsight_px] in .dlt/secrets.toml."
        )
    destination = getattr(getattr(exc, "config", None), "destination_type", None)
    if destination:
        name = str(destination).rsplit(".", 1)[-1]
        key = fields[0] if fields else "credentials"  # e.g. postgres' credentials, filesystem's bucket_url
        example = " (e.g. postgresql://user:password@host:5432/database)" if name == "postgres" else ""
        return ConfigError(
            f"Destination {name} is not configured: set DESTINATION__{name.upper()}__{key.upper()}{example} "
            f"or {key} under [destination.{name}] in .dlt/secrets.toml."
        )
    # Anything else: dlt's message says where it looked.
    return ConfigError(f"missing configuration: {exc}")


_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")


def _postgres_error(exc: BaseException) -> ConfigError:
    """psycopg2's multi-line error (server down, no such database, bad password) as one line."""
    text = " ".join(str(exc).split())
    text = _URL_PASSWORD.sub(r"\1***@", text)
    return ConfigError(f"PostgreSQL destination: {text} Check DESTINATION__POSTGRES__CREDENTIALS "
                       "(host, port, database, username, password).")


def _rows(pipeline: dlt.Pipeline, selected: Sequence[str], loaded: bool = True) -> dict[str, int]:
    """Rows per table, from the run's normalize step (none when nothing was loaded)."""
    trace = pipeline.last_trace if loaded else None
    counts = dict(trace.last_normalize_info.row_counts) if trace and trace.last_normalize_info else {}
    rows = {name: int(counts.get(name, 0)) for name in selected}
    for table, count in counts.items():
        if table not in rows and not table.startswith("_dlt"):
            rows[table] = int(count)
    return rows


def _given_dialect(value: Any) -> Dialect | None:
    """The dialect passed to `run_load`, if one is (None: auto or from config)."""
    try:
        return dialect_named(value)
    except ValueError as exc:
        raise ConfigError(f"dialect: {exc}") from None


def _offered(source: Any, selected: list[str] | None) -> list[str]:
    """`selected` (None: all), checked against the resources the server's dialect offers."""
    offered = list(source.resources)
    if selected is None:
        return offered
    missing = [n for n in selected if n not in offered]
    if missing:
        raise InputError(f"--resources: {', '.join(missing)} not offered by this server's API dialect. "
                         f"Valid names: {', '.join(offered)}.")
    return selected


def _dialect_used(pipeline: dlt.Pipeline, trace: Any = None) -> str | None:
    """`published (detected)`: as the resources published it this run (source.RunContext), else
    the dialect the source state remembers (source.DIALECT_STATE_KEY)."""
    from gainsight_px.source import DIALECT_STATE_KEY

    for metrics in _custom_metrics(pipeline, trace):
        if metrics.get("dialect"):
            return str(metrics["dialect"])
    try:
        record = pipeline.state["sources"][settings.SOURCE_NAME][DIALECT_STATE_KEY]  # type: ignore[typeddict-item]
    except (KeyError, TypeError):
        return None
    return record.get("name")


def _extract_info(pipeline: dlt.Pipeline, trace: Any = None) -> Any:
    trace = trace if trace is not None else pipeline.last_trace
    return trace.last_extract_info if trace else None


def _custom_metrics(pipeline: dlt.Pipeline, trace: Any = None) -> Iterator[dict[str, Any]]:
    """The custom metrics each resource published in the run's extract."""
    info = _extract_info(pipeline, trace)
    for metrics in (info.metrics.values() if info else ()):
        for step in metrics:
            for resource in step.get("resource_metrics", {}).values():
                yield getattr(resource, "custom_metrics", None) or {}


def _run_warnings(pipeline: dlt.Pipeline, trace: Any = None) -> list[str]:
    """Warnings the resources published as custom metrics (said once per run)."""
    out: list[str] = []
    for metrics in _custom_metrics(pipeline, trace):
        for message in metrics.get("warnings", ()):
            if message not in out:
                out.append(message)
    return out


def _scan_metrics(pipeline: dlt.Pipeline, trace: Any = None) -> tuple[int, int]:
    requests = restarts = 0
    for custom in _custom_metrics(pipeline, trace):
        requests += int(custom.get("requests", 0))
        restarts += int(custom.get("restarts", 0))
    return requests, restarts


def _refresh_views(pipeline: dlt.Pipeline, summary: LoadSummary) -> None:
    """Analyst views, for SQL destinations only; a failure here never fails the load."""
    from dlt.destinations.sql_client import WithSqlClient

    try:
        with pipeline.destination_client() as client:
            if not isinstance(client, WithSqlClient):
                return
        from gainsight_px import marts

        summary.views = list(marts.refresh_views(pipeline) or [])
    except Exception as exc:  # the data is loaded; views are a convenience on top
        message = f"views were not refreshed: {type(exc).__name__}: {exc}"
        log.warning(message)
        summary.warnings.append(message)


EVENT_STREAM_NAMES = frozenset(n for d in DIALECTS.values() for n in event_streams(d))


def _tenant(source_kwargs: dict[str, Any], api_key: str | None) -> Tenant:
    base_url = source_kwargs.get("base_url") or dlt.config.get("sources.gainsight_px.base_url") \
        or settings.DEFAULT_BASE_URL
    return Tenant.of(str(base_url), api_key)


def _check_tenant(pipeline: dlt.Pipeline, tenant: Tenant, *, full_refresh: bool, rekey: bool) -> None:
    """The dataset belongs to one tenant: refuse another before any request (exit 1).

    The binding lives in the pipeline state, which dlt keeps in the dataset too,
    so a new machine (an empty DLT_DATA_DIR) pointed at the dataset finds it.
    """
    try:
        pipeline.sync_destination()  # the dataset's state, when this machine has none
    except Exception as exc:  # an unreachable destination fails the run itself, with its message
        log.debug("no state restored from the destination: %s", exc)
    sources = pipeline.state.get("sources") or {}
    stored = (sources.get(settings.SOURCE_NAME) or {}).get(TENANT_STATE_KEY)
    if isinstance(stored, dict):
        match = tenant.match(stored)
        if match == "same" and (stored.get("tenant_id") or not tenant.tenant_id):
            return
        if match == "other" and not full_refresh or match == "key-changed" and not (rekey or full_refresh):
            hint = ("if you rotated the API key of the same tenant, rerun once with --rekey (or set "
                    f"{TENANT_ID_ENV}); " if match == "key-changed" else "")
            raise ConfigError(
                f"Dataset {pipeline.dataset_name!r} holds tenant {describe_binding(stored)}, not "
                f"{tenant.describe()}. Nothing was loaded. {hint}to load this tenant beside it use "
                "another --dataset (and --pipeline-name); to replace the data with this tenant's, "
                "run with --full-refresh."
            )
    with pipeline.managed_state() as state:
        source_state = state.setdefault("sources", {}).setdefault(settings.SOURCE_NAME, {})  # type: ignore[typeddict-item]
        source_state[TENANT_STATE_KEY] = tenant.binding()


def check_tenant(pipeline: dlt.Pipeline, base_url: str, api_key: str, *, full_refresh: bool = False,
                 rekey: bool = False) -> None:
    """`run_load`'s tenant check, for pipelines that other code runs (the Dagster assets)."""
    _check_tenant(pipeline, Tenant.of(base_url, api_key), full_refresh=full_refresh, rekey=rekey)


def _pending_failed(exc: PipelineStepFailed, secret: str | None, *, earlier: bool) -> GainsightPXError:
    """One line for a package dlt keeps pending because its load failed: the cause and the way out.

    dlt keeps such a package and loads it first on every run, so without a way
    out one bad package (a DuckDB out-of-memory, a table an analyst altered)
    wedges the pipeline.
    """
    known = failures.describe(exc)  # Ctrl-C, a locked file, a full disk: the fix is not --drop-pending
    if known is not None:
        return known
    root: BaseException = exc
    seen: set[int] = set()
    while id(root) not in seen:
        seen.add(id(root))
        # dlt's connection error buries the real reason behind advice about credentials: use inner_exc.
        nxt = (getattr(root, "client_exception", None) or getattr(root, "exception", None)
               or getattr(root, "inner_exc", None) or root.__cause__)
        if not isinstance(nxt, BaseException):
            break
        root = nxt
    text = str(root).strip()
    # dlt appends the job's traceback to its retry message; keep the cause only.
    if "Last failure message was:" in text:
        text = text.split("Last failure message was:", 1)[1]
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith((" ", "Traceback"))]
    cause = next((ln for ln in lines if not ln.startswith(("File ", "^", "Traceback"))), type(root).__name__)
    if secret and len(secret) >= 6:
        cause = cause.replace(secret, "***")
    if len(cause) > 300:
        cause = cause[:297] + "..."
    which = "the load package an earlier run left" if earlier else "this run's load package"
    fix = (f"raise DuckDB's memory_limit ({DUCKDB_SETTINGS_KEY}) and rerun" if failures.out_of_memory(exc)
           else "fix the cause and rerun")
    return GainsightPXError(
        f"{which} could not be loaded into the warehouse: {cause}. It stays pending and every run tries it "
        f"first: {fix}, or run `gainsight-px load --drop-pending` to discard it (its rows are fetched again)."
    )


def _extracted_nothing(pipeline: dlt.Pipeline) -> bool:
    """Whether the pending packages are only what an extract of nothing leaves: no job, no schema change."""
    if pipeline.list_normalized_load_packages():
        return False
    for load_id in pipeline.list_extracted_load_packages():
        info = pipeline.get_load_package_info(load_id)
        if any(info.jobs.values()) or info.schema_update:
            return False
    return True


def run_source(pipeline: dlt.Pipeline, data: Any) -> tuple[Any, bool]:
    """`pipeline.run(data)`, stopping after the extract when it found nothing to load.

    dlt's `run` always goes on to normalize and load, which resolve their
    configuration and open the destination even for an empty package: ~0.7 s
    of a 2.2 s quiet run (bench/README.md). A run that extracted no rows and
    did not change the state leaves a package with no job (a changed state is
    a `_dlt_pipeline_state` job, a new column a schema update): there is
    nothing to commit, and the package is dropped (dlt's abort; the state it
    would rewind to is the same). Otherwise the package is normalized and
    loaded as `run` would (the cursors commit with the data). Not `run()` for
    that: before loading it syncs with the destination, which on a first load
    (no dataset yet) wipes the local state and the package just extracted. The
    state is synced before the extract, as `run` does, which also opens the
    destination before any request (a locked file, a bad table format fail
    there). Returns the run's trace and whether anything was loaded.
    """
    pipeline.sync_destination()
    pipeline.extract(data)
    if _extracted_nothing(pipeline):
        if pipeline.has_pending_data:
            pipeline.abort_packages()
        return pipeline.last_trace, False
    pipeline.normalize()
    load_within_memory(pipeline)
    return pipeline.last_trace, True


def reset_cursors(pipeline: dlt.Pipeline, selected: Sequence[str]) -> None:
    """A reconcile forgets the stored cursors of `selected` (event streams keep theirs), and nothing else.

    dlt's `refresh="drop_data"` would also truncate the tables when the load
    step starts, so readers would see them empty (and a kill there would
    leave them so) until the refill commits. Here only the state goes (dlt's
    state-only drop, loaded as its own small package); the resources then
    read everything and their loads replace the tables in one transaction
    (atomic.py). A crash after this point leaves no cursor: the next run
    reads everything again, which is correct, only slower.
    """
    from dlt.pipeline.helpers import pipeline_drop

    selected = [name for name in selected if name not in EVENT_STREAM_NAMES]  # events never change
    if not pipeline.default_schema_name or not selected:
        return  # never ran: nothing stored
    drop = pipeline_drop(pipeline, resources=list(selected), state_only=True)
    if not drop.is_empty:
        drop()


def run_load(
    resources: str | Iterable[str] | None = None,
    full_refresh: bool = False,
    dataset_name: str = settings.DEFAULT_DATASET,
    destination: str | Any = "duckdb",
    pipeline_name: str = settings.DEFAULT_PIPELINE_NAME,
    pipelines_dir: str | None = None,
    progress: Progress = "log",
    table_format: str | None = None,
    rekey: bool = False,
    drop_pending: bool = False,
    **source_kwargs: Any,
) -> LoadSummary:
    """Load PX into the warehouse once and say what happened.

    `source_kwargs` go to `gainsight_px_source` (api_key, base_url, page_size,
    initial, dialect); anything not given comes from dlt config and secrets.
    `rekey` re-binds the dataset to a rotated API key of the same tenant
    (see `identity.py`); the dataset otherwise refuses another tenant.
    `drop_pending` discards a load package an earlier run could not load (so
    does `full_refresh`); dlt rewinds the cursors, so its rows are fetched again.

    >>> summary = run_load(resources="users,accounts")
    >>> print("\\n".join(summary.lines()))
    """
    # `auto` (or a dialect from config) is known only once the source asked the server.
    selected = parse_resources(resources, _given_dialect(source_kwargs.get("dialect")))
    started = time.perf_counter()
    secret = source_kwargs.get("api_key") or _configured_api_key()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # full_refresh is dlt's deprecated dev_mode
            pipeline = dlt.pipeline(
                pipeline_name=pipeline_name,
                pipelines_dir=pipelines_dir,
                destination=transactional(default_destination(destination)),
                dataset_name=dataset_name,
                progress=make_collector(progress),
                # Never dlt's dev mode, whatever DEV_MODE or FULL_REFRESH say in the environment: it
                # would load into a new, timestamped dataset on every run (--full-refresh is ours).
                dev_mode=False,
                full_refresh=False,
            )
    except GainsightPXError:
        raise
    except Exception as exc:  # e.g. an unknown destination name
        raise _unwrap(exc, secret) from None
    # delta on the filesystem destination (lake.py); from the argument or config
    table_format = lake.resolve_table_format(
        table_format, pipeline.destination.destination_name if pipeline.destination else None)
    # The source only after its pipeline: dlt gives a new source the naming convention
    # of the active pipeline, which may be another one in this process (e.g. a push
    # through px_destination, whose "direct" naming would leave camelCase columns).
    try:
        source = gainsight_px_source(**source_kwargs, reconcile=full_refresh)
        selected = _offered(source, selected)
        source = source.with_resources(*selected)
        if table_format:
            lake.apply_table_format(source, table_format)
    except ConfigFieldMissingException as exc:
        raise _missing_config(exc) from None
    except GainsightPXError:
        raise
    except Exception as exc:
        raise _unwrap(exc, secret) from None
    location = _duckdb_location(pipeline)
    # DuckDB folds identifier case, so GAINSIGHT_PX.duckdb is as ambiguous as gainsight_px.duckdb.
    if location and os.path.basename(location).split(".")[0].casefold() == pipeline.dataset_name.casefold():
        raise ConfigError(
            f"The DuckDB file {location} is named like the dataset {pipeline.dataset_name!r}; DuckDB "
            "then cannot tell the catalog from the schema. Use another file name "
            f"(e.g. {settings.DEFAULT_DUCKDB_FILE}) or another --dataset."
        )
    resumed = dropped = False
    truncate_staging_after_load()
    # One run per pipeline at a time: two would extract into the same working folder.
    with failures.pipeline_lock(pipeline.pipelines_dir, pipeline.pipeline_name):
        if location:
            failures.check_duckdb_free(location)  # before any request, not after the whole fetch
        _check_tenant(pipeline, _tenant(source_kwargs, secret), full_refresh=full_refresh, rekey=rekey)
        try:
            if (drop_pending or full_refresh) and pipeline.has_pending_data:
                # dlt's abort rewinds the local state to before the package: its rows are fetched again.
                pipeline.abort_packages()
                dropped = True
            if pipeline.has_pending_data:
                # dlt's run() would load the leftover package and stop; finish it, then go on.
                try:
                    load_pending(pipeline)
                except PipelineStepFailed as exc:
                    raise _pending_failed(exc, secret, earlier=True) from None
                resumed = True
            if full_refresh:
                reset_cursors(pipeline, selected)
            extract_trace, loaded = run_source(pipeline, source)
        except PipelineStepFailed as exc:
            if exc.step == "load":
                raise _pending_failed(exc, secret, earlier=False) from None
            raise _unwrap(exc, secret) from None
        except GainsightPXError:
            raise
        except Exception as exc:  # dlt raises a few things outside its steps (e.g. destination config)
            raise _unwrap(exc, secret) from None
    requests, restarts = _scan_metrics(pipeline, extract_trace)
    summary = LoadSummary(
        pipeline_name=pipeline_name,
        dataset_name=pipeline.dataset_name,
        destination=pipeline.destination.destination_name if pipeline.destination else str(destination),
        location=location,
        rows=_rows(pipeline, selected, loaded),
        seconds=0.0,
        requests=requests,
        restarts=restarts,
        dialect=_dialect_used(pipeline, extract_trace),
        full_refresh=full_refresh,
        resumed_pending=resumed,
        dropped_pending=dropped,
    )
    summary.warnings.extend(_run_warnings(pipeline, extract_trace))
    _refresh_views(pipeline, summary)
    summary.seconds = time.perf_counter() - started
    return summary
