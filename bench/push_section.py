"""The push part of `run_all.py`: runs `bench/push_bench.py --json` and grades its figures.

`push_bench.py` (owned by the push engine) starts its own rate-limited emulator
process, pushes new users with `gainsight_px.push.push_csv` and measures what
the server saw. It runs here as a subprocess, as a user would run it, and its
JSON line becomes a table and two targets.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import _harness as h

PUSH_ROWS = 4_000
SMOKE_ROWS = 500
RATE_LIMIT = 200.0  # PX's published limit (settings.PUBLISHED_RATE_LIMIT)
# The performance targets (bench/README.md, Targets).
SHARE_OF_LIMIT = 0.95
MAX_429 = 0
MAX_CPU_CORES = 0.3


@dataclass
class PushSection:
    tables: list[h.Table] = field(default_factory=list)
    targets: list[h.Target] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def run(*, smoke: bool, workroot: Path, rows: int | None = None, limit: float = RATE_LIMIT) -> PushSection:
    rows = rows or (SMOKE_ROWS if smoke else PUSH_ROWS)
    workdir = workroot / "push"
    workdir.mkdir(parents=True, exist_ok=True)
    h.progress(f"push: {rows:,} user rows against an emulator limited to {limit:,.0f} req/s")
    cmd = [sys.executable, str(h.BENCH_DIR / "push_bench.py"), "--rows", str(rows), "--limit", str(limit), "--json"]
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=h.CHILD_TIMEOUT_S)
    section = PushSection()
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        section.errors.append(f"push_bench.py exited with {proc.returncode}: {proc.stderr[-3000:]}")
        return section
    r = json.loads(lines[-1])
    if r["delivered"] != rows:
        section.errors.append(f"push delivered {r['delivered']:,} of {rows:,} rows")

    table = h.Table(f"Push of {rows:,} user rows, emulator limited to {limit:,.0f} req/s",
                    ["rows", "delivered", "requests", "req/s", "of limit", "429s", "429 share", "wall s", "CPU cores"])
    table.add(h.fmt_int(rows), h.fmt_int(r["delivered"]), h.fmt_int(r["requests"]),
              f"{r['requests_per_s']:,.1f}", f"{r['fraction_of_limit']:.1%}", h.fmt_int(r["status_429"]),
              f"{r['share_429']:.2%}", h.fmt_s(r["wall_s"]), f"{r['cpu_cores']:.2f}")
    table.notes.append(f"client --rate {r['client_rate']:,.0f}, --concurrency {r['concurrency']}; "
                       "req/s and 429s as the emulator saw them, first to last request; "
                       "CPU cores: the push process's user + system seconds / wall seconds")
    section.tables.append(table)
    section.targets += [
        h.Target("push share of limit", r["fraction_of_limit"] * 100, SHARE_OF_LIMIT * 100, ">=", "%"),
        h.Target("push 429s", r["status_429"], MAX_429, "<=", ""),
        h.Target("push CPU", r["cpu_cores"], MAX_CPU_CORES, "<=", " cores"),
    ]
    return section
