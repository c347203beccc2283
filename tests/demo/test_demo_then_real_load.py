"""The demo leaves no trap: the README's next step (a real key, `gainsight-px load`) starts clean."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
from gainsight_px.emulator import Emulator
from gainsight_px.settings import API_KEY_ENV, BASE_URL_ENV, EMULATOR_API_KEY


def cli(args: list[str], tmp_path: Path, **extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__", "GAINSIGHT_PX_"))}
    env.update(DLT_DATA_DIR=str(tmp_path / "dlt_data"), RUNTIME__DLTHUB_TELEMETRY="false", **extra)
    return subprocess.run([sys.executable, "-m", "gainsight_px.cli", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)


def test_after_the_demo_the_closing_hint_runs_a_clean_real_load(emulator: Emulator, tmp_path: Path) -> None:
    demo = cli(["demo", "--users", "300"], tmp_path)
    assert demo.returncode == 0, demo.stderr
    hint = demo.stdout[demo.stdout.index("Next, load your own tenant"):].splitlines()
    assert hint[0] == "Next, load your own tenant into gainsight.duckdb (the demo's file stays apart):"
    assert hint[1].strip() == f"export {API_KEY_ENV}='<your PX API key>'"
    assert hint[2].strip().startswith(f"export {BASE_URL_ENV}=https://api.aptrinsic.com/v1")
    assert hint[3].strip().endswith("gainsight-px load")

    # The example queries run as printed.
    tries = demo.stdout[demo.stdout.index("Try it yourself:"):demo.stdout.index("Next, load")].splitlines()[1:]
    commands = [line.strip() for line in tries if line.strip() and not line.strip().startswith("#")]
    assert len(commands) == 2
    for command in commands:
        ran = subprocess.run(["bash", "-c", command], cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert ran.returncode == 0 and "│" in ran.stdout, (command, ran.stderr)

    # The hint as a user follows it, with the emulator standing in for their tenant.
    real = cli(["load", "--progress", "none"], tmp_path,
               **{API_KEY_ENV: EMULATOR_API_KEY, BASE_URL_ENV: emulator.base_url})

    assert real.returncode == 0, real.stderr
    assert "An interrupted earlier load was completed first" not in real.stdout
    con = duckdb.connect(str(tmp_path / "gainsight.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM gainsight_px.users").fetchone() == (250,)  # the tenant's, not the demo's
    con.close()
    con = duckdb.connect(str(tmp_path / "gainsight_demo.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM gainsight_px.users").fetchone() == (300,)  # untouched
    con.close()
    # Each pipeline keeps its own folder, and neither is left with a pending package.
    pipelines = tmp_path / "dlt_data" / "pipelines"
    assert {p.name for p in pipelines.iterdir() if p.is_dir()} == {"gainsight_px", "gainsight_px_demo"}
    for name in ("gainsight_px", "gainsight_px_demo"):
        assert not list((pipelines / name).glob("normalize/*/*")), name
        assert not any((pipelines / name / "load" / "normalized").glob("*")), name
