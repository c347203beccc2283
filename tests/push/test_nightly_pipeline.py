"""pipelines/push_attributes_nightly.py: warehouse SQL -> account attributes, a diff sync each night."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
from push_helpers import PushHarness

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "pipelines"))
import push_attributes_nightly  # noqa: E402


def make_warehouse(path: Path, accounts: list[str], users: list[tuple[str, str, int]]) -> None:
    """The tables a load leaves behind (dlt's snake_case columns), with just what the SQL reads."""
    with duckdb.connect(str(path)) as conn:
        conn.execute("CREATE SCHEMA gainsight_px")
        conn.execute("CREATE TABLE gainsight_px._dlt_loads (inserted_at TIMESTAMPTZ, status BIGINT)")
        conn.execute("INSERT INTO gainsight_px._dlt_loads VALUES ('2024-05-31 00:00:00+00', 0)")
        conn.execute("CREATE TABLE gainsight_px.accounts (id VARCHAR)")
        conn.executemany("INSERT INTO gainsight_px.accounts VALUES (?)", [[a] for a in accounts])
        conn.execute("CREATE TABLE gainsight_px.users (account_id VARCHAR, last_seen_date TIMESTAMPTZ, "
                     "number_of_visits BIGINT)")
        conn.executemany("INSERT INTO gainsight_px.users VALUES (?, ?::TIMESTAMPTZ, ?)", users)


def test_nightly_push_updates_existing_accounts_then_only_what_changed(px: PushHarness) -> None:
    db = px.workdir / "gainsight.duckdb"
    users = [("acc-00001", "2024-05-30 00:00:00+00", 3), ("acc-00001", "2024-01-01 00:00:00+00", 1),
             ("acc-00002", "2024-01-01 00:00:00+00", 9), ("acc-gone", "2024-05-30 00:00:00+00", 1)]
    make_warehouse(db, ["acc-00001", "acc-00002", "acc-gone"], users)

    assert push_attributes_nightly.main(["--duckdb", str(db), "--dry-run"]) == 2
    assert px.write_requests() == []
    assert push_attributes_nightly.main(["--duckdb", str(db)]) == 2  # acc-gone is not in PX
    accounts = {a["id"]: a["customAttributes"] for a in px.control.records("accounts")}
    assert "acc-gone" not in accounts  # update mode never creates
    assert {k: accounts["acc-00001"][k] for k in ("loadedUsers", "activeUsers30d", "activeShare30d", "healthTier")} \
        == {"loadedUsers": 2, "activeUsers30d": 1, "activeShare30d": 0.5, "healthTier": "healthy"}
    assert accounts["acc-00002"]["healthTier"] == "dormant"

    with duckdb.connect(str(db)) as conn:  # the next night: one account changed
        conn.execute("UPDATE gainsight_px.users SET last_seen_date = '2024-05-30' WHERE account_id = 'acc-00002'")
    px.control.reset_log()
    assert push_attributes_nightly.main(["--duckdb", str(db)]) == 2
    assert sorted(w["path"] for w in px.writes("accounts", ok=True)) == ["/v1/accounts/acc-00002"]
