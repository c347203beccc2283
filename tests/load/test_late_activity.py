"""Late activity: a lastSeenDate older than the newest one loaded (PX stamps activity asynchronously).
Without a lookback it is lost; with `lookback_s` it loads, and merge removes the overlap."""

from __future__ import annotations

from pathlib import Path

import pytest
from gainsight_px.emulator import TenantSpec
from load_helpers import Loader

TENANT = TenantSpec(users=120, accounts=12, seed=23)


@pytest.mark.parametrize("lookback_s", [0, 3600])
def test_back_dated_activity_loads_within_the_lookback(make_emulator, tmp_path: Path, lookback_s: int) -> None:
    emulator = make_emulator(tenant=TENANT)
    loader = Loader(emulator, tmp_path)
    loader.run(resources="users", dialect="contract", lookback_s=lookback_s)
    newest = max(r.get("lastSeenDate") or 0 for r in emulator.control.records("users"))
    emulator.control.simulate_activity(count=1, at_ms=newest + 1000)  # the cursor moves on
    loader.run(resources="users", dialect="contract", lookback_s=lookback_s)
    late = emulator.control.simulate_activity(count=3, at_ms=newest - 10 * 60 * 1000)  # 10 min late
    loader.run(resources="users", dialect="contract", lookback_s=lookback_s)

    seen = dict(loader.query("SELECT aptrinsic_id, epoch_ms(last_seen_date) FROM gainsight_px.users"))
    arrived = [key for key in late if seen[key] == newest - 10 * 60 * 1000]
    assert loader.count("users") == 120  # no duplicates from the overlap
    assert len(arrived) == (3 if lookback_s else 0)
