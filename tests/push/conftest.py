"""Fixtures for the push tests (helpers live in push_helpers.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from gainsight_px.emulator import Emulator
from gainsight_px.emulator.tenant import PRODUCT_KEY
from gainsight_px.endpoints import DIALECTS
from gainsight_px.push.ledger import LEDGER_ENV
from gainsight_px.settings import API_KEY_ENV, BASE_URL_ENV, DIALECT_ENV, EMULATOR_API_KEY, PROPERTY_KEY_ENV
from push_helpers import PushHarness


def configure(emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
              capsys: pytest.CaptureFixture[str]) -> PushHarness:
    """Environment for pushing to `emulator` as a user would configure it; cwd = tmp_path."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(API_KEY_ENV, EMULATOR_API_KEY)
    monkeypatch.setenv(BASE_URL_ENV, emulator.base_url)
    monkeypatch.setenv(LEDGER_ENV, str(tmp_path / "ledger.sqlite"))
    # Set, as a user who knows their server would: auto-detection has tests of its own.
    monkeypatch.setenv(DIALECT_ENV, emulator.dialect.name)
    monkeypatch.setenv(PROPERTY_KEY_ENV, PRODUCT_KEY)  # the contract ignores it
    return PushHarness(emulator, tmp_path, capsys)


@pytest.fixture
def px(emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
       capsys: pytest.CaptureFixture[str]) -> PushHarness:
    """The push CLI configured for the (contract) emulator."""
    return configure(emulator, tmp_path, monkeypatch, capsys)


@pytest.fixture(params=sorted(DIALECTS))
def px_any(request: pytest.FixtureRequest, make_emulator: Callable[..., Emulator], tmp_path: Path,
           monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> PushHarness:
    """The same against an emulator of each dialect (for tests that hold in both)."""
    return configure(make_emulator(dialect=DIALECTS[request.param]), tmp_path, monkeypatch, capsys)
