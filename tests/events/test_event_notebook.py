"""The analyst notebook on a published-dialect demo: every event view gets its plot."""

from __future__ import annotations

from pathlib import Path

import nbformat
from gainsight_px.demo import run_demo
from gainsight_px.marts import load_views
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "analyst_overview.ipynb"
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
PLOTS = 8  # activity, adoption, dormant accounts, engagement states + the four event views


def test_the_notebook_plots_the_event_views_of_a_published_demo(tmp_path, monkeypatch):
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt"))
    demo = run_demo(users=300, db_path=str(tmp_path / "gainsight.duckdb"), say=lambda _: None, dialect="published")
    assert set(demo.full.views) == {v.name for v in load_views()}
    assert demo.full.rows["session_events"] > 0 and demo.full.rows["survey_responses"] > 0
    monkeypatch.setenv("GAINSIGHT_PX_DUCKDB", demo.db_path)
    monkeypatch.setenv("MPLBACKEND", INLINE_BACKEND)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(tmp_path)}}).execute()
    code = [c for c in nb.cells if c.cell_type == "code"]
    pngs = sum(1 for c in code for o in c.get("outputs", []) if "image/png" in o.get("data", {}))
    assert pngs == PLOTS
    text = "".join(o.get("text", "") for c in code for o in c.get("outputs", []))
    assert "is not in this file" not in text
