"""The fuzz suites run modest example counts by default and heavier ones with `--slow`.

The flag is read here, before the test modules are imported, so that
`fuzz_helpers.fuzz_settings(default, slow)` in their decorators sees it.
Settings are applied per test (never as a global hypothesis profile) so that
other folders' property tests keep their own defaults.
"""

from __future__ import annotations

import sys
from pathlib import Path

import fuzz_helpers
import pytest

# The end-to-end fuzz shares the fault suite's harness (tests/faults/reliability_harness.py).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "faults"))


def pytest_configure(config: pytest.Config) -> None:
    fuzz_helpers.SLOW = bool(config.getoption("--slow", default=False))
