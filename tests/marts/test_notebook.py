"""notebooks/analyst_overview.ipynb: saved clean, and runs top to bottom on a fresh load.

Runs the notebook headlessly with nbclient in the `python3` kernel, which
ipykernel provides for the running interpreter; the matplotlib backend is the
inline one (renders with Agg, no display), so each plot shows up as a PNG.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import duckdb
import nbformat
import pytest
from gainsight_px.demo import run_demo
from gainsight_px.marts import EVENT_TABLES, load_views
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "analyst_overview.ipynb"
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
PLOTS = 4  # activity, adoption, dormant accounts, engagement states
DEMO_USERS = 400


def execute(cwd: Path) -> nbformat.NotebookNode:
    """Run the notebook in `cwd`, plus a last cell that reports the kernel's interpreter."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("import sys; print(sys.prefix, end='')"))
    NotebookClient(nb, kernel_name="python3", timeout=120,
                   resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


def outputs(cell: nbformat.NotebookNode, kind: str) -> list:
    return [o for o in cell.get("outputs", []) if kind in o.get("data", {})]


def test_saved_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code)
    assert nb.metadata.kernelspec.name == "python3"


def test_first_cell_takes_the_path_from_the_environment():
    first = nbformat.read(NOTEBOOK, as_version=4).cells[0]
    assert first.cell_type == "code"
    assert 'os.environ.get("GAINSIGHT_PX_DUCKDB", "gainsight.duckdb")' in first.source


def test_python3_kernel_is_this_interpreter():
    # What nbclient starts for kernel_name="python3": ipykernel's spec, whose
    # argv[0] "python" jupyter_client replaces with sys.executable.
    spec = KernelSpecManager().get_kernel_spec("python3")
    assert spec.argv[0] in ("python", "python3", sys.executable), spec.argv
    assert spec.argv[1:3] == ["-m", "ipykernel_launcher"]


def test_runs_top_to_bottom_on_the_demo(tmp_path, monkeypatch):
    # What the README promises: `gainsight-px demo`, then the notebook.
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt"))  # the demo's pipeline state, private
    demo = run_demo(users=DEMO_USERS, db_path=str(tmp_path / "gainsight.duckdb"), say=lambda _: None)
    # The contract demo has no event streams: event views without a fallback are not created.
    expected = {v.name for v in load_views() if not v.tables & EVENT_TABLES or v.fallback}
    assert set(demo.full.views) == set(demo.incremental.views) == expected

    monkeypatch.setenv("GAINSIGHT_PX_DUCKDB", demo.db_path)
    monkeypatch.setenv("MPLBACKEND", INLINE_BACKEND)
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    nb = execute(workdir)  # raises CellExecutionError if any cell fails

    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[-1].outputs[0].text == sys.prefix  # ran in this venv, not some other python3
    assert sum(len(outputs(c, "image/png")) for c in code) == PLOTS
    # it read the file it was pointed at: the tenant-wide counts are the demo tenant's
    text = "".join(o.get("data", {}).get("text/plain", "") + o.get("text", "") for c in code for o in c.outputs)
    assert f"{demo.db_path}: views in gainsight_px_marts:" in text
    with duckdb.connect(demo.db_path, read_only=True) as con:
        [(seen,)] = con.execute("SELECT count(*) FROM gainsight_px.users WHERE last_seen_date IS NOT NULL").fetchall()
    assert re.search(rf"│\s+{DEMO_USERS}\s+│\s+{seen}\s+│", text), text


def test_without_the_variable_it_reads_gainsight_duckdb_in_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("GAINSIGHT_PX_DUCKDB", raising=False)
    monkeypatch.setenv("MPLBACKEND", INLINE_BACKEND)
    with pytest.raises(CellExecutionError) as err:
        execute(tmp_path)
    assert f"{tmp_path / 'gainsight.duckdb'}: no DuckDB file here" in str(err.value)
    assert "gainsight-px load" in str(err.value) and "gainsight_demo.duckdb" in str(err.value)  # the demo's file
    assert not (tmp_path / "gainsight.duckdb").exists()  # read-only: never creates an empty file
