"""Fixtures for the push tests (helpers live in push_helpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from gainsight_px.emulator import Emulator
from gainsight_px.push.ledger import LEDGER_ENV
from gainsight_px.settings import API_KEY_ENV, BASE_URL_ENV, DIALECT_ENV, EMULATOR_API_KEY
from push_helpers import PushHarness


@pytest.fixture
def px(emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
       capsys: pytest.CaptureFixture[str]) -> PushHarness:
    """The push CLI configured for the emulator (env vars, like a user would), cwd = tmp_path."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(API_KEY_ENV, EMULATOR_API_KEY)
    monkeypatch.setenv(BASE_URL_ENV, emulator.base_url)
    monkeypatch.setenv(LEDGER_ENV, str(tmp_path / "ledger.sqlite"))
    # Set, as a user who knows their server would: auto-detection has tests of its own.
    monkeypatch.setenv(DIALECT_ENV, emulator.dialect.name)
    return PushHarness(emulator, tmp_path, capsys)
