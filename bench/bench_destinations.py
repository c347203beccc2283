"""Load speed by destination: DuckDB, PostgreSQL, delta on the filesystem, plain parquet.

    .venv/bin/python bench/bench_destinations.py [--users 200000] [--destinations duckdb postgres delta parquet]

The emulator serves `--users` users from its own process; each destination gets a
full load of `/users` with the project's own `run_load`, then 1% of the users
become active and an incremental load merges them. PostgreSQL is a throwaway
local server (Debian's postgresql-15, started like the tests do) unless
`--postgres URL` names one. Figures are wall seconds of `run_load` (fetch,
normalise and load; the fetch is the same for all), printed, never asserted.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import dlt
from _harness import (
    API_KEY,
    Table,
    emulator_process,
    fmt_int,
    fmt_s,
    loadavg,
    machine_table,
    progress,
    publish,
    remote_control,
)
from gainsight_px.load import duckdb_destination, run_load

REPO = Path(__file__).resolve().parents[1]
DESTINATIONS = ("duckdb", "postgres", "delta", "parquet")


def _destination(kind: str, workdir: Path, postgres_url: str | None) -> tuple[Any, dict[str, Any]]:
    if kind == "duckdb":
        return duckdb_destination(str(workdir / "bench.duckdb")), {}
    if kind == "postgres":
        return dlt.destinations.postgres(postgres_url), {}
    bucket = (workdir / f"lake_{kind}").as_uri()
    return dlt.destinations.filesystem(bucket_url=bucket), ({"table_format": "delta"} if kind == "delta" else {})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--destinations", nargs="+", choices=DESTINATIONS, default=list(DESTINATIONS))
    parser.add_argument("--postgres", metavar="URL", help="an existing PostgreSQL database to load into")
    parser.add_argument("--markdown-out", type=Path)
    args = parser.parse_args(argv)

    server = None
    postgres_url = args.postgres
    if "postgres" in args.destinations and not postgres_url:
        sys.path.insert(0, str(REPO / "tests"))
        from postgres_server import start_server

        server = start_server()
        postgres_url = server.url(server.create_database("bench"))
    table = Table(f"Load of /users by destination ({args.users:,} users; incremental after 1% activity)",
                  ["destination", "full s", "rows/s", "incremental s", "incr rows", "load avg"])
    errors: list[str] = []
    try:
        for kind in args.destinations:
            # A fresh tenant each: the activity of one destination's run is not the next one's.
            with emulator_process(args.users) as handle, tempfile.TemporaryDirectory() as tmp:
                control = remote_control(handle)
                workdir = Path(tmp) / kind
                destination, extra = _destination(kind, workdir, postgres_url)
                common = dict(api_key=API_KEY, base_url=handle.base_url, resources="users", destination=destination,
                              pipeline_name=f"bench_{kind}", pipelines_dir=str(workdir / "pipelines"),
                              progress="none", **extra)
                at = loadavg()
                progress(f"{kind}: full load")
                started = time.perf_counter()
                full = run_load(**common)
                full_s = time.perf_counter() - started
                control.simulate_activity(count=max(1, args.users // 100))
                progress(f"{kind}: incremental load")
                started = time.perf_counter()
                incremental = run_load(**common)
                incr_s = time.perf_counter() - started
                if full.rows.get("users") != args.users:
                    errors.append(f"{kind}: loaded {full.rows.get('users')} users, expected {args.users}")
                table.add(kind, fmt_s(full_s), fmt_int(args.users / full_s), fmt_s(incr_s),
                              fmt_int(incremental.rows.get("users", 0)), at)
    finally:
        if server is not None:
            server.stop()
    table.notes.append("rows/s = users / wall seconds of the full run_load (fetch included)")
    return publish([machine_table(), table], args.markdown_out, errors)


if __name__ == "__main__":
    sys.exit(main())
