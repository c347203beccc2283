"""Event streams: a backfill against the fetch-and-parse floor, its memory, and an incremental run.

    python bench/bench_events.py                    # 10M session events over 90 days
    python bench/bench_events.py --events 1000000

One emulator process serves the published dialect with an event history of
one stream. Each contender runs in its own process:

- floor: every page of every window (the same 30-day windows ours reads),
  `sort=date`, 1000 per page, over one keep-alive session, parsed with orjson;
- ours: `gainsight_px_source(...).with_resources(stream)` into DuckDB
  (the CLI's settings), from the start of the history.

Then a day of new events is added (through the emulator's HTTP control
interface) and ours runs again on the same pipeline state: the cost of that
incremental run (requests, seconds) is reported as a share of the backfill.
The destination is checked afterwards: every event once.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _harness as h
from gainsight_px import settings, timestamps

DEFAULT_EVENTS = 10_000_000
DAYS = 90
STREAM = "session_events"
USERS = 5_000
PIPELINE_NAME = "bench_events"
# The targets: rows/s at least 0.8x the floor's, peak RSS at most 400 MB at 10M events.
FLOOR_RATIO = 0.8
RSS_LIMIT_MB = 400.0


@dataclass
class EventsResult:
    events: int
    added: int
    floor: dict[str, Any]
    backfill: dict[str, Any]
    incremental: dict[str, Any]
    errors: list[str]

    @property
    def ratio(self) -> float | None:
        return h.ratio(self.backfill["rows"] / self.backfill["seconds"], self.floor["rows"] / self.floor["seconds"])


# --------------------------------------------------------------------------- children


def _endpoint(stream: str) -> Any:
    from gainsight_px.endpoints import PUBLISHED

    return PUBLISHED[stream]


def floor(args: argparse.Namespace) -> dict[str, Any]:
    """Fetch and parse every page of every window, keep nothing."""
    import orjson
    import requests
    from gainsight_px.endpoints import PUBLISHED
    from gainsight_px.windows import plan

    ep = _endpoint(args.stream)
    d = PUBLISHED
    size = d.page_limit(ep)
    session = requests.Session()
    session.headers[d.api_key_header] = os.environ[settings.API_KEY_ENV]
    url = os.environ[settings.BASE_URL_ENV] + ep.path
    rows = pages = 0
    started = time.perf_counter()
    windows = plan(cursor_ms=None, lookback_ms=0, initial_ms=args.start_ms, now_ms=timestamps.now_ms())
    for window in windows:
        params: list[tuple[str, Any]] = [
            (d.page_size_param, size), (d.sort_param, d.sort("date")),
            *d.filters((d.term("date", ">=", window.start), d.term("date", "<=", window.end)))]
        while True:
            response = session.get(url, params=params, timeout=120)
            response.raise_for_status()
            page = orjson.loads(response.content)
            records = page[ep.response_key]
            rows += len(records)
            pages += 1
            if len(records) < size:
                break
            params = [(d.page_size_param, size), (d.scroll_param, page[d.scroll_param])]
    return {"rows": rows, "distinct_keys": rows, "seconds": time.perf_counter() - started, "pages": pages}


def ours(args: argparse.Namespace) -> dict[str, Any]:
    import dlt
    from gainsight_px.load import duckdb_destination
    from gainsight_px.source import gainsight_px_source

    ep = _endpoint(args.stream)
    started = time.perf_counter()
    pipeline = dlt.pipeline(pipeline_name=args.pipeline_name, pipelines_dir=str(args.workdir / "pipelines"),
                            destination=duckdb_destination(str(args.workdir / f"{args.pipeline_name}.duckdb")),
                            dataset_name=settings.DEFAULT_DATASET)
    source = gainsight_px_source(base_url=os.environ[settings.BASE_URL_ENV], api_key=os.environ[settings.API_KEY_ENV],
                                 dialect="published",
                                 event_initial=timestamps.ms_to_datetime(args.start_ms))
    pipeline.run(source.with_resources(ep.name))
    seconds = time.perf_counter() - started
    with pipeline.sql_client() as client:
        rows, distinct = client.execute_sql(
            f"SELECT count(*), count(DISTINCT event_id) FROM {client.make_qualified_table_name(ep.name)}")[0]
    extracted, steps = None, {}
    trace = pipeline.last_trace
    if trace is not None:
        for step in trace.steps:
            if step.finished_at and step.started_at:
                steps[step.step] = round((step.finished_at - step.started_at).total_seconds(), 2)
        if trace.last_normalize_info is not None:
            extracted = trace.last_normalize_info.row_counts.get(ep.name, 0)
    return {"rows": int(rows), "distinct_keys": int(distinct), "seconds": seconds, "extracted": extracted,
            "steps": steps}


CHILDREN = {"floor": floor, "ours": ours}


# --------------------------------------------------------------------------- orchestration


def _requests(control: Any, stream: str) -> int:
    return h.list_requests(control, _endpoint(stream))


def run(events: int, *, workroot: Path, days: int = DAYS, stream: str = STREAM) -> EventsResult:
    workdir = workroot / "events"
    errors: list[str] = []
    h.progress(f"starting the emulator with {events:,} {stream} over {days} days")
    with h.emulator_process(USERS, events=(stream, events, days)) as emulator:
        control = h.remote_control(emulator)
        stats = control.event_history_stats()
        total = stats["generated"][stream]
        base = ["--workdir", str(workdir), "--stream", stream, "--start-ms", str(stats["start_ms"])]

        h.progress("floor: fetch and parse every window")
        control.reset_log()
        floor_run = h.run_child("bench_events.py", ["floor", *base], workdir=workdir, handle=emulator)
        floor_run["requests"] = _requests(control, stream)

        h.progress("ours: backfill")
        control.reset_log()
        ours_args = ["ours", *base, "--pipeline-name", PIPELINE_NAME]
        backfill = h.run_child("bench_events.py", ours_args, workdir=workdir, handle=emulator)
        backfill["requests"] = _requests(control, stream)
        if backfill["rows"] != total or backfill["distinct_keys"] != total:
            errors.append(f"backfill put {backfill['rows']:,} rows ({backfill['distinct_keys']:,} distinct) "
                          f"in the destination; expected {total:,}")

        # A day of new events, spread over the time since the history ended (all before the next run).
        per_day = max(1, round(total / days))
        now_ms = timestamps.now_ms()
        end_ms = stats["end_ms"]
        batches = 24
        added = 0
        for i in range(batches):
            count = per_day // batches + (1 if i < per_day % batches else 0)
            at = end_ms + 1 + (now_ms - end_ms - 1) * i // batches
            added += len(control.add_events(stream, count=count, date=at))
        h.progress(f"ours: incremental run after {added:,} new events")
        control.reset_log()
        incremental = h.run_child("bench_events.py", ours_args, workdir=workdir, handle=emulator)
        incremental["requests"] = _requests(control, stream)
        if incremental["rows"] != total + added or incremental["distinct_keys"] != total + added:
            errors.append(f"after the incremental run the destination has {incremental['rows']:,} rows "
                          f"({incremental['distinct_keys']:,} distinct); expected {total + added:,}")
    return EventsResult(total, added, floor_run, backfill, incremental, errors)


def tables(result: EventsResult) -> list[h.Table]:
    load = h.Table(f"Event backfill, {result.events:,} {STREAM} over {DAYS} days",
                   ["contender", "rows", "seconds", "rows/s", "peak RSS MB", "requests", "load avg"])
    for name, run in (("floor", result.floor), ("ours", result.backfill)):
        load.add(name, h.fmt_int(run["rows"]), h.fmt_s(run["seconds"]), h.fmt_int(run["rows"] / run["seconds"]),
                 f"{run['peak_rss_mb']:,.0f}", h.fmt_int(run["requests"]), h.fmt_load(run))
    steps = result.backfill.get("steps") or {}
    if steps:
        load.notes.append("ours by dlt step (s): " + ", ".join(f"{k} {v:,.1f}" for k, v in steps.items()))
    ratio = result.ratio
    load.notes.append(f"ours / floor rows/s: {ratio:.2f}x" if ratio is not None else "ours / floor: n/a")
    load.notes.append(f"quota: {result.backfill['requests']:,} requests of PX's "
                      f"{settings.DAILY_REQUEST_QUOTA:,} a day ({result.backfill['requests'] / settings.DAILY_REQUEST_QUOTA:.2%})")
    inc = h.Table(f"Incremental event run after one day of new events ({result.added:,})",
                  ["run", "rows fetched", "requests", "seconds", "share of backfill (requests)",
                   "share of backfill (time)"])
    for label, run in (("backfill", result.backfill), ("incremental", result.incremental)):
        fetched = run.get("extracted")
        inc.add(label, "-" if fetched is None else h.fmt_int(fetched), h.fmt_int(run["requests"]),
                h.fmt_s(run["seconds"]), f"{run['requests'] / max(1, result.backfill['requests']):.1%}",
                f"{run['seconds'] / result.backfill['seconds']:.1%}")
    inc.notes.append("rows fetched: the new events plus the lookback's re-read (3 hours by default); "
                     "insert-only merge keeps each event once")
    return [load, inc]


def targets(result: EventsResult) -> list[h.Target]:
    ratio = result.ratio
    return [
        h.Target("events rows/s vs floor", ratio, FLOOR_RATIO, ">=", "x", f"{result.events:,} events"),
        h.Target("events peak RSS", result.backfill["peak_rss_mb"], RSS_LIMIT_MB, "<=", " MB",
                 f"{result.events:,} events"),
    ]


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv and argv[0] in CHILDREN:  # a contender process
        parser = argparse.ArgumentParser()
        parser.add_argument("child", choices=sorted(CHILDREN))
        parser.add_argument("--workdir", type=Path, required=True)
        parser.add_argument("--stream", default=STREAM)
        parser.add_argument("--start-ms", type=int, required=True)
        parser.add_argument("--pipeline-name", default=PIPELINE_NAME)
        args = parser.parse_args(argv)
        result = CHILDREN[args.child](args)
        result["contender"] = args.child
        h.emit(result)
        return 0
    parser = argparse.ArgumentParser(description="Event bench: backfill vs floor, memory, incremental run.")
    parser.add_argument("--events", type=int, default=DEFAULT_EVENTS, help=f"events (default {DEFAULT_EVENTS:,})")
    parser.add_argument("--markdown-out", type=Path, help="also write the tables as markdown to this file")
    args = parser.parse_args(argv)
    machine = h.machine_table()
    with tempfile.TemporaryDirectory(prefix="px-bench-") as tmp:
        result = run(args.events, workroot=Path(tmp))
    h.finish_machine_table(machine)
    report = [machine, *tables(result), h.targets_table(targets(result), "Targets (events)")]
    return h.publish(report, args.markdown_out, result.errors)


if __name__ == "__main__":
    sys.exit(main())
