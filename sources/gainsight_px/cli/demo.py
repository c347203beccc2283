"""`gainsight-px demo`: emulator -> full load -> activity -> incremental load, zero config."""

from __future__ import annotations

import argparse

from gainsight_px import settings
from gainsight_px.demo import DEFAULT_USERS, DEMO_DUCKDB_FILE, next_steps, run_demo
from gainsight_px.endpoints import DIALECTS


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "demo",
        help="run the load end to end against a bundled PX emulator (no account needed)",
        description="Start a PX emulator with a synthetic tenant, load it into DuckDB, simulate "
                    "activity and show that the incremental load fetches only the changed rows.",
    )
    parser.add_argument("--users", type=int, default=DEFAULT_USERS,
                        help=f"users in the synthetic tenant (default: {DEFAULT_USERS:,})")
    parser.add_argument("--accounts", type=int, default=None,
                        help="accounts in the synthetic tenant (default: users / 10)")
    parser.add_argument("--db", default=DEMO_DUCKDB_FILE,
                        help=f"DuckDB file to write (default: ./{DEMO_DUCKDB_FILE}, apart from a real load's "
                             f"{settings.DEFAULT_DUCKDB_FILE})")
    parser.add_argument("--dialect", default="contract", choices=sorted(DIALECTS),
                        help="the emulator's API: contract or published (as live tenants) (default: %(default)s)")
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    result = run_demo(users=args.users, accounts=args.accounts, db_path=args.db,
                      say=lambda line: print(line, flush=True), dialect=args.dialect)
    print()
    print(f"Done. {result.db_path} holds dataset {settings.DEFAULT_DATASET}:")
    for table, rows in result.full.rows.items():
        print(f"  {settings.DEFAULT_DATASET}.{table:<14} {rows:>8,} rows")
    if result.full.views:
        print(f"  views: {', '.join(result.full.views)}")
    print("\n".join(next_steps(result.db_path)))
    return 0
