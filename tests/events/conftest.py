"""Fixtures for the event-stream tests: a published-dialect emulator with a small
event history, and a loader into a DuckDB file in tmp_path."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from dlt_isolation import isolate
from events_helpers import EventLoader
from gainsight_px.emulator import Emulator, TenantSpec
from gainsight_px.emulator.events import EventSpec
from gainsight_px.endpoints import PUBLISHED


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate(tmp_path, monkeypatch)


@pytest.fixture
def make_emulator() -> Iterator[Callable[..., Emulator]]:
    started: list[Emulator] = []

    def factory(events: EventSpec | None = None, users: int = 150, **kw: object) -> Emulator:
        emu = Emulator(TenantSpec(users=users, seed=5), dialect=PUBLISHED,
                       events=events or EventSpec(per_day=120, days=60), **kw)  # type: ignore[arg-type]
        started.append(emu.start())
        return emu

    yield factory
    for emu in started:
        emu.stop()


@pytest.fixture
def make_loader(tmp_path: Path) -> Callable[..., EventLoader]:
    def factory(emulator: Emulator, name: str = "px") -> EventLoader:
        return EventLoader(emulator, tmp_path, name)

    return factory
