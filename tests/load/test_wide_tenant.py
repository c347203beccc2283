"""A wide tenant (100 custom attributes per user) loads under the default DuckDB settings.

The former fixed `memory_limit: 96MB` failed here with DuckDB's OutOfMemoryException.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
from gainsight_px.emulator import TenantSpec
from load_helpers import cli_env, run_cli

WIDE = TenantSpec(users=10_000, accounts=100, extra_attributes=100, seed=5)


def test_a_wide_tenant_loads_under_the_default_settings(make_emulator, tmp_path: Path) -> None:
    emulator = make_emulator(tenant=WIDE)
    db = tmp_path / "gainsight.duckdb"
    env = cli_env(emulator, tmp_path, DESTINATION__DUCKDB__CREDENTIALS=str(db),
                  SOURCES__GAINSIGHT_PX__DIALECT="contract")
    result = run_cli(["load", "--resources", "users", "--progress", "none"], env, tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    with duckdb.connect(str(db), read_only=True) as conn:
        rows, keys = conn.execute("SELECT count(*), count(DISTINCT aptrinsic_id) FROM gainsight_px.users").fetchone()
        attributes = conn.execute(
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'gainsight_px' "
            "AND table_name = 'users' AND column_name LIKE 'custom_attributes__%'").fetchone()[0]
    assert rows == keys == 10_000
    assert attributes >= 100
