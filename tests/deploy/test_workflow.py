"""The shipped GitHub Actions workflow: its structure, and its load step run here against the emulator.

`dlt deploy ... github-action` writes a workflow on Python 3.10 that pins a
gainsight-px release no registry has, wires no key and writes DuckDB onto a
runner that is thrown away. docs/github-actions/load.yml is the project's own:
checked here for what matters, then its load script is executed with bash
exactly as written, the `${{ }}` expressions replaced the way GitHub would
(secrets -> the emulator's key and a local PostgreSQL database), each run in an
empty folder as on a fresh runner. The install step is checked, not run: the
suite's venv already holds the project, installed the same way (`-c constraints.txt`).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from gainsight_px.settings import EMULATOR_API_KEY
from warehouses import Warehouse

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = REPO / "docs" / "github-actions" / "load.yml"
HOURLY, WEEKLY = "0 * * * *", "30 3 * * 0"
EXPRESSION = re.compile(r"\$\{\{\s*(.+?)\s*\}\}")


def workflow() -> dict[str, Any]:
    data = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


def evaluate(expression: str, context: dict[str, Any]) -> str:
    """The few expression forms the workflow uses: `a.b.c` and `a.b || 'default'`."""
    left, _, default = expression.partition("||")
    value: Any = context
    for part in left.strip().split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if value in (None, "") and default:
        value = default.strip().strip("'")
    return "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def substitute(text: str, context: dict[str, Any]) -> str:
    return EXPRESSION.sub(lambda m: evaluate(m.group(1), context), text)


def test_the_workflow_is_what_a_scheduled_load_needs() -> None:
    data = workflow()
    job = data["jobs"]["load"]
    steps = job["steps"]
    crons = [s["cron"] for s in data["on"]["schedule"]]
    assert crons == [HOURLY, WEEKLY]
    assert "workflow_dispatch" in data["on"]
    assert data["concurrency"]["cancel-in-progress"] is False

    setup = next(s for s in steps if str(s.get("uses", "")).startswith("actions/setup-python@"))
    assert str(setup["with"]["python-version"]) == "3.11"
    assert any(str(s.get("uses", "")).startswith("actions/checkout@") for s in steps)
    install = next(s for s in steps if s.get("id") == "install")["run"]
    assert "-c constraints.txt" in install and '".[postgres]"' in install  # the project itself, pinned
    assert "gainsight-px==" not in WORKFLOW.read_text()
    # The key comes from the CI secrets; the warehouse is persistent, not the runner's disk.
    assert job["env"]["SOURCES__GAINSIGHT_PX__API_KEY"] == "${{ secrets.GAINSIGHT_PX_API_KEY }}"
    assert job["env"]["DESTINATION__POSTGRES__CREDENTIALS"].startswith("${{ secrets.")
    load = next(s for s in steps if s.get("id") == "load")["run"]
    assert "--destination postgres" in load and ".duckdb" not in load
    # Expressions stay in env: none inside a script.
    assert all("${{" not in s.get("run", "") for s in steps)


def _run_step(script: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-eo", "pipefail", "-c", script], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def runner_env(tmp_path: Path) -> dict[str, str]:
    """A fresh 'runner': an empty home and working copy, the venv's tools on PATH, no dlt config."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__", "DLT_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["HOME"] = str(tmp_path / "home")
    return env


def test_the_load_step_runs_against_the_emulator_into_postgres(
        emulator, tmp_path: Path, postgres_url: str, runner_env: dict[str, str]) -> None:
    data = workflow()
    job = data["jobs"]["load"]
    load = next(s for s in job["steps"] if s.get("id") == "load")["run"]
    secrets = {"GAINSIGHT_PX_API_KEY": EMULATOR_API_KEY, "GAINSIGHT_PX_POSTGRES_URL": postgres_url}
    pg = Warehouse("postgres", postgres_url)

    def run(schedule: str, runner: str) -> subprocess.CompletedProcess:
        context = {"secrets": secrets, "vars": {"GAINSIGHT_PX_BASE_URL": emulator.base_url},
                   "github": {"event": {"schedule": schedule}}, "inputs": {}}
        env = {**runner_env, **{k: substitute(str(v), context) for k, v in job["env"].items()}}
        workdir = tmp_path / runner  # every run on a new runner: nothing kept on disk
        (workdir / "home").mkdir(parents=True)
        env["HOME"] = str(workdir / "home")
        return _run_step(load, env, workdir)

    first = run(HOURLY, "runner1")
    assert first.returncode == 0, first.stderr
    assert "Load finished" in first.stdout and "into postgres" in first.stdout
    assert len(pg.table("users", "aptrinsic_id")) == 250

    emulator.control.simulate_activity(count=4)
    gone = emulator.control.records("users")[0]["aptrinsicId"]
    emulator.control.delete_record("users", gone)
    hourly = run(HOURLY, "runner2")
    assert hourly.returncode == 0, hourly.stderr
    fetched = re.search(r"^\s*users\s+(\d+)\s*$", hourly.stdout, re.MULTILINE)
    assert fetched and 4 <= int(fetched[1]) < 250, hourly.stdout  # cursor kept in postgres: not a full read
    assert gone in pg.table("users", "aptrinsic_id")  # incremental cannot see deletions

    weekly = run(WEEKLY, "runner3")
    assert weekly.returncode == 0, weekly.stderr
    assert "Reconcile (full refresh)" in weekly.stdout
    users = pg.table("users", "aptrinsic_id")
    assert gone not in users and len(users) == 249
    assert EMULATOR_API_KEY not in first.stdout + first.stderr + hourly.stdout + weekly.stdout
