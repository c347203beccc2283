"""Views and the demo's example queries on both API dialects: the published API's records lack
fields the contract has (accounts carry no numberOfVisits, features no counts, engagements no
creation date), and nothing an analyst is shown may depend on them."""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from gainsight_px import marts
from gainsight_px.demo import EXAMPLE_QUERIES, next_steps
from gainsight_px.emulator import Emulator, TenantSpec
from gainsight_px.emulator.events import EventSpec
from gainsight_px.endpoints import DIALECTS
from gainsight_px.load import LoadSummary, run_load
from gainsight_px.settings import EMULATOR_API_KEY
from warehouses import Warehouse

TENANT = TenantSpec(users=120, accounts=12, features=15, engagements=10, seed=11)
EVENTS = EventSpec(per_day=40, days=7)


@dataclass
class Loaded:
    emulator: Emulator
    warehouse: Warehouse
    summary: LoadSummary
    logged: list[str]  # warnings the load logged (gainsight_px loggers)


class _Warnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("gainsight_px"):
            self.messages.append(record.getMessage())


def _full_load(dialect: str, warehouse: Warehouse, workdir: Path) -> Iterator[Loaded]:
    """What the demo's first load does: everything, every event since the emulator's history starts."""
    extra = {"events": EVENTS} if dialect == "published" else {}
    with Emulator(tenant=TENANT, dialect=DIALECTS[dialect], **extra) as emu, pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith(("SOURCES__", "DESTINATION__")):
                mp.delenv(name)
        events = {}
        if emu.events is not None:
            events["event_initial"] = datetime.fromtimestamp(emu.events.start_ms / 1000, UTC)
        handler = _Warnings()
        logging.getLogger().addHandler(handler)
        try:
            summary = run_load(api_key=EMULATOR_API_KEY, base_url=emu.base_url,
                               destination=warehouse.destination(), pipelines_dir=str(workdir / "pipelines"),
                               progress="none", full_refresh=True, **events)
        finally:
            logging.getLogger().removeHandler(handler)
        yield Loaded(emu, warehouse, summary, handler.messages)


@pytest.fixture(scope="module")
def published_duckdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    workdir = tmp_path_factory.mktemp("published_duckdb")
    yield from _full_load("published", Warehouse("duckdb", str(workdir / "gainsight_demo.duckdb")), workdir)


@pytest.fixture(scope="module")
def published_postgres(tmp_path_factory: pytest.TempPathFactory, postgres_server: Any) -> Iterator[Loaded]:
    warehouse = Warehouse("postgres", postgres_server.url(postgres_server.create_database()))
    yield from _full_load("published", warehouse, tmp_path_factory.mktemp("published_postgres"))


@pytest.fixture(scope="module")
def contract_duckdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    workdir = tmp_path_factory.mktemp("contract_duckdb")
    yield from _full_load("contract", Warehouse("duckdb", str(workdir / "gainsight_demo.duckdb")), workdir)


def visits_per_account(emu: Emulator) -> dict[str, int]:
    """The emulator's truth: each account's users' numberOfVisits, summed (0 without users)."""
    visits = dict.fromkeys((a["id"] for a in emu.control.records("accounts")), 0)
    for user in emu.control.records("users"):
        if user.get("accountId") in visits:
            visits[user["accountId"]] += user["numberOfVisits"]
    return visits


@pytest.mark.parametrize("loaded", ["published_duckdb", "published_postgres"])
def test_a_published_load_refreshes_every_view_without_a_warning(loaded, request):
    loaded = request.getfixturevalue(loaded)
    summary, warehouse = loaded.summary, loaded.warehouse

    every_view = {v.name for v in marts.load_views()}
    assert summary.warnings == [] and not any(line.startswith("warning:") for line in summary.lines())
    assert loaded.logged == []
    assert set(summary.views) == every_view
    assert warehouse.views() == every_view
    # account_health's visits: the account's loaded users' numberOfVisits (published accounts have none).
    got = {r["account_id"]: r["visits"]
           for r in warehouse.query("SELECT account_id, visits FROM gainsight_px_marts.account_health")}
    assert got == visits_per_account(loaded.emulator) and sum(got.values()) > 0


@pytest.mark.parametrize("loaded", ["contract_duckdb", "published_duckdb"])
def test_the_demos_example_queries_run_on_both_dialects(loaded, request, monkeypatch):
    loaded = request.getfixturevalue(loaded)
    assert loaded.summary.warnings == []
    db = Path(loaded.warehouse.target)

    with duckdb.connect(str(db), read_only=True) as con:
        results = {title: con.sql(sql).fetchall() for title, sql in EXAMPLE_QUERIES}
    assert all(results.values()), results
    # The busiest account, by its users' visits, comes first.
    visits = visits_per_account(loaded.emulator)
    names = {a["id"]: a["name"] for a in loaded.emulator.control.records("accounts")}
    assert results["Accounts with the most visits"][0][0] == names[max(visits, key=visits.__getitem__)]

    # The commands the demo prints, pasted into a shell in the folder the demo ran in: each shows its table.
    monkeypatch.chdir(db.parent)
    lines = [line.strip() for line in next_steps(str(db))]
    for title, rows in results.items():
        command = lines[lines.index(f"# {title}") + 1]
        done = subprocess.run(["bash", "-c", command], cwd=db.parent, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0 and done.stderr == "", (command, done.stderr)
        assert str(rows[0][0]) in done.stdout, done.stdout
