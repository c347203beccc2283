"""The events bench still works: `bench/bench_events.py` with a tiny history, end to end.

No timing is asserted; what must hold is that both contenders read every event,
the destination has each once after the incremental run, and the report has
the figures and verdicts a reader looks for.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_events_bench_prints_both_contenders_the_incremental_run_and_the_targets(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_events.py"), "--events", "5000"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"stdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-5000:]}"
    out = proc.stdout
    [title] = [line for line in out.splitlines() if line.startswith("Event backfill, ")]
    events = int(re.search(r"([\d,]+) session_events", title).group(1).replace(",", ""))
    assert 3000 < events < 7000
    lines = out.splitlines()
    body = lines[lines.index(title) + 3:lines.index(title) + 5]
    rows = {re.split(r"\s{2,}", line.strip())[0]: re.split(r"\s{2,}", line.strip())[1:] for line in body}
    assert set(rows) == {"floor", "ours"}
    for name, cells in rows.items():
        assert int(cells[0].replace(",", "")) == events, name
    assert "ours / floor rows/s:" in out and "quota:" in out
    assert re.search(r"^incremental\s+[\d,]+\s+1\s", out, re.M), out  # one request for a day of new events
    for target in ("events rows/s vs floor", "events peak RSS"):
        assert re.search(rf"^{target}\s.*\b(PASS|MISS)\b", out, re.M), target
