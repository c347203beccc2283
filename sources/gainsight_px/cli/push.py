"""`gainsight-px push`: send CSV rows or a DuckDB query's rows to PX (see gainsight_px.push).

Exit codes: 0 every row delivered (or unchanged); 2 the run finished but some
rows were rejected (see the rejects file); 1 fatal (unreadable input, bad
columns, bad auth, unreachable API: the message names the cause); 130
interrupted by Ctrl-C (rerun the same command to send the rest).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gainsight_px import settings, tenants
from gainsight_px.endpoints import DIALECT_CHOICES
from gainsight_px.errors import GainsightPXError, InputError
from gainsight_px.push import (
    ENTITIES,
    LEDGER_ENV,
    MODES,
    PushOptions,
    format_summary,
    push_csv,
    push_query,
    push_sql,
)

EPILOG = f"""\
columns are the API's field names; custom attributes use dotted headers:
  customAttributes.<key> (users, accounts), attributes.<key> (events).
  An empty cell is not sent (the field keeps its value in PX).
  Dates: ISO 8601 or epoch milliseconds.

the ledger (default .gainsight-px/ledger.sqlite, or ${LEDGER_ENV}) remembers what
was delivered: a rerun sends only new or changed rows, and resumes after a crash.

config: {settings.API_KEY_ENV} and {settings.BASE_URL_ENV}
  (or [sources.gainsight_px] in .dlt/secrets.toml and .dlt/config.toml);
  {settings.DIALECT_ENV} (auto, contract or published; --dialect);
  {settings.PROPERTY_KEY_ENV}: the product key (AP-XXXX-N) that published
  writes carry as propertyKeys / propertyKey (or a column of that name).

published dialect: upsert = PUT the record, POST it when PX answers 404;
  --mode update = PUT only. Ids that cannot go into a URL path use
  PUT /users/update (/accounts/update). Custom events: POST /events/custom.

exit codes: 0 all delivered, 2 some rows rejected, 1 fatal error, 130 interrupted.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "push", help="push users, accounts or custom events from a CSV file or a DuckDB/PostgreSQL query",
        description="Reverse ETL: validate every row, then deliver it to PX once.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # Entity and mode are checked in run(): argparse would exit 2, which here means "rows rejected".
    parser.add_argument("entity", metavar="{users,accounts,events}", help="what the rows are")
    parser.add_argument("file", nargs="?", metavar="FILE.csv", help="the CSV file to push")
    source = parser.add_argument_group("from the warehouse instead of a CSV file")
    source.add_argument("--from-duckdb", metavar="PATH", help="a DuckDB file to read rows from")
    source.add_argument("--from-sql", metavar="URL",
                        help="a SQL warehouse to read rows from: postgresql://user:password@host/db "
                             "(or postgresql+psycopg2://..., or a libpq DSN 'host=... dbname=...')")
    source.add_argument("--query", metavar="SQL", help="a SELECT whose columns are API field names")
    source.add_argument("--table", metavar="NAME", help="a table (or schema.table) to push whole")
    parser.add_argument("--tenant", metavar="LABEL",
                        help="one of several PX tenants: key and host from [sources.gainsight_px.tenants.LABEL], "
                             "ledger .gainsight-px/ledger-LABEL.sqlite")
    parser.add_argument("--mode", default="upsert", metavar="{upsert,update}",
                        help="users/accounts: upsert (creates or updates; default) or update "
                             "(never creates: a missing record is rejected)")
    parser.add_argument("--dry-run", action="store_true",
                        help="validate and show what would be sent; send no write, change no ledger "
                             "(--mode update asks PX with one GET per row whether each record exists)")
    parser.add_argument("--rejects", metavar="PATH",
                        help="where rejected rows go (default: <input>.rejects.csv beside the file, "
                             "./<entity>.rejects.csv for --from-duckdb and --from-sql)")
    parser.add_argument("--ledger", metavar="PATH",
                        help=f"the delivery ledger (default: ${LEDGER_ENV} or .gainsight-px/ledger.sqlite)")
    parser.add_argument("--rate", type=float, default=settings.DEFAULT_PUSH_RATE, metavar="R",
                        help=f"requests per second at most (default {settings.DEFAULT_PUSH_RATE:g}; "
                             f"PX allows about {settings.PUBLISHED_RATE_LIMIT:g})")
    parser.add_argument("--concurrency", type=int, default=settings.DEFAULT_PUSH_CONCURRENCY, metavar="N",
                        help=f"requests in flight at most (default {settings.DEFAULT_PUSH_CONCURRENCY})")
    parser.add_argument("--timeout", type=float, default=None, metavar="S",
                        help="seconds each request may take in all (default: SOURCES__GAINSIGHT_PX__REQUEST_TIMEOUT, "
                             f"else {settings.REQUEST_TIMEOUT_S:g})")
    parser.add_argument("--rekey", action="store_true",
                        help="the API key was rotated: the ledger's tenant on this URL takes the new key, "
                             "so nothing is sent again (or set SOURCES__GAINSIGHT_PX__TENANT_ID)")
    parser.add_argument("--force", action="store_true",
                        help="users/accounts: also send rows the ledger has as delivered unchanged")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="show the progress bar (default: only on a terminal)")
    parser.add_argument("--dialect", default=None, metavar="{auto,contract,published}",
                        help=f"the API the server speaks (default: ${settings.DIALECT_ENV}, else auto: "
                             "remembered per base URL, else asked with one GET)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.entity not in ENTITIES:
        raise InputError(f"push: unknown entity {args.entity!r}; expected one of {', '.join(ENTITIES)}")
    if args.mode not in MODES:
        raise InputError(f"push: unknown --mode {args.mode!r}; expected upsert or update")
    if args.rate <= 0:
        raise InputError(f"push: --rate must be positive, got {args.rate:g}")
    if args.concurrency < 1:
        raise InputError(f"push: --concurrency must be at least 1, got {args.concurrency}")
    if args.timeout is not None and args.timeout <= 0:
        raise InputError(f"push: --timeout must be positive, got {args.timeout:g}")
    if args.dialect is not None and args.dialect not in DIALECT_CHOICES:
        raise InputError(f"push: unknown --dialect {args.dialect!r}; expected one of {', '.join(DIALECT_CHOICES)}")
    # One of several tenants: its key, host and a ledger of its own (tenants.py).
    tenant = tenants.tenant(args.tenant) if args.tenant else None
    credentials = {"api_key": tenant.source_kwargs["api_key"], "base_url": tenant.base_url} if tenant else {}
    options = PushOptions(mode=args.mode, dry_run=args.dry_run, rate=args.rate, concurrency=args.concurrency,
                          ledger=args.ledger or (tenant.ledger if tenant else None), rejects=args.rejects, timeout=args.timeout, force=args.force, rekey=args.rekey,
                          progress=args.progress, dialect=args.dialect)
    try:
        if args.from_sql:
            if args.file or args.from_duckdb:
                raise InputError("push: give one of FILE.csv, --from-duckdb or --from-sql")
            summary = push_sql(args.from_sql, args.entity, query=args.query, table=args.table, options=options,
                               **credentials)
        elif args.from_duckdb:
            if args.file:
                raise InputError("push: give either FILE.csv or --from-duckdb, not both")
            summary = push_query(args.from_duckdb, args.entity, query=args.query, table=args.table,
                                 options=options, **credentials)
        else:
            if not args.file:
                raise InputError("push: give FILE.csv, or --from-duckdb PATH with --query or --table")
            if args.query or args.table:
                raise InputError("push: --query and --table go with --from-duckdb")
            summary = push_csv(Path(args.file), args.entity, options=options, **credentials)
    except GainsightPXError as exc:
        partial = getattr(exc, "summary", None)
        if partial is not None:  # a fatal error mid-run: say what was done before it
            print(format_summary(partial), flush=True)
        raise
    print(format_summary(summary), flush=True)
    if summary.rejected and summary.rejects_path is not None:
        print(f"{summary.rejected:,} row(s) rejected: see {summary.rejects_path}", file=sys.stderr, flush=True)
    return summary.exit_code
