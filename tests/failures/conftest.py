"""Fixtures for the failure-message tests: the CLI and the scripts as a user runs them.

Each test runs in its own working directory with its own dlt state; nothing from
the repository's .dlt/ or the caller's environment leaks in.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from gainsight_px.emulator import Emulator
from gainsight_px.settings import API_KEY_ENV, BASE_URL_ENV, EMULATOR_API_KEY

REPO = Path(__file__).resolve().parents[2]


def failure_env(tmp_path: Path, emulator: Emulator | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SOURCES__", "DESTINATION__", "GAINSIGHT_PX_"))}
    env["DLT_DATA_DIR"] = str(tmp_path / "dlt_data")
    env["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    env["PYTHONUNBUFFERED"] = "1"
    if emulator is not None:
        env[API_KEY_ENV] = EMULATOR_API_KEY
        env[BASE_URL_ENV] = emulator.base_url
    env.update(extra)
    return env


def command(args: list[str]) -> list[str]:
    """`gainsight-px ARGS`, or a script under pipelines/ when ARGS[0] ends in .py."""
    if args and args[0].endswith(".py"):
        return [sys.executable, str(REPO / args[0]), *args[1:]]
    return [sys.executable, "-m", "gainsight_px.cli", *args]


@pytest.fixture
def run(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess]:
    """`run(args, emulator=None, **env)` -> the finished process (text output)."""

    def runner(args: list[str], emulator: Emulator | None = None, timeout: float = 120,
               **env: str) -> subprocess.CompletedProcess:
        return subprocess.run(command(args), cwd=tmp_path, env=failure_env(tmp_path, emulator, **env),
                              capture_output=True, text=True, timeout=timeout)

    return runner


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen]]:
    """`start(args, emulator=None, **env)` -> a running process; killed after the test if still alive."""
    started: list[subprocess.Popen] = []

    def starter(args: list[str], emulator: Emulator | None = None, **env: str) -> subprocess.Popen:
        proc = subprocess.Popen(command(args), cwd=tmp_path, env=failure_env(tmp_path, emulator, **env),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        started.append(proc)
        return proc

    yield starter
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
