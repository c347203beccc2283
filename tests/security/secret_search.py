"""Where a secret ended up: everything printed, and every file under a folder, decoded.

Files are searched as stored and, when gzip or parquet, decompressed; DuckDB
files also value by value (dlt's compressed state included).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
from dlt.common.versioned_state import decompress_state
from reliability_harness import Run


def texts_of_file(path: Path) -> list[bytes]:
    """The bytes of a file as stored, plus its decompressed content when it is gzip or parquet."""
    data = path.read_bytes()
    out = [data]
    if data[:2] == b"\x1f\x8b":
        out.append(gzip.decompress(data))
    if data[:4] == b"PAR1":
        out.append(repr(pq.read_table(path).to_pylist()).encode())
    return out


def texts_of_duckdb(path: Path) -> list[str]:
    """Every value of every table (cast to text), and dlt's state decompressed."""
    out: list[str] = []
    with duckdb.connect(str(path), read_only=True) as conn:
        tables = conn.execute("SELECT table_schema, table_name FROM information_schema.tables").fetchall()
        for schema, table in tables:
            out.extend(repr(row) for row in conn.execute(f'SELECT * FROM "{schema}"."{table}"').fetchall())
            if table == "_dlt_pipeline_state":
                for (state,) in conn.execute(f'SELECT state FROM "{schema}"."{table}"').fetchall():
                    out.append(repr(decompress_state(state)))
    return out


def where_is(secret: str, root: Path, outputs: list[Run]) -> list[str]:
    """Every place the secret was found."""
    found = [f"output of run {i}" for i, run in enumerate(outputs) if secret in run.out + run.err]
    needle = secret.encode()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if any(needle in text for text in texts_of_file(path)):
            found.append(str(path.relative_to(root)))
        if path.suffix == ".duckdb" and any(secret in t for t in texts_of_duckdb(path)):
            found.append(f"{path.relative_to(root)} (table values)")
    return found
