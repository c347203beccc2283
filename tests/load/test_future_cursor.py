"""One record stamped in the far future (lastSeenDate 9999-12-31) loads, the run warns naming it,
and the cursor does not move there: later activity keeps loading."""

from __future__ import annotations

from pathlib import Path

from gainsight_px.emulator import TenantSpec
from gainsight_px.timestamps import now_ms
from load_helpers import Loader

TENANT = TenantSpec(users=80, accounts=8, seed=17)
FAR_FUTURE_MS = 253_402_214_400_000  # 9999-12-31T00:00:00Z


def test_a_future_cursor_value_never_moves_the_cursor(make_emulator, tmp_path: Path) -> None:
    emulator = make_emulator(tenant=TENANT)
    emulator.control.add_record("users", {"aptrinsicId": "poisoned", "identifyId": "poisoned",
                                          "lastSeenDate": FAR_FUTURE_MS})
    loader = Loader(emulator, tmp_path)
    first = loader.run(resources="users", dialect="contract")
    assert loader.count("users") == 81  # the record still loads
    assert any("poisoned" in w and "9999-12-31" in w for w in first.warnings), first.warnings

    # Activity stamped by the present clock, as a real tenant stamps it (the emulator's default
    # stamps activity after every value it holds, here after the poisoned one).
    active = emulator.control.simulate_activity(count=5, at_ms=now_ms())
    second = loader.run(resources="users", dialect="contract")
    assert second.rows["users"] >= 5  # not 0: the cursor stayed in the present
    ids = [a["aptrinsicId"] if isinstance(a, dict) else a for a in active]
    seen = dict(loader.query("SELECT aptrinsic_id, epoch_ms(last_seen_date) FROM gainsight_px.users"))
    for record in emulator.control.records("users"):
        if record["aptrinsicId"] in ids:
            assert seen[record["aptrinsicId"]] == record["lastSeenDate"]
