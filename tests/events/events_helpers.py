"""Helpers for the event tests: load against one emulator, read tables and the request log."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import duckdb
from gainsight_px.emulator import Emulator
from gainsight_px.endpoints import PUBLISHED
from gainsight_px.load import LoadSummary, run_load
from gainsight_px.settings import EMULATOR_API_KEY

DATASET = "gainsight_px"
_RANGE = re.compile(r"^date>=(\d+);date<=(\d+)$")


class EventLoader:
    def __init__(self, emulator: Emulator, tmp_path: Path, name: str) -> None:
        self.emulator = emulator
        self.db_path = tmp_path / f"{name}.duckdb"
        self.pipelines_dir = tmp_path / f"{name}.pipelines"
        self.name = name

    def run(self, **kwargs: Any) -> LoadSummary:
        import dlt

        kwargs.setdefault("api_key", EMULATOR_API_KEY)
        kwargs.setdefault("base_url", self.emulator.base_url)
        kwargs.setdefault("destination", dlt.destinations.duckdb(str(self.db_path)))
        kwargs.setdefault("pipeline_name", self.name)
        kwargs.setdefault("pipelines_dir", str(self.pipelines_dir))
        kwargs.setdefault("progress", "none")
        kwargs.setdefault("dialect", PUBLISHED)
        return run_load(**kwargs)

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple]:
        con = duckdb.connect(str(self.db_path), read_only=True)
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()

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
