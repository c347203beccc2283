"""Running the CLI against a hostile server: bounded subprocess runs and the error line."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from reliability_harness import LOAD_ARGS, Run, Workdir, user_rows, write_csv


def run(work: Workdir, *args: str | Path, extra_env: dict[str, str] | None = None, timeout: float = 90) -> Run:
    """The CLI as a subprocess; a run that outlives `timeout` is killed and fails the test."""
    proc = work.start(*args, extra_env=extra_env)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"{args[0]} still running after {timeout} s; stderr:\n{err[-3000:]}")
    return Run(proc.returncode, out, err)


def run_flow(flow: str, work: Workdir, extra_env: dict[str, str] | None = None, *, users: int = 3,
             timeout: float = 90) -> Run:
    """`load` (every resource) or `push users` of `users` new rows."""
    if flow == "load":
        return run(work, *LOAD_ARGS, extra_env=extra_env, timeout=timeout)
    header, rows = user_rows(users, prefix="home")
    return run(work, "push", "users", write_csv(work.path / "u.csv", header, rows), extra_env=extra_env,
               timeout=timeout)


def error_line(result: Run) -> str:
    """The CLI's final `error: ...` line (retries announced before it are other lines)."""
    lines = [line for line in result.err.splitlines() if line.startswith("error:")]
    assert lines, result.text
    return lines[-1]
