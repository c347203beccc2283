"""`initial` limits first loads only: a reconcile with `initial` in config reads everything."""

from __future__ import annotations

from pathlib import Path

import pytest
from gainsight_px.emulator import TenantSpec
from load_helpers import Loader

TENANT = TenantSpec(users=200, accounts=20, seed=21)


def test_a_reconcile_ignores_initial_from_config(make_emulator, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    emulator = make_emulator(tenant=TENANT)
    seen = sorted(r.get("lastSeenDate") or 0 for r in emulator.control.records("users"))
    middle = seen[len(seen) // 2]
    from datetime import UTC, datetime

    monkeypatch.setenv("SOURCES__GAINSIGHT_PX__INITIAL", datetime.fromtimestamp(middle / 1000, UTC).isoformat())
    loader = Loader(emulator, tmp_path)
    loader.run(resources="users", dialect="contract")
    limited = loader.count("users")
    assert 0 < limited < 200  # the first load honours initial
    loader.run(resources="users", dialect="contract", full_refresh=True)
    assert loader.count("users") == 200
