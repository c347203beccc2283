"""Fixtures for the warehouse-load tests.

Every test gets its own working directory, DuckDB file and dlt pipelines dir,
so the suite runs in parallel (`-n auto`) without sharing anything.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from gainsight_px.emulator import Emulator
from load_helpers import Loader


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in tmp_path with dlt state there too; no dlt config leaks in from the repo."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt_data"))
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
    for name in list(os.environ):
        if name.startswith(("SOURCES__", "DESTINATION__")):
            monkeypatch.delenv(name)


@pytest.fixture
def loader(emulator: Emulator, tmp_path: Path) -> Loader:
    """A loader for the conftest `emulator` (small tenant)."""
    return Loader(emulator, tmp_path)


@pytest.fixture
def make_loader(tmp_path: Path) -> Callable[..., Loader]:
    def factory(emulator: Emulator, name: str = "gainsight_px") -> Loader:
        return Loader(emulator, tmp_path, name)

    return factory
