"""Helpers for the event tests: load against one emulator, read tables and the request log."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from duckdb_loads import DuckDBLoads
from gainsight_px.emulator import Emulator
from gainsight_px.endpoints import PUBLISHED

DATASET = "gainsight_px"
_RANGE = re.compile(r"^date>=(\d+);date<=(\d+)$")


class EventLoader(DuckDBLoads):
    """Loads in the published dialect (the one with event streams) into `<tmp>/<name>.duckdb`."""

    defaults = {"dialect": PUBLISHED}

    def __init__(self, emulator: Emulator, tmp_path: Path, name: str) -> None:
        super().__init__(emulator, tmp_path / f"{name}.duckdb", tmp_path / f"{name}.pipelines", name)
        self.name = name

    def ids(self, table: str) -> list[str]:
        """Every event_id in `table`, duplicates included."""
        return [r[0] for r in self.query(f"SELECT event_id FROM {DATASET}.{table}")]


def truth_ids(emulator: Emulator, stream: str, start: int | None = None, end: int | None = None) -> set[str]:
    assert emulator.events is not None
    return {e["eventId"] for e in emulator.events.events(stream, start, end)}


def event_requests(emulator: Emulator, path: str) -> list[dict[str, Any]]:
    return [r for r in emulator.control.requests() if r["method"] == "GET" and r["path"] == "/v1" + path]


def date_range(request: dict[str, Any]) -> tuple[int, int] | None:
    """The (start, end) a first-page request asked for; None for a scroll continuation."""
    filters = request["query"].get("filter")
    if not filters:
        return None
    assert len(filters) == 1, filters
    m = _RANGE.match(filters[0])
    assert m, filters[0]
    return int(m.group(1)), int(m.group(2))
