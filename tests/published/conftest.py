"""Fixtures for the published-dialect load tests: a published emulator, a loader, the hostile server.

Uses the load tests' helpers (tests/load/load_helpers.py) and the hostile
server (tests/hostile/hostile_server.py) by putting their folders on sys.path.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from dlt_isolation import isolate

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "load"))
sys.path.insert(0, str(HERE.parent / "hostile"))

from gainsight_px.emulator import Emulator, TenantSpec  # noqa: E402
from gainsight_px.endpoints import PUBLISHED  # noqa: E402
from hostile_server import hostile, make_hostile  # noqa: E402,F401
from load_helpers import Loader  # noqa: E402

# Features and segments over one page of 200, engagements under one page of 500.
PUBLISHED_TENANT = TenantSpec(users=250, accounts=25, features=450, engagements=30, segments=36, seed=42)


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in tmp_path with dlt state there too; no dlt config leaks in from the repo."""
    isolate(tmp_path, monkeypatch)


@pytest.fixture
def published(make_emulator: Callable[..., Emulator]) -> Emulator:
    """A started emulator speaking the published dialect."""
    return make_emulator(dialect=PUBLISHED, tenant=PUBLISHED_TENANT)


@pytest.fixture
def make_loader(tmp_path: Path) -> Callable[..., Loader]:
    def factory(emulator: Emulator, name: str = "gainsight_px") -> Loader:
        return Loader(emulator, tmp_path, name)

    return factory


@pytest.fixture
def loader(published: Emulator, tmp_path: Path) -> Loader:
    return Loader(published, tmp_path)
