"""One way for a test to run with its own dlt state and no configuration from the repo or the shell."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def isolate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in `tmp_path` with dlt state there too; no SOURCES__/DESTINATION__ settings leak in."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt_data"))
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
    for name in list(os.environ):
        if name.startswith(("SOURCES__", "DESTINATION__")):
            monkeypatch.delenv(name)
