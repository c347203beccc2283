"""The hostile server's fixtures (`hostile`, `make_hostile`), and the CLI harness (tests/faults).

Another folder uses them the same way: put this folder on sys.path in its
conftest.py and `from hostile_server import hostile, make_hostile`.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "faults"))  # reliability_harness: Workdir, Run, LOAD_ARGS

from hostile_server import hostile, make_hostile  # noqa: E402,F401
