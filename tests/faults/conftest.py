"""Fixtures shared by the load and push fault matrices."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from reliability_harness import Workdir


@pytest.fixture
def make_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """`make_work(emulator)` -> a Workdir whose environment is applied to this process (cwd too)."""
    def make(emulator: Any) -> Workdir:
        work = Workdir(tmp_path / "work", emulator.base_url)
        for name, value in work.env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.chdir(work.path)
        return work
    return make
