"""Helpers for the warehouse-load tests: a loader bound to one emulator and one tmp dir."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
from duckdb_loads import DuckDBLoads
from gainsight_px.emulator import Emulator
from gainsight_px.settings import API_KEY_ENV, BASE_URL_ENV, EMULATOR_API_KEY

DATASET = "gainsight_px"


class Loader(DuckDBLoads):
    """`run_load` against one emulator into `<tmp>/warehouse_<name>.duckdb`, plus ways to read it back.

    Runs without the users/accounts lookback (`lookback_s=0`) unless told otherwise, so that a
    test can count exactly the rows a change sends; `lookback_s=None` runs with the shipped
    default (tests/load/test_lookback.py).
    """

    def __init__(self, emulator: Emulator, tmp_path: Path, name: str = "gainsight_px",
                 lookback_s: float | None = 0) -> None:
        super().__init__(emulator, tmp_path / f"warehouse_{name}.duckdb", tmp_path / f"{name}.pipelines", name)
        self.control = emulator.control
        self.defaults = {} if lookback_s is None else {"lookback_s": lookback_s}

    def rows(self, table: str, key: str = "id") -> dict[Any, dict[str, Any]]:
        """Every row of `table` as {key: {column: value}}."""
        con = duckdb.connect(str(self.db_path), read_only=True)
        try:
            cur = con.execute(f"SELECT * FROM {DATASET}.{table}")
            names = [d[0] for d in cur.description]
            return {row[names.index(key)]: dict(zip(names, row, strict=True)) for row in cur.fetchall()}
        finally:
            con.close()

    def column_types(self, table: str) -> dict[str, str]:
        return dict(self.query(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ?", [DATASET, table]))

    def count(self, table: str) -> int:
        return self.query(f"SELECT count(*) FROM {DATASET}.{table}")[0][0]

    def list_requests(self, resource: str, *, probe: bool = False) -> list[dict[str, Any]]:
        """GET requests the emulator saw on one list path since the last reset.

        The one-record request by which `auto` tells the dialect (first run only)
        is left out unless `probe`.
        """
        path = f"/v1/{resource}"
        return [r for r in self.control.requests() if r["method"] == "GET" and r["path"] == path
                and (probe or not is_probe(r))]

    def cursor_requests(self, resource: str, cursor: str = "lastSeenDate") -> list[dict[str, Any]]:
        """List requests of a scan on `cursor` (sorted on it); the published dialect also runs one
        on lastModifiedDate per incremental run."""
        ascending = self.emulator.dialect.sort(cursor)  # not the one-record window probe, sorted descending
        return [r for r in self.list_requests(resource)
                if (r["query"].get("sort") or [""])[0].startswith(ascending)]

    @property
    def published(self) -> bool:
        return self.emulator.dialect.name == "published"

    def probes(self) -> list[dict[str, Any]]:
        """Dialect-detection requests the emulator saw since the last reset."""
        return [r for r in self.control.requests() if is_probe(r)]


def is_probe(request: dict[str, Any]) -> bool:
    """Is this logged request the dialect probe (`dialects.PROBE_PATH`, `probe_params`)?"""
    from gainsight_px import dialects

    want = {k: [str(v)] for k, v in dialects.probe_params()}
    query = {k: [str(x) for x in v] for k, v in (request.get("query") or {}).items()}
    return (request["method"] == "GET" and request["path"].endswith(dialects.PROBE_PATH)
            and query == want)


def ms_to_datetime(ms: Any) -> datetime | None:
    """What an epoch-ms timestamp should look like in the warehouse (0 -> NULL)."""
    if not ms:
        return None
    return datetime.fromtimestamp(int(ms) / 1000, tz=UTC)


def cli_env(emulator: Emulator | None, tmp_path: Path, **extra: str) -> dict[str, str]:
    """Environment for `python -m gainsight_px.cli` pointed at the emulator."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__"))}
    env["DLT_DATA_DIR"] = str(tmp_path / "dlt_data")
    env["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    if emulator is not None:
        env[API_KEY_ENV] = EMULATOR_API_KEY
        env[BASE_URL_ENV] = emulator.base_url
    env.update(extra)
    return env


def run_cli(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gainsight_px.cli", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)
