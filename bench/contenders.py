"""The contenders, one per process: `python bench/contenders.py {floor,peer,ours} ...`.

Each reads the base URL and API key from the environment (the key never goes on
a command line), does its work against the emulator, and prints one JSON line:
rows (counted in the destination, not trusted from the loader), wall seconds
of the work alone (interpreter start and imports excluded, the same for all),
its own peak RSS, and dlt's per-step timings where there are any.

- floor: every page of /users over one keep-alive session, parsed with orjson.
- peer:  dlt's generic `rest_api_source`, declared for the same endpoint.
- ours:  `gainsight_px_source(...).with_resources("users")`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import _harness  # bench/ is on sys.path when this file runs as a script
import orjson
import requests
from gainsight_px import settings
from gainsight_px.dialects import DIALECTS
from gainsight_px.endpoints import Dialect


def _dialect(args: argparse.Namespace) -> Dialect:
    return DIALECTS[args.dialect]


def _base_url() -> str:
    return os.environ[settings.BASE_URL_ENV]


def _api_key() -> str:
    return os.environ[settings.API_KEY_ENV]


def floor(args: argparse.Namespace) -> dict[str, Any]:
    """Fetch and parse every page, keep nothing: what HTTP + JSON alone cost here."""
    dialect = _dialect(args)
    users, page_size = dialect["users"], dialect.max_page_size
    session = requests.Session()
    session.headers[dialect.api_key_header] = _api_key()
    url = _base_url() + users.path
    params: dict[str, Any] = {dialect.page_size_param: page_size}
    rows = pages = 0
    started = time.perf_counter()
    while True:
        response = session.get(url, params=params, timeout=60)
        response.raise_for_status()
        page = orjson.loads(response.content)
        results = page[users.response_key]
        rows += len(results)
        pages += 1
        if len(results) < page_size:  # docs/api-behaviour.md: a short page ends the scan
            break
        params = {dialect.page_size_param: page_size, dialect.scroll_param: page[dialect.scroll_param]}
    seconds = time.perf_counter() - started
    return {"rows": rows, "distinct_keys": rows, "seconds": seconds, "pages": pages}


def peer_config(base_url: str, api_key: str, dialect: Dialect = DIALECTS["contract"]) -> dict[str, Any]:
    """dlt's generic REST source, declared for /users as a dlt user would write it.

    PX always returns a `scrollId`, even on the last page, so the cursor
    paginator alone would never stop. `stop_after_empty_page` is dlt's own,
    declarative stop condition: it costs one extra request (the empty page
    after the short one, which docs/api-behaviour.md says the API answers) and no code.
    """
    users = dialect["users"]
    return {
        "client": {
            "base_url": base_url,
            "auth": {"type": "api_key", "name": dialect.api_key_header, "api_key": api_key,
                     "location": "header"},
            "paginator": {"type": "cursor", "cursor_path": dialect.scroll_param,
                          "cursor_param": dialect.scroll_param,
                          "stop_after_empty_page": True},
        },
        "resource_defaults": {"primary_key": users.primary_key, "write_disposition": "merge"},
        "resources": [{
            "name": users.name,
            "endpoint": {
                "path": users.path.lstrip("/"),
                "params": {dialect.page_size_param: dialect.max_page_size},
                "data_selector": users.response_key,
            },
        }],
    }


def _pipeline(name: str, workdir: Path, dataset: str, *, tuned: bool = False) -> Any:
    """A fresh pipeline into its own DuckDB file.

    `tuned` gives the DuckDB settings `gainsight-px load` uses (a memory cap), so
    that "ours" measures what users of the CLI get; the peer gets dlt's defaults.
    """
    import dlt
    from gainsight_px.load import duckdb_destination, transactional

    path = str(workdir / f"{name}.duckdb")
    return dlt.pipeline(
        pipeline_name=name,
        pipelines_dir=str(workdir / "pipelines"),
        # ours: the CLI's destination, merges in one transaction included
        destination=transactional(duckdb_destination(path)) if tuned else dlt.destinations.duckdb(path),
        dataset_name=dataset,
    )


def _loaded(pipeline: Any, seconds: float, traces: tuple[Any, ...] | None = None,
            users: Any = DIALECTS["contract"]["users"]) -> dict[str, Any]:
    """Rows and distinct keys as the destination has them, and dlt's step timings.

    `traces`: ours runs its steps as `load.run_source` does (extract, then normalize and load;
    one trace alone: it stopped after the extract with nothing to load).
    """
    key = pipeline.default_schema.naming.normalize_identifier(users.primary_key)
    table = pipeline.default_schema.naming.normalize_table_identifier(users.name)
    with pipeline.sql_client() as client:
        rows, distinct = client.execute_sql(
            f"SELECT count(*), count(DISTINCT {key}) FROM {client.make_qualified_table_name(table)}"
        )[0]
    steps: dict[str, float] = {}
    extracted = None
    if traces is None:
        traces = (pipeline.last_trace,)
    elif len(traces) == 1:
        extracted = 0  # stopped after the extract: no package
    seen: set[tuple[str, Any]] = set()  # dlt may continue one trace across the steps: count each once
    for trace in (t for t in traces if t is not None):
        for step in trace.steps:
            if step.finished_at and step.started_at and (step.step, step.started_at) not in seen:
                seen.add((step.step, step.started_at))
                steps[step.step] = round(steps.get(step.step, 0.0)
                                         + (step.finished_at - step.started_at).total_seconds(), 3)
        if trace.last_normalize_info is not None:
            extracted = trace.last_normalize_info.row_counts.get(table, 0)
    return {"rows": int(rows), "distinct_keys": int(distinct), "seconds": seconds, "steps": steps,
            "extracted": extracted}


def peer(args: argparse.Namespace) -> dict[str, Any]:
    from dlt.sources.rest_api import rest_api_source

    started = time.perf_counter()
    pipeline = _pipeline("bench_peer", args.workdir, "peer")
    pipeline.run(rest_api_source(peer_config(_base_url(), _api_key(), _dialect(args))))
    return _loaded(pipeline, time.perf_counter() - started, users=_dialect(args)["users"])


def ours(args: argparse.Namespace) -> dict[str, Any]:
    from gainsight_px.load import run_source, truncate_staging_after_load
    from gainsight_px.source import gainsight_px_source

    started = time.perf_counter()
    truncate_staging_after_load()  # as run_load does
    pipeline = _pipeline(args.pipeline_name, args.workdir, settings.DEFAULT_DATASET, tuned=True)
    users = _dialect(args)["users"]
    source = gainsight_px_source(base_url=_base_url(), api_key=_api_key(),
                                 dialect=args.dialect).with_resources(users.name)
    trace, loaded = run_source(pipeline, source)  # as run_load runs it
    seconds = time.perf_counter() - started
    return _loaded(pipeline, seconds, (trace,) if not loaded else (trace, pipeline.last_trace), users=users)


CONTENDERS = {"floor": floor, "peer": peer, "ours": ours}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("contender", choices=sorted(CONTENDERS))
    parser.add_argument("--workdir", type=Path, default=Path.cwd(),
                        help="where the DuckDB file and pipeline state go (default: cwd)")
    parser.add_argument("--dialect", choices=sorted(DIALECTS), default="contract",
                        help="the API dialect the emulator speaks (default: contract)")
    parser.add_argument("--pipeline-name", default="bench_ours",
                        help="ours only: reuse a name to run incrementally on the same state")
    args = parser.parse_args(argv)
    result = CONTENDERS[args.contender](args)
    result["contender"] = args.contender
    _harness.emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
