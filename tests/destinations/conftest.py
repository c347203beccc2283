"""Fixtures for the destination tests: isolated dlt state, a loader per warehouse."""

from __future__ import annotations

from pathlib import Path

import pytest
from dlt_isolation import isolate


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in tmp_path with dlt state there too; no dlt config leaks in from the repo."""
    isolate(tmp_path, monkeypatch)


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """`cli(args, **env)`: `gainsight-px ARGS` in this process -> (exit code, stdout, stderr)."""
    from gainsight_px.cli import main

    def run(args: list[str], **env: str) -> tuple[int, str, str]:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        capsys.readouterr()
        try:
            code = main(args)
        finally:
            for name in env:
                monkeypatch.delenv(name, raising=False)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run
