"""The notebook and the analyst helper never block a scheduled load.

DuckDB lets a process write a file only while no other process has it open,
even read-only; so the test for "never blocks" is a second process opening the
file read-write while the notebook's kernel is still alive.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import duckdb
import nbformat
import pytest
from gainsight_px.analyst import query
from gainsight_px.demo import run_demo
from gainsight_px.errors import InputError
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "analyst_overview.ipynb"
WRITE = "import duckdb, sys; con = duckdb.connect(sys.argv[1]); con.execute('CREATE OR REPLACE TABLE w AS SELECT 1 AS x')"


def writer_can_open(db: Path) -> subprocess.CompletedProcess:
    """What a load does first: open the file read-write, from another process."""
    return subprocess.run([sys.executable, "-c", WRITE, str(db)], capture_output=True, text=True, timeout=60)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "w.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE t AS SELECT range AS x FROM range(5)")
    con.close()
    return path


def test_a_query_result_outlives_its_connection(db: Path) -> None:
    result = query("SELECT x FROM t WHERE x >= ? ORDER BY x", [3], path=db)

    done = writer_can_open(db)  # while `result` is still held here

    assert done.returncode == 0, done.stderr
    assert result.fetchall() == [(3,), (4,)]
    assert "x" in str(result)  # shows as a table


def test_a_query_waits_while_a_load_writes(db: Path) -> None:
    code = "import duckdb, sys; con = duckdb.connect(sys.argv[1]); print('ready', flush=True); sys.stdin.read()"
    load = subprocess.Popen([sys.executable, "-c", code, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    assert load.stdout.readline().strip() == "ready"
    with pytest.raises(duckdb.IOException):
        duckdb.connect(str(db), read_only=True).close()  # the file is held right now
    threading.Timer(1.0, load.stdin.close).start()  # the "load" ends a moment later

    assert query("SELECT count(*) FROM t", path=db, wait_s=60).fetchall() == [(5,)]
    load.wait(timeout=30)


def test_a_missing_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="GAINSIGHT_PX_DUCKDB"):
        query("SELECT 1", path=tmp_path / "nothing.duckdb")


def test_a_load_can_write_while_the_notebook_is_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt"))
    demo = run_demo(users=200, db_path=str(tmp_path / "gainsight_demo.duckdb"), say=lambda _: None)
    monkeypatch.setenv("GAINSIGHT_PX_DUCKDB", demo.db_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(nb, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(tmp_path)}})

    halfway = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"][3]
    attempts = []
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)
            if index in (halfway, len(nb.cells) - 1):
                # The kernel is alive, as when an analyst reads a chart and leaves the notebook open.
                attempts.append(writer_can_open(Path(demo.db_path)))

    assert [a.returncode for a in attempts] == [0, 0], [a.stderr for a in attempts]
