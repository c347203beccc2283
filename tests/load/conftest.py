"""Fixtures for the warehouse-load tests.

Every test gets its own working directory, DuckDB file and dlt pipelines dir,
so the suite runs in parallel (`-n auto`) without sharing anything.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from dlt_isolation import isolate
from gainsight_px.emulator import Emulator
from load_helpers import Loader


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in tmp_path with dlt state there too; no dlt config leaks in from the repo."""
    isolate(tmp_path, monkeypatch)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """`@pytest.mark.dialects("contract", "published")`: the test runs once per emulator dialect."""
    marker = metafunc.definition.get_closest_marker("dialects")
    if marker is not None:
        metafunc.parametrize("dialect", marker.args or ("contract", "published"), indirect=True)


@pytest.fixture
def dialect(request: pytest.FixtureRequest) -> str:
    """The emulator's dialect: "contract" unless the test is marked `dialects`."""
    return getattr(request, "param", "contract")


@pytest.fixture
def emulator(make_emulator: Callable[..., Emulator], dialect: str) -> Emulator:
    """The small tenant, in the test's dialect."""
    return make_emulator(dialect=dialect)


@pytest.fixture
def loader(emulator: Emulator, tmp_path: Path) -> Loader:
    """A loader for the conftest `emulator` (small tenant)."""
    return Loader(emulator, tmp_path)


@pytest.fixture
def make_loader(tmp_path: Path) -> Callable[..., Loader]:
    def factory(emulator: Emulator, name: str = "gainsight_px") -> Loader:
        return Loader(emulator, tmp_path, name)

    return factory
