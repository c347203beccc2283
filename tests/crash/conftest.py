"""The crash suites share the fault suite's harness (tests/faults/reliability_harness.py)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

# Test folders are not packages; make the shared harness importable by name.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "faults"))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the figures reliability tests recorded (`record_property("reliability", {...})`);
    docs/reliability.md quotes them. Works under xdist: user properties travel with the reports."""
    lines = []
    for report in terminalreporter.stats.get("passed", []):
        for name, value in getattr(report, "user_properties", []):
            if name == "reliability" and report.when == "call":
                lines.append(f"{report.nodeid}: {value}")
    if lines:
        terminalreporter.write_sep("-", "reliability figures")
        for line in sorted(lines):
            terminalreporter.write_line(line)
