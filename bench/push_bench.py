"""Push throughput: send N user rows to an emulator rate-limited at L requests/s.

    python bench/push_bench.py                      # 4,000 rows, the published limit of 200/s
    python bench/push_bench.py --rows 500 --json    # smoke size, JSON line at the end
    python bench/push_bench.py --limit 1000 --rate 950

Starts the emulator in a separate process (so its CPU is not charged to the
push, though both share the machine), writes a CSV of new users, pushes it with
`gainsight_px.push.push_csv` (the same code as `gainsight-px push users`), and
prints what the server saw: requests/s from the first to the last request, as a
fraction of the limit, the 429s, and the push process's CPU (user + system
seconds over wall seconds, all its threads). The target: >= 95% of the limit
with no 429 at <= 0.3 core.

The client's rate defaults to `gainsight-px push`'s own default
(settings.DEFAULT_PUSH_RATE, 190/s) when that is under the limit, else to 95%
of the limit: the emulator's bucket and ours do not share a clock, so aiming
exactly at the limit trades a few percent of throughput for 429s.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _harness as h
from gainsight_px import settings

TARGET_FRACTION = 0.95
# The push creates new users; the tenant it starts from only needs to exist.
PUSH_TENANT_USERS = 100
TARGET_429_SHARE = 0.0
TARGET_CPU_CORES = 0.3
DEFAULT_ROWS = 4_000


def write_users_csv(path: Path, rows: int) -> None:
    """New users with typed fields and custom attributes, like a real bulk update."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["identifyId", "email", "firstName", "lastName", "signUpDate",
                         "customAttributes.plan", "customAttributes.seats", "customAttributes.beta"])
        plans = ("Free", "Starter", "Pro", "Enterprise")
        for i in range(rows):
            writer.writerow([f"bench-{i:07d}", f"user{i}@bench.example.com", "Bench", f"User {i}",
                             1_700_000_000_000 + i * 1000, plans[i % 4], i % 250, "true" if i % 3 else "false"])


def measure(base_url: str, control_url: str, *, rows: int, limit: float, rate: float | None = None,
            concurrency: int | None = None, workdir: Path) -> dict[str, Any]:
    """Push `rows` new users and return the figures (the emulator must be fresh)."""
    from gainsight_px.emulator.control import RemoteControl
    from gainsight_px.push import push_csv

    control = RemoteControl(control_url)
    csv_path = workdir / "users.csv"
    write_users_csv(csv_path, rows)
    rate = rate or (settings.DEFAULT_PUSH_RATE if limit > settings.DEFAULT_PUSH_RATE else 0.95 * limit)
    concurrency = concurrency or settings.DEFAULT_PUSH_CONCURRENCY
    before = control.stats()["records"]["users"]
    control.reset_log()
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    summary = push_csv(csv_path, "users", base_url=base_url, api_key=settings.EMULATOR_API_KEY,
                       rate=rate, concurrency=concurrency, ledger=workdir / "ledger.sqlite",
                       progress=False, handle_sigint=False, dialect="contract")  # no detection GET
    wall = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu_s = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    seen = control.requests()
    stats = control.stats()
    stamps = sorted(r["ts"] for r in seen)
    span = stamps[-1] - stamps[0] if len(stamps) > 1 else 0.0
    server_rate = (len(stamps) - 1) / span if span > 0 else 0.0
    count_429 = sum(1 for r in seen if r["status"] == 429)
    result = {
        "rows": rows, "limit": limit, "client_rate": rate, "concurrency": concurrency,
        "delivered": summary.delivered, "rejected": summary.rejected,
        "users_created": stats["records"]["users"] - before,
        "requests": len(seen), "status_429": count_429,
        "share_429": count_429 / len(seen) if seen else 0.0,
        "wall_s": round(wall, 2), "requests_per_s": round(server_rate, 1),
        "fraction_of_limit": round(server_rate / limit, 3),
        "client_429s": summary.throttled, "client_retried": summary.retried,
        "cpu_s": round(cpu_s, 2), "cpu_cores": round(cpu_s / wall, 3) if wall > 0 else 0.0,
    }
    result["target_met"] = (result["fraction_of_limit"] >= TARGET_FRACTION
                            and result["share_429"] <= TARGET_429_SHARE
                            and result["cpu_cores"] <= TARGET_CPU_CORES
                            and result["delivered"] == rows)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help=f"user rows to push (default {DEFAULT_ROWS:,})")
    parser.add_argument("--limit", type=float, default=settings.PUBLISHED_RATE_LIMIT,
                        help=f"emulator rate limit, requests/s (default {settings.PUBLISHED_RATE_LIMIT:g}, PX's)")
    parser.add_argument("--rate", type=float, default=None,
                        help="client --rate (default: the push default if under --limit, else 95%% of it)")
    parser.add_argument("--concurrency", type=int, default=None, help="client --concurrency (default 16)")
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON line")
    args = parser.parse_args(argv)

    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    with tempfile.TemporaryDirectory(prefix="push-bench-") as tmp, h.emulator_process(PUSH_TENANT_USERS, seed=7, rate_limit=args.limit) as emu:
        r = measure(emu.base_url, emu.control_url, rows=args.rows, limit=args.limit, rate=args.rate,
                    concurrency=args.concurrency, workdir=Path(tmp))
    verdict = "PASS" if r["target_met"] else "MISS"
    print(f"push bench on {platform.node()} ({os.cpu_count()} CPUs, Python {platform.python_version()})")
    print(f"  rows pushed            {r['rows']:>10,}   (delivered {r['delivered']:,}, "
          f"users created {r['users_created']:,})")
    print(f"  emulator rate limit    {r['limit']:>10,.0f} req/s   (client --rate {r['client_rate']:,.0f}, "
          f"--concurrency {r['concurrency']})")
    print(f"  requests seen          {r['requests']:>10,}")
    print(f"  achieved               {r['requests_per_s']:>10,.1f} req/s   = {r['fraction_of_limit']:.1%} "
          f"of the limit (target >= {TARGET_FRACTION:.0%})")
    print(f"  429 answers            {r['status_429']:>10,}   = {r['share_429']:.2%} of requests "
          f"(target: none)")
    print(f"  wall time              {r['wall_s']:>10,.1f} s   (read + validate + send)")
    print(f"  push CPU               {r['cpu_cores']:>10.2f} cores (target <= {TARGET_CPU_CORES:g})")
    print(f"  verdict                {verdict:>10}")
    if args.json:
        print(json.dumps(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
