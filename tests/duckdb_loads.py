"""`run_load` against one emulator into one DuckDB file of a test's tmp dir, and reading it back.

Shared by the load and event tests (their `Loader` and `EventLoader` add what each needs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
from gainsight_px.emulator import Emulator
from gainsight_px.load import LoadSummary, run_load
from gainsight_px.settings import EMULATOR_API_KEY


class DuckDBLoads:
    # Settings every run gets unless the test passes its own (e.g. {"dialect": PUBLISHED}).
    defaults: dict[str, Any] = {}

    def __init__(self, emulator: Emulator, db_path: Path, pipelines_dir: Path, name: str) -> None:
        self.emulator = emulator
        self.db_path = db_path
        self.pipelines_dir = pipelines_dir
        self.pipeline_name = name

    def run(self, **kwargs: Any) -> LoadSummary:
        import dlt

        kwargs.setdefault("api_key", EMULATOR_API_KEY)
        kwargs.setdefault("base_url", self.emulator.base_url)
        kwargs.setdefault("destination", dlt.destinations.duckdb(str(self.db_path)))
        kwargs.setdefault("pipeline_name", self.pipeline_name)
        kwargs.setdefault("pipelines_dir", str(self.pipelines_dir))
        kwargs.setdefault("progress", "none")
        for name, value in self.defaults.items():
            kwargs.setdefault(name, value)
        return run_load(**kwargs)

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple]:
        con = duckdb.connect(str(self.db_path), read_only=True)
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()
