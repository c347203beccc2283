"""Loaded warehouses for the marts tests: one load per module and destination, shared by its tests.

`hand_load` and `demo_load` run each test on DuckDB and on PostgreSQL (the
same view files on both); `duckdb_demo_load` is for what only DuckDB has
(files to copy, ATTACH, refresh_views_duckdb).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from gainsight_px.emulator import Emulator, TenantSpec
from marts_helpers import DB_FILE, EMPTY_TENANT, Loaded, add_hand_tenant, load, now_ms, snapshot
from warehouses import Warehouse

# Small but with every shape the generator makes (ids with / + @ and spaces,
# never-seen users, users without an account, mixed custom attributes).
DEMO_LIKE_TENANT = TenantSpec(users=300, accounts=30, features=25, engagements=30, subscriptions=3, seed=7)


def _warehouse(request: pytest.FixtureRequest, kind: str, workdir: Path) -> Warehouse:
    if kind == "duckdb":
        return Warehouse("duckdb", str(workdir / DB_FILE))
    server = request.getfixturevalue("postgres_server")
    return Warehouse("postgres", server.url(server.create_database()))


def _loaded(request: pytest.FixtureRequest, kind: str, workdir: Path, emu: Emulator, now: int) -> Loaded:
    warehouse = _warehouse(request, kind, workdir)
    load(emu, workdir, warehouse=warehouse)
    return snapshot(emu, Path(warehouse.target) if kind == "duckdb" else warehouse, now)


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def hand_load(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    """The hand-made tenant of test_views_expected.py, loaded once per destination."""
    with Emulator(tenant=EMPTY_TENANT) as emu:
        now = now_ms()
        add_hand_tenant(emu, now)
        yield _loaded(request, request.param, tmp_path_factory.mktemp("hand"), emu, now)


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def demo_load(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    """A generated, demo-like tenant, loaded once per destination."""
    with Emulator(tenant=DEMO_LIKE_TENANT) as emu:
        now = now_ms()
        yield _loaded(request, request.param, tmp_path_factory.mktemp("demo"), emu, now)


@pytest.fixture(scope="module")
def duckdb_demo_load(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    """The demo-like tenant in a DuckDB file only."""
    with Emulator(tenant=DEMO_LIKE_TENANT) as emu:
        now = now_ms()
        yield _loaded(request, "duckdb", tmp_path_factory.mktemp("demo_duckdb"), emu, now)
