"""Every bench in one run: full-load sweep (and the published dialect), incremental, events, push; then all targets.

    python bench/run_all.py                              # the recorded run (100k-3M users, 1M x 100, 10M events)
    python bench/run_all.py --smoke                      # tiny: proves the scripts still work
    python bench/run_all.py --users 100000 200000 --wide-users 200000 --events 1000000   # a quick run
    python bench/run_all.py --markdown-out bench/last.md # also write the tables as markdown

Exit 0 when every contender loaded exactly the tenant's rows and every part
ran; a target MISS is reported, not turned into a failure (the figures are
for people to read, and a smoke run's figures mean nothing).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import _harness as h
import bench_events
import bench_incremental
import bench_load
import push_section

SMOKE_USERS = 2_000
SMOKE_WIDE_USERS = 1_000
SMOKE_PUBLISHED_USERS = 1_000
SMOKE_EVENTS = 5_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run every bench and print one report.")
    parser.add_argument("--smoke", action="store_true",
                        help=f"tiny run ({SMOKE_USERS:,} users, few push rows): proves the scripts work")
    parser.add_argument("--users", type=int, nargs="+",
                        help="full-load sizes (default: 100000 200000 1000000 3000000; smoke: 2000)")
    parser.add_argument("--attributes", type=int, default=bench_load.DEFAULT_ATTRIBUTES,
                        help=f"custom attributes per user (default {bench_load.DEFAULT_ATTRIBUTES})")
    parser.add_argument("--peer-max-users", type=int, default=bench_load.PEER_SIZE,
                        help=f"the peer runs only up to this size (default {bench_load.PEER_SIZE:,})")
    parser.add_argument("--wide-users", type=int,
                        help=f"users of the wide tenant, 0 to skip (default {bench_load.DEFAULT_WIDE_USERS:,}; "
                             f"smoke: {SMOKE_WIDE_USERS:,})")
    parser.add_argument("--wide-attributes", type=int, default=bench_load.DEFAULT_WIDE_ATTRIBUTES,
                        help=f"custom attributes per wide user (default {bench_load.DEFAULT_WIDE_ATTRIBUTES})")
    parser.add_argument("--published-users", type=int,
                        help=f"users of the published-dialect full load (floor and ours), 0 to skip "
                             f"(default {bench_load.DEFAULT_PUBLISHED_USERS:,}; smoke: {SMOKE_PUBLISHED_USERS:,})")
    parser.add_argument("--incremental-users", type=int,
                        help="incremental tenant size (default: 1000000, or the largest size under it)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="full-load runs per contender, interleaved; the fastest is reported (default 1)")
    parser.add_argument("--events", type=int,
                        help=f"event backfill size (default: {bench_events.DEFAULT_EVENTS:,}; smoke: {SMOKE_EVENTS:,})")
    parser.add_argument("--skip", nargs="+", choices=("load", "incremental", "push", "events"), default=[],
                        help="parts to leave out")
    parser.add_argument("--markdown-out", type=Path, help="also write the report as markdown to this file")
    args = parser.parse_args(argv)

    sizes = sorted(args.users or ([SMOKE_USERS] if args.smoke else list(bench_load.DEFAULT_SIZES)))
    report: list[h.Table] = [h.machine_table()]
    targets: list[h.Target] = []
    errors: list[str] = []
    with tempfile.TemporaryDirectory(prefix="px-bench-") as tmp:
        workroot = Path(tmp)
        if "load" not in args.skip:
            load = bench_load.run(sizes, workroot=workroot, repeat=max(1, args.repeat), attributes=args.attributes,
                                  peer_max_users=args.peer_max_users)
            wide_users = args.wide_users if args.wide_users is not None else (
                SMOKE_WIDE_USERS if args.smoke else bench_load.DEFAULT_WIDE_USERS)
            wide = bench_load.run_wide(wide_users, workroot=workroot, attributes=args.wide_attributes,
                                       repeat=max(1, args.repeat)) if wide_users > 0 else None
            published_users = args.published_users if args.published_users is not None else (
                SMOKE_PUBLISHED_USERS if args.smoke else bench_load.DEFAULT_PUBLISHED_USERS)
            published = bench_load.run_published(published_users, workroot=workroot, attributes=args.attributes,
                                                 repeat=max(1, args.repeat)) if published_users > 0 else None
            extra = [w for w in (wide, published) if w is not None]
            report += bench_load.tables(load) + [t for w in extra for t in bench_load.tables(w)]
            targets += bench_load.targets(load, wide) + (bench_load.published_targets(published) if published else [])
            errors += load.errors + [e for w in extra for e in w.errors]
        if "incremental" not in args.skip:
            under = [n for n in sizes if n <= bench_incremental.DEFAULT_USERS] or sizes
            incremental = bench_incremental.run(args.incremental_users or under[-1], workroot=workroot)
            report += bench_incremental.tables(incremental)
            targets += bench_incremental.targets(incremental)
            errors += incremental.errors
        if "events" not in args.skip:
            events = bench_events.run(args.events or (SMOKE_EVENTS if args.smoke else bench_events.DEFAULT_EVENTS),
                                      workroot=workroot)
            report += bench_events.tables(events)
            targets += bench_events.targets(events)
            errors += events.errors
        if "push" not in args.skip:
            push = push_section.run(smoke=args.smoke, workroot=workroot)
            report += push.tables
            targets += push.targets
            errors += push.errors

    h.finish_machine_table(report[0])
    summary = h.targets_table(targets)
    if args.smoke:
        summary.notes.append("smoke run: these figures only prove the scripts work; they say nothing of the targets")
    report.append(summary)
    return h.publish(report, args.markdown_out, errors)


if __name__ == "__main__":
    sys.exit(main())
