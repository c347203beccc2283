"""Dagster assets for many tenants, through dagster-dlt (`pip install 'gainsight-px[dagster]'`).

Why Dagster and not Airflow: dagster-dlt turns each dlt resource into an asset
(one per warehouse table, with row counts per run) in a ~60 MB install that
runs in-process (`dagster.materialize`) for tests and `dagster dev` on a
laptop. Airflow 3 brings a scheduler, a metadata database and an API server
before the first task runs, and dlt's `PipelineTasksGroup` drives it through
DAG files; for one project with a few tenants that is more machinery than job.

Per tenant (see tenants.py) there are two asset groups, each on its own dlt
pipeline so their state never mixes:

- `<label>_entities`: users, accounts, features, engagements and
  subscriptions/segments; job `<label>_entities` runs hourly, and
  `<label>_reconcile` (a full refresh, deletions included) weekly;
- `<label>_events`: the event streams of the published API, read in date
  windows from each stream's cursor (`event_window_days`, at most 190 days a
  request), so the first run backfills and later ones fetch what is new; job
  `<label>_events` runs every 6 hours. Its dlt schema is `gainsight_px_events`
  beside `gainsight_px` in the same dataset.

Asset keys are `[label, table]`, so tenants never collide. After each group
loads, the analyst views of the tenant's dataset are refreshed. On DuckDB the
two groups of one tenant write one file: run them one at a time (the jobs
carry the tag `gainsight_px/tenant`; set a tag concurrency limit of 1 on it,
or use PostgreSQL).

    dagster dev -m gainsight_px.dagster_definitions     # every configured tenant, DuckDB

    from gainsight_px.dagster_assets import definitions  # or your own Definitions
    defs = definitions(["acme", "globex"], destination="postgres")
"""

# No `from __future__ import annotations`: Dagster reads the asset function's config annotation at runtime.

from collections.abc import Iterator, Sequence
from typing import Any

import dagster as dg
import dlt
from dagster_dlt import DagsterDltResource, DagsterDltTranslator, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData

from gainsight_px import dialects, marts, tenants
from gainsight_px.endpoints import DEFAULT_DIALECT, Dialect
from gainsight_px.event_source import event_streams
from gainsight_px.load import (
    check_tenant,
    load_pending,
    reset_cursors,
    run_source,
    transactional,
    truncate_staging_after_load,
)
from gainsight_px.source import gainsight_px_source, listable_endpoints

ENTITIES_CRON = "0 * * * *"  # hourly
RECONCILE_CRON = "30 3 * * 0"  # Sundays 03:30
EVENTS_CRON = "15 */6 * * *"  # every 6 hours
TENANT_TAG = "gainsight_px/tenant"
EVENTS_SCHEMA = "gainsight_px_events"


class LoadConfig(dg.Config):
    """Run config of an entities run: `full_refresh` reconciles (deletions included)."""

    full_refresh: bool = False


class _TenantTranslator(DagsterDltTranslator):
    """Asset `[label, table]`, no upstream placeholder assets."""

    def __init__(self, label: str) -> None:
        self.label = label

    def get_asset_spec(self, data: DltResourceTranslatorData) -> dg.AssetSpec:
        spec = super().get_asset_spec(data)
        return spec.replace_attributes(key=dg.AssetKey([self.label, data.resource.name]), deps=[])


def _dialect(t: tenants.Tenant, dialect: str | Dialect | None) -> Dialect:
    setting = dialect or t.source_kwargs.get("dialect")
    if isinstance(setting, Dialect):
        return setting
    parsed = dialects.parse_setting(setting) if setting else None
    return parsed or DEFAULT_DIALECT


def tenant_assets(label: str, *, destination: str | Any = "duckdb", dialect: str | Dialect | None = None,
                  pipelines_dir: str | None = None) -> list[dg.AssetsDefinition]:
    """The entity and event asset groups of one tenant.

    `dialect` (or the tenant's `dialect` setting) decides the tables; with
    neither, the contract dialect. Building the assets sends no request.
    """
    t = tenants.tenant(label)
    chosen = _dialect(t, dialect)
    kwargs = {**t.source_kwargs, "dialect": chosen}
    groups = {"entities": list(listable_endpoints(chosen)), "events": list(event_streams(chosen))}
    out = []
    for group, names in groups.items():
        if not names:
            continue
        factory = gainsight_px_source if group == "entities" else \
            gainsight_px_source.clone(name=EVENTS_SCHEMA, section="gainsight_px")
        # As `gainsight-px load`: each load job in one transaction (a replacing merge never shows
        # the table empty), and staging emptied once a load is done.
        truncate_staging_after_load()
        pipeline = dlt.pipeline(pipeline_name=f"{t.pipeline_name}_{group}", pipelines_dir=pipelines_dir,
                                destination=transactional(tenants.destination_for(t, destination)),
                                dataset_name=t.dataset_name)

        def new_source(reconcile: bool = False, factory: Any = factory, names: list[str] = names) -> Any:
            return factory(**kwargs, reconcile=reconcile).with_resources(*names)

        out.append(_group_assets(label, group, new_source, pipeline, t))
    return out


def _group_assets(label: str, group: str, new_source: Any, pipeline: dlt.Pipeline,
                  t: tenants.Tenant) -> dg.AssetsDefinition:
    # The source given here only names the assets. Each run builds its own, after
    # the pipeline is active (dlt gives a new source the active pipeline's naming,
    # and a source object carried from run to run keeps the last run's table hints).
    @dlt_assets(dlt_source=new_source(), dlt_pipeline=pipeline, name=f"{label}_{group}",
                group_name=f"{label}_{group}", dagster_dlt_translator=_TenantTranslator(label),
                op_tags={TENANT_TAG: label})
    def assets(context: dg.AssetExecutionContext, dlt: DagsterDltResource, config: LoadConfig) -> Iterator[Any]:
        # The dataset belongs to one tenant: refuse another before any request (as `gainsight-px load`).
        # The run drops the local dlt state and restores it from the destination (as dagster-dlt
        # does), which drops the binding too: it is written again after the run, so it lives in
        # this deployment's dlt state (DLT_DATA_DIR) from run to run.
        check_tenant(pipeline, t.base_url, t.source_kwargs["api_key"], full_refresh=config.full_refresh)
        if pipeline.has_pending_data:
            # An interrupted run left a package: load it first (run() would stop after it).
            load_pending(pipeline)
        pipeline.activate()
        if config.full_refresh:
            # As `gainsight-px load --full-refresh`: only the cursors go; each table is then replaced
            # in one transaction. dlt's refresh="drop_data" would truncate the tables when the load
            # starts, so readers (and a run killed there) would find them empty.
            reset_cursors(pipeline, list(new_source().resources))
        yield from _run(context, dlt, pipeline, new_source(reconcile=config.full_refresh), _TenantTranslator(label))
        check_tenant(pipeline, t.base_url, t.source_kwargs["api_key"], full_refresh=True)  # binds it again
        try:  # as in `gainsight-px load`: the data is loaded, views are a convenience on top
            created = marts.refresh_views(pipeline)
            context.log.info(f"views refreshed: {', '.join(created) or 'none'}")
        except Exception as exc:
            context.log.warning(f"views were not refreshed: {type(exc).__name__}: {exc}")

    return assets


def _run(context: dg.AssetExecutionContext, resource: DagsterDltResource, pipeline: dlt.Pipeline, source: Any,
         translator: DagsterDltTranslator) -> Iterator[dg.MaterializeResult]:
    """dagster-dlt's `DagsterDltResource.run`, but loading through `load.run_source`, as `gainsight-px load`
    does: a package too large for DuckDB's default cap gets a raised one (`load.load_within_memory`; a
    wide tenant at 1M users fails its merge without it), and a run that extracted nothing stops there.

    dagster-dlt calls `pipeline.run`, which leaves no step between normalize and load. Its other
    work is kept: the subset of assets selected, the local dlt state dropped and restored from the
    destination (the pipeline object lives from run to run, and its in-memory schema can be
    staler than the one the last load stored), and one materialization per asset with its metadata.
    """
    by_key = {translator.get_asset_spec(DltResourceTranslatorData(resource=r, pipeline=pipeline)).key: r
              for r in source.selected_resources.values()}
    if context.is_subset:
        by_key = {key: r for key, r in by_key.items() if key in context.selected_asset_keys}
        source = source.with_resources(*(r.name for r in by_key.values()))
    if pipeline.config.restore_from_destination:
        pipeline.drop()
    else:
        pipeline.drop_pending_packages()
    trace, loaded = run_source(pipeline, source)
    load_info = trace.last_load_info if loaded else None
    if load_info is not None:
        load_info.raise_on_failed_jobs()
    for key, r in by_key.items():
        metadata = resource.extract_resource_metadata(context, r, load_info, pipeline) if load_info is not None \
            else {"rows_loaded": dg.MetadataValue.int(0)}
        yield dg.MaterializeResult(asset_key=key, metadata=metadata)


def tenant_jobs(label: str, assets: Sequence[dg.AssetsDefinition]) -> tuple[list[Any], list[dg.ScheduleDefinition]]:
    """The tenant's jobs and schedules: entities hourly, a weekly reconcile, events every 6 hours."""
    jobs: list[Any] = []
    schedules = []
    groups = {a.group_names_by_key[next(iter(a.keys))] for a in assets}
    tags = {TENANT_TAG: label}
    if f"{label}_entities" in groups:
        selection = dg.AssetSelection.groups(f"{label}_entities")
        hourly = dg.define_asset_job(f"{label}_entities", selection=selection, tags=tags)
        op_name = f"{label}_entities"
        reconcile = dg.define_asset_job(
            f"{label}_reconcile", selection=selection, tags=tags,
            config={"ops": {op_name: {"config": {"full_refresh": True}}}})
        jobs += [hourly, reconcile]
        schedules += [dg.ScheduleDefinition(job=hourly, cron_schedule=ENTITIES_CRON),
                      dg.ScheduleDefinition(job=reconcile, cron_schedule=RECONCILE_CRON)]
    if f"{label}_events" in groups:
        events = dg.define_asset_job(f"{label}_events", selection=dg.AssetSelection.groups(f"{label}_events"),
                                     tags=tags)
        jobs.append(events)
        schedules.append(dg.ScheduleDefinition(job=events, cron_schedule=EVENTS_CRON))
    return jobs, schedules


def definitions(labels: Sequence[str] | None = None, *, destination: str | Any = "duckdb",
                dialect: str | Dialect | None = None, pipelines_dir: str | None = None) -> dg.Definitions:
    """Assets, jobs and schedules for `labels` (default: every configured tenant)."""
    labels = list(labels) if labels is not None else tenants.configured_labels()
    assets: list[dg.AssetsDefinition] = []
    jobs: list[Any] = []
    schedules: list[dg.ScheduleDefinition] = []
    for label in labels:
        mine = tenant_assets(label, destination=destination, dialect=dialect, pipelines_dir=pipelines_dir)
        assets += mine
        more_jobs, more_schedules = tenant_jobs(label, mine)
        jobs += more_jobs
        schedules += more_schedules
    return dg.Definitions(assets=assets, jobs=jobs, schedules=schedules, resources={"dlt": DagsterDltResource()})
