"""dlt's own log lines go to .gainsight-px/gainsight-px.log, not between the tool's output lines."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from gainsight_px.emulator import Emulator
from gainsight_px.settings import API_KEY_ENV, BASE_URL_ENV, EMULATOR_API_KEY


def cli(args: list[str], tmp_path: Path, emulator: Emulator, **extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__", "GAINSIGHT_PX_"))}
    env.update({"DLT_DATA_DIR": str(tmp_path / "dlt"), "RUNTIME__DLTHUB_TELEMETRY": "false",
                API_KEY_ENV: EMULATOR_API_KEY, BASE_URL_ENV: emulator.base_url, **extra})
    return subprocess.run([sys.executable, "-m", "gainsight_px.cli", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)


def test_dlt_warnings_go_to_the_log_file_and_stay_on_stderr_with_debug(emulator: Emulator, tmp_path: Path) -> None:
    assert cli(["load", "--progress", "none", "--resources", "features"], tmp_path, emulator).returncode == 0

    # The same pipeline pointed at another destination: dlt warns that its state names DuckDB.
    switched = cli(["load", "--progress", "none", "--resources", "features", "--destination", "filesystem"],
                   tmp_path, emulator, DESTINATION__FILESYSTEM__BUCKET_URL=str(tmp_path / "lake"))
    debug = cli(["load", "--progress", "none", "--resources", "features", "--destination", "duckdb", "--debug"],
                tmp_path, emulator)

    assert switched.returncode == 0, switched.stderr
    assert "[WARNING]" not in switched.stderr and "differs from destination" not in switched.stderr
    log = (tmp_path / ".gainsight-px" / "gainsight-px.log").read_text(encoding="utf-8")
    assert "differs from destination" in log
    assert debug.returncode == 0 and "differs from destination" in debug.stderr
