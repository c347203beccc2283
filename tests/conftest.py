"""Fixtures shared by every test: the bundled emulator on an ephemeral port.

Keep this minimal; fixtures for one area go in that folder's conftest.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from gainsight_px.emulator import Emulator, TenantSpec
from gainsight_px.settings import EMULATOR_API_KEY

SMALL_TENANT = TenantSpec(users=250, accounts=25, features=40, engagements=30, subscriptions=3, seed=42)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--slow", action="store_true", default=False, help="also run tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--slow"):
        return
    skip = pytest.mark.skip(reason="slow; run with --slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def make_emulator() -> Iterator[Callable[..., Emulator]]:
    """Factory: `make_emulator(**Emulator kwargs)` -> a started emulator, stopped after the test.

    Defaults to the small tenant (250 users, 25 accounts, seed 42) on an ephemeral port.
    """
    started: list[Emulator] = []

    def factory(**kwargs: Any) -> Emulator:
        kwargs.setdefault("tenant", SMALL_TENANT)
        emu = Emulator(**kwargs).start()
        started.append(emu)
        return emu

    yield factory
    for emu in started:
        emu.stop()


@pytest.fixture
def emulator(make_emulator: Callable[..., Emulator]) -> Emulator:
    """A started emulator with the small tenant; `emulator.base_url`, `emulator.control`."""
    return make_emulator()


@pytest.fixture
def px_session() -> Iterator[requests.Session]:
    """A requests.Session carrying the emulator's read-write API key."""
    with requests.Session() as session:
        session.headers["X-APTRINSIC-API-KEY"] = EMULATOR_API_KEY
        yield session


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Any]:
    """A PostgreSQL server of this worker's own, on a loopback port (tests/postgres_server.py)."""
    from postgres_server import start_server

    server = start_server()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server: Any) -> str:
    """A fresh, empty database on the worker's server, as a postgresql:// URL."""
    return postgres_server.url(postgres_server.create_database())
