"""`gainsight-px demo`: the main job end to end, with zero configuration.

1. Start the bundled emulator in-process with a synthetic tenant.
2. Load everything into a DuckDB file (a full load; the demo's own pipeline
   state is reset first, so every run starts the same way).
3. Simulate activity on a few users, then run an incremental load and show,
   from the emulator's request log, that only the changed rows were fetched.
4. Print a summary and queries to try next.

The demo uses its own pipeline name (`gainsight_px_demo`) and refuses to touch
a DuckDB file that holds a dataset loaded by another pipeline (a real load).
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dlt

from gainsight_px import settings
from gainsight_px.errors import ConfigError
from gainsight_px.load import LoadSummary, run_load
from gainsight_px.timestamps import ms_to_datetime

DEMO_PIPELINE = "gainsight_px_demo"
# Its own file (and pipeline): a real `gainsight-px load` afterwards starts clean in gainsight.duckdb.
DEMO_DUCKDB_FILE = "gainsight_demo.duckdb"
DEFAULT_USERS = 20_000
ACTIVE_SHARE = 0.01  # users who "visit" between the two loads

EXAMPLE_QUERIES = (
    ("Users per plan, and how many were seen in the last 30 days",
     "SELECT custom_attributes__plan AS plan, count(*) AS users, "
     "count(*) FILTER (WHERE last_seen_date > now() - INTERVAL 30 DAY) AS active_30d "
     "FROM gainsight_px.users GROUP BY ALL ORDER BY users DESC"),
    # From the view: its visits sum the users' numberOfVisits, which both dialects have
    # (the published API's accounts carry no numberOfVisits).
    ("Accounts with the most visits",
     "SELECT name, plan, users, visits, last_seen_date "
     "FROM gainsight_px_marts.account_health ORDER BY visits DESC LIMIT 10"),
)


@dataclass
class DemoResult:
    db_path: str
    users: int
    accounts: int
    full: LoadSummary
    incremental: LoadSummary
    active_ids: list[str]
    full_requests: dict[str, int]
    incremental_requests: dict[str, int]


def _foreign_pipelines(db_path: str, dataset: str) -> list[str]:
    """Pipelines other than the demo's that loaded `dataset` into `db_path`."""
    if not os.path.exists(db_path):
        return []
    import duckdb

    try:
        con = duckdb.connect(db_path, read_only=True)
    except duckdb.Error as exc:
        raise ConfigError(f"cannot open {db_path}: {exc}") from None
    try:
        rows = con.execute(
            "SELECT DISTINCT pipeline_name FROM information_schema.tables t "
            f"JOIN {dataset}._dlt_pipeline_state s ON true "
            "WHERE t.table_schema = ? AND t.table_name = '_dlt_pipeline_state'",
            [dataset],
        ).fetchall()
    except duckdb.Error:
        return []  # no dlt dataset there
    finally:
        con.close()
    return sorted({r[0] for r in rows} - {DEMO_PIPELINE})


def _request_counts(counts: dict[str, int]) -> dict[str, int]:
    """`{"GET /v1/users": 3}` -> `{"users": 3}` for the list paths."""
    out: dict[str, int] = {}
    for route, n in counts.items():
        method, _, path = route.partition(" ")
        if method == "GET" and "{" not in path:
            out[path.rsplit("/", 1)[-1]] = n
    return out


def run_demo(users: int = DEFAULT_USERS, accounts: int | None = None, db_path: str | None = None,
             say: Callable[[str], Any] = print, progress: str = "none", dialect: str = "contract") -> DemoResult:
    """Run the demo; `say` receives each line of commentary. `dialect`: the emulator's API."""
    from gainsight_px.emulator import Emulator, TenantSpec
    from gainsight_px.endpoints import DIALECTS

    api = DIALECTS[dialect]

    if users < 1:
        raise ConfigError(f"--users: must be at least 1, got {users}")
    accounts = accounts if accounts is not None else max(1, users // 10)
    db_path = os.path.abspath(db_path or DEMO_DUCKDB_FILE)
    dataset = settings.DEFAULT_DATASET
    foreign = _foreign_pipelines(db_path, dataset)
    if foreign:
        raise ConfigError(
            f"{db_path} already holds dataset {dataset} loaded by pipeline(s) {', '.join(foreign)}; "
            f"the demo will not overwrite it. Pass --db {DEMO_DUCKDB_FILE} (or another new path)."
        )
    destination = dlt.destinations.duckdb(db_path)
    say(f"Starting a Gainsight PX emulator with {users:,} users and {accounts:,} accounts...")
    tenant = TenantSpec(users=users, accounts=accounts, seed=42)
    with Emulator(tenant=tenant, api_key=settings.EMULATOR_API_KEY, dialect=api) as emu:
        control = emu.control
        common: dict[str, Any] = dict(
            api_key=settings.EMULATOR_API_KEY, base_url=emu.base_url, destination=destination,
            pipeline_name=DEMO_PIPELINE, dataset_name=dataset, progress=progress, dialect=api,
        )
        if emu.events is not None:  # the published dialect: load the whole event history
            common["event_initial"] = ms_to_datetime(emu.events.start_ms)
        say(f"Emulator at {emu.base_url}. Full load into {db_path} ...")
        control.reset_log()
        # A reconcile run: resets this pipeline's cursors, so a rerun of the demo starts fresh.
        full = run_load(full_refresh=True, **common)
        full_requests = _request_counts(control.request_counts())
        say(f"  loaded {full.total_rows:,} rows in {full.seconds:.1f}s "
            f"({full.rows.get('users', 0):,} users, {full.rows.get('accounts', 0):,} accounts) "
            f"with {sum(full_requests.values())} API requests.")

        active = max(1, round(users * ACTIVE_SHARE))
        active_ids = control.simulate_activity(count=active)
        say(f"Simulating activity: {len(active_ids):,} users visit the product "
            f"(their lastSeenDate moves, and their accounts' too).")
        control.reset_log()
        incremental = run_load(resources=["users", "accounts"], **common)
        incremental_requests = _request_counts(control.request_counts())
        fetched = incremental.rows.get('users', 0)
        say(f"Incremental load: {fetched:,} users ({len(active_ids):,} active, "
            f"{max(0, fetched - len(active_ids)):,} re-read from the lookback window behind the cursor) and "
            f"{incremental.rows.get('accounts', 0):,} accounts fetched and merged, "
            f"with {incremental_requests.get('users', 0)} request(s) to /users and "
            f"{incremental_requests.get('accounts', 0)} to /accounts "
            f"(the full load needed {full_requests.get('users', 0)} to /users), "
            f"in {incremental.seconds:.1f}s.")
    return DemoResult(db_path, users, accounts, full, incremental, active_ids,
                      full_requests, incremental_requests)


def _tool(name: str) -> str:
    """How to call `name` from this venv: `.venv/bin/name` from the project folder, else its full path."""
    path = os.path.join(os.path.dirname(sys.executable), name)
    if not os.path.exists(path):
        return name
    relative = os.path.relpath(path)
    return shlex.quote(relative if not relative.startswith("..") else path)


def next_steps(db_path: str) -> list[str]:
    """Copy-paste commands for an analyst, then exactly what to run for a real tenant."""
    shown = os.path.relpath(db_path) if os.path.dirname(db_path) == os.getcwd() else db_path
    python = _tool("python")
    lines = ["", "Try it yourself:"]
    for title, sql in EXAMPLE_QUERIES:
        code = f"import duckdb; duckdb.connect('{shown}', read_only=True).sql('{sql}').show()"
        if "'" in shown or '"' in shown:
            command = f"{python} -c {shlex.quote(code.replace(repr(shown), repr(shown)))}"
        else:
            command = f'{python} -c "{code}"'
        lines += [f"  # {title}", f"  {command}"]
    lines += [f"  # or in the duckdb CLI (if installed): duckdb {shlex.quote(shown)}",
              "  #   SELECT * FROM gainsight_px.users LIMIT 5;",
              "",
              f"Next, load your own tenant into {settings.DEFAULT_DUCKDB_FILE} (the demo's file stays apart):",
              f"  export {settings.API_KEY_ENV}='<your PX API key>'",
              f"  export {settings.BASE_URL_ENV}={settings.DEFAULT_BASE_URL}   "
              "# or your region's host (api-eu..., api-us2...)",
              f"  {_tool('gainsight-px')} load"]
    return lines
