"""The security suites share the fault suite's harness (tests/faults/reliability_harness.py)
and the hostile server (tests/hostile/hostile_server.py)."""

from __future__ import annotations

import sys
from pathlib import Path

# Test folders are not packages; make the shared harness importable by name.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "faults"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "hostile"))

from hostile_server import hostile, make_hostile  # noqa: E402,F401
