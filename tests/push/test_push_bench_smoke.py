"""bench/push_bench.py still runs end to end (a tiny size; no timing is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_push_bench_smoke(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "push_bench.py"), "--rows", "300", "--json"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    assert figures["delivered"] == figures["users_created"] == figures["requests"] - figures["status_429"] == 300
    for label in ("achieved", "of the limit", "429 answers", "verdict"):
        assert label in proc.stdout
