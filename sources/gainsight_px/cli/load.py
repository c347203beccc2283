"""`gainsight-px load`: PX -> warehouse, incremental by default, `--full-refresh` to reconcile."""

from __future__ import annotations

import argparse
import sys

from gainsight_px import settings, tenants
from gainsight_px.endpoints import DIALECT_CHOICES
from gainsight_px.errors import InputError
from gainsight_px.load import parse_resources, resource_names, run_load

EPILOG = f"""\
configuration (environment or .dlt/):
  {settings.API_KEY_ENV}    the PX API key (required)
  {settings.BASE_URL_ENV}   regional host, default {settings.DEFAULT_BASE_URL}
  DESTINATION__DUCKDB__CREDENTIALS  DuckDB file, default ./{settings.DEFAULT_DUCKDB_FILE}
  {settings.DIALECT_ENV}    auto (default), contract or published
  DESTINATION__POSTGRES__CREDENTIALS  --destination postgres: postgresql://user:password@host:5432/db
  DESTINATION__FILESYSTEM__BUCKET_URL --destination filesystem: a folder or s3://, gs://, az:// URL
  DESTINATION__FILESYSTEM__TABLE_FORMAT  delta: the lake merges (as --table-format delta)
  SOURCES__GAINSIGHT_PX__TENANTS__<LABEL>__API_KEY  (and __BASE_URL) for --tenant <label>
  DLT_DATA_DIR                      where dlt keeps pipeline state

Schedule the plain run (e.g. hourly) and a --full-refresh run (e.g. weekly).
Incremental runs cannot see deletions; in the contract dialect they cannot see
attribute-only changes either (the published API's lastModifiedDate can).
"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "load",
        help="load PX users, accounts, features, engagements, segments (or subscriptions) "
             "into the warehouse",
        description="Load Gainsight PX into the warehouse (DuckDB by default) with dlt. "
                    "Users and accounts load incrementally (lastSeenDate, and lastModifiedDate "
                    "in the published API) and merge by key; the other lists replace their tables.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--resources", metavar="NAMES",
                        help=f"comma-separated subset of: {','.join(resource_names())} (default: all)")
    parser.add_argument("--drop-pending", action="store_true",
                        help="discard a load package an earlier run could not load (its rows are "
                             "fetched again); --full-refresh does too")
    parser.add_argument("--rekey", action="store_true",
                        help="the API key was rotated: bind the dataset to the new key of the same tenant "
                             "(or set SOURCES__GAINSIGHT_PX__TENANT_ID once and rotate freely)")
    parser.add_argument("--full-refresh", action="store_true",
                        help="reconcile: rescan everything, pick up attribute-only changes, and "
                             "delete rows that no longer exist in PX")
    parser.add_argument("--dataset", default=settings.DEFAULT_DATASET,
                        help=f"dataset (schema) name (default: {settings.DEFAULT_DATASET})")
    parser.add_argument("--destination", default="duckdb",
                        help="any dlt destination name, configured the dlt way (default: duckdb)")
    parser.add_argument("--table-format", choices=("delta",),
                        help="with --destination filesystem: write delta tables, which merge on the "
                             "primary key (default: plain parquet files, which only append)")
    parser.add_argument("--tenant", metavar="LABEL",
                        help="one of several PX tenants: key and host from [sources.gainsight_px.tenants.LABEL] "
                             "(SOURCES__GAINSIGHT_PX__TENANTS__LABEL__API_KEY); its own pipeline, dataset "
                             "gainsight_px_LABEL and DuckDB file gainsight-LABEL.duckdb")
    parser.add_argument("--initial", metavar="ISO_DATE",
                        help="first load only: start users and accounts at this lastSeenDate, and "
                             "event streams at this date (default for events: 30 days back; "
                             "e.g. 2023-01-01 backfills years)")
    parser.add_argument("--page-size", type=int, metavar="N",
                        help=f"records per request, 1..{settings.MAX_PAGE_SIZE}; each endpoint asks "
                             "for at most its own limit (default: that limit)")
    parser.add_argument("--dialect", choices=DIALECT_CHOICES,
                        help=f"the API the server speaks: auto (default; asks once, remembers per tenant), "
                             f"contract or published ({settings.DIALECT_ENV})")
    parser.add_argument("--pipeline-name", default=settings.DEFAULT_PIPELINE_NAME,
                        help="dlt pipeline: its own state, cursors and pending packages "
                             f"(default: {settings.DEFAULT_PIPELINE_NAME})")
    parser.add_argument("--progress", choices=("auto", "tqdm", "log", "none"), default="auto",
                        help="progress display (default: bars on a terminal, log lines otherwise)")
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    resources = parse_resources(args.resources) if args.resources is not None else None
    if args.page_size is not None and not 1 <= args.page_size <= settings.MAX_PAGE_SIZE:
        raise InputError(f"--page-size: must be between 1 and {settings.MAX_PAGE_SIZE}, got {args.page_size}.")
    progress = args.progress
    if progress == "auto":
        progress = "tqdm" if sys.stderr.isatty() else "log"
    source_kwargs = {}
    if args.initial:
        source_kwargs["initial"] = args.initial
    if args.page_size is not None:
        source_kwargs["page_size"] = args.page_size
    if args.dialect is not None:
        source_kwargs["dialect"] = args.dialect
    dataset, destination, pipeline_name = args.dataset, args.destination, args.pipeline_name
    if args.tenant:  # nothing shared with other tenants (tenants.py)
        tenant = tenants.tenant(args.tenant)
        source_kwargs = {**tenant.source_kwargs, **source_kwargs}
        destination = tenants.destination_for(tenant, destination)
        dataset = tenant.dataset_name if dataset == settings.DEFAULT_DATASET else dataset
        pipeline_name = tenant.pipeline_name if pipeline_name == settings.DEFAULT_PIPELINE_NAME else pipeline_name
    summary = run_load(
        resources=resources,
        full_refresh=args.full_refresh,
        rekey=args.rekey,
        drop_pending=args.drop_pending,
        dataset_name=dataset,
        destination=destination,
        pipeline_name=pipeline_name,
        progress=progress,
        table_format=args.table_format,
        **source_kwargs,
    )
    print("\n".join(summary.lines()), flush=True)
    return 0
