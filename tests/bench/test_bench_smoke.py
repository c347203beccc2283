"""The bench scripts still work: `bench/run_all.py --smoke` end to end.

No timing is asserted (figures depend on the machine); what must hold is that
every part runs, every contender loads exactly the tenant's rows, and the
report has the rows a reader looks for, in text and in markdown.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SMOKE_USERS = 2_000
SMOKE_WIDE_USERS = 1_000
SMOKE_PUBLISHED_USERS = 1_000


def table_rows(report: str, title: str) -> dict[str, list[str]]:
    """The body of the aligned text table titled `title`, keyed by its first column."""
    lines = report.splitlines()
    start = lines.index(title)  # ValueError (test failure) if the table is missing
    rows = {}
    for line in lines[start + 3:]:  # title, header, dashes
        if not line.strip() or line.startswith("  "):  # blank line or a note ends the body
            break
        cells = re.split(r"\s{2,}", line.strip())
        rows[cells[0]] = cells[1:]
    return rows


def number(cell: str) -> float:
    return float(cell.replace(",", "").rstrip("x%"))


def test_run_all_smoke_prints_every_contender_and_section(tmp_path: Path) -> None:
    markdown = tmp_path / "report.md"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run_all.py"), "--smoke", "--markdown-out", str(markdown)],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-5000:]}"
    out = proc.stdout

    load = table_rows(out, f"Full load of /users, {SMOKE_USERS:,} users x 20 custom attributes")
    assert set(load) == {"floor", "peer", "ours"}
    wide = table_rows(out, f"Full load of /users, {SMOKE_WIDE_USERS:,} users x 100 custom attributes")
    assert set(wide) == {"floor", "ours"}
    assert all(number(cells[0]) == SMOKE_WIDE_USERS for cells in wide.values())
    # The published dialect (1,000 a page): floor and ours read the same tenant.
    published = table_rows(out, f"Full load of /users (published dialect), {SMOKE_PUBLISHED_USERS:,} users x 20 "
                                "custom attributes")
    assert set(published) == {"floor", "ours"}
    assert all(number(cells[0]) == SMOKE_PUBLISHED_USERS for cells in published.values())
    for name, (rows, seconds, rate, rss, requests, *_rest) in load.items():
        assert number(rows) == SMOKE_USERS, name
        assert number(seconds) > 0 and number(rate) > 0, name
        assert number(rss) > 0, name
        # 2,000 rows are 4 full pages of 500, then the short (empty) page that ends the scan.
        assert number(requests) >= SMOKE_USERS / 500, name

    incremental = table_rows(out, f"Incremental load after activity on 20 of {SMOKE_USERS:,} users")
    assert set(incremental) == {"full", "no change", "incremental"}
    assert number(incremental["full"][0]) == SMOKE_USERS
    # Nothing changed: one request, no rows.
    assert number(incremental["no change"][0]) == 0 and number(incremental["no change"][1]) == 1
    # The incremental run fetches the active users plus the lookback window behind the cursor, not the
    # tenant again (the bench checks the exact set and exits non-zero otherwise: returncode above).
    assert 20 <= number(incremental["incremental"][0]) < SMOKE_USERS / 2

    assert any(line.startswith("Push") for line in out.splitlines()), out
    targets = table_rows(out, "Targets")
    assert {"ours/peer rows/s", "ours/floor rows/s", "ours peak RSS", "ours RSS growth",
            "wide: ours/floor rows/s", "wide: ours peak RSS", "incremental / full time",
            "incremental rows fetched", "no-change requests", "no-change / full time",
            "events rows/s vs floor", "push share of limit", "push 429s", "push CPU",
            "published: ours/floor rows/s"} <= set(targets)
    assert all(cells[2] in ("PASS", "MISS", "n/a") for cells in targets.values())

    md = markdown.read_text(encoding="utf-8")
    for name in ("floor", "peer", "ours"):
        assert f"| {name} | {SMOKE_USERS:,} |" in md
