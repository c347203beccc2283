"""Helpers for the marts tests (imported by name; pytest puts this folder on sys.path)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import dlt
import duckdb
import marts_reference as ref
from gainsight_px.emulator import Emulator, TenantSpec
from gainsight_px.load import LoadSummary, run_load
from gainsight_px.settings import EMULATOR_API_KEY
from warehouses import Warehouse

DAY_MS = 86_400_000
DB_FILE = "gainsight.duckdb"  # what load() writes in its working directory
RESOURCES = ("users", "accounts", "features", "engagements", "subscriptions")
EMPTY_TENANT = TenantSpec(users=0, accounts=0, features=0, engagements=0, subscriptions=0, seed=1)


def ago(now_ms: int, days: float) -> int:
    """Epoch ms `days` before `now_ms`. Half days keep whole-day counts clear of
    the few seconds between building the tenant and the load."""
    return now_ms - int(days * DAY_MS)


def rows(path: Path | Warehouse, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    """Query a loaded DuckDB file read-only, as the notebook does (or a loaded
    PostgreSQL database, the same SQL); rows as dicts.

    The session runs at UTC+14: the views promise UTC days whatever the
    analyst's timezone, and a slip shows up here as days off by one.
    """
    if isinstance(path, Warehouse):
        return path.query(sql, params)
    with duckdb.connect(str(path), read_only=True) as con:
        con.execute("SET TimeZone = 'Pacific/Kiritimati'")
        cur = con.execute(sql, params or [])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def view_names(path: Path | Warehouse, schema: str = "gainsight_px_marts") -> set[str]:
    if isinstance(path, Warehouse):
        return path.views(schema)
    return {r["view_name"] for r in rows(
        path, "SELECT view_name FROM duckdb_views() WHERE schema_name = ?", [schema])}


def load(emu: Emulator, workdir: Path, dataset: str = "gainsight_px", warehouse: Warehouse | None = None,
         **kwargs: Any) -> LoadSummary:
    """Load the emulator's tenant with the project's own load into `workdir / DB_FILE`
    (or into `warehouse`)."""
    return run_load(
        api_key=EMULATOR_API_KEY,
        base_url=emu.base_url,
        destination=warehouse.destination() if warehouse else dlt.destinations.duckdb(str(workdir / DB_FILE)),
        dataset_name=dataset,
        pipelines_dir=str(workdir / "pipelines"),
        progress="none",
        **kwargs,
    )


@dataclass
class Loaded:
    """A loaded DuckDB file, the records it was loaded from, and the views' `as_of`."""

    path: Path | Warehouse  # the DuckDB file, or the PostgreSQL database
    records: dict[str, list[dict]]
    now_ms: int  # the clock the hand-made records were placed against
    as_of_us: int

    @property
    def as_of_day(self) -> date:
        return ref.utc_day(self.as_of_us // 1000)


def as_of_us(path: Path | Warehouse, dataset: str = "gainsight_px") -> int:
    [row] = rows(path, f"SELECT max(inserted_at) AS t FROM {dataset}._dlt_loads WHERE status = 0")
    return (row["t"] - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def snapshot(emu: Emulator, path: Path | Warehouse, now_ms: int) -> Loaded:
    records = {r: emu.store.records(r) for r in RESOURCES}
    return Loaded(path=path, records=records, now_ms=now_ms, as_of_us=as_of_us(path))


def add_hand_tenant(emu: Emulator, now_ms: int) -> None:
    """The hand-made tenant of test_views_expected.py (see the expected values there)."""
    add = emu.control.add_record
    accounts = [
        ("acc-busy", "Busy Co", "Pro", 0.5, 4, {"csm": "Dana Scully", "tier": 2}),
        ("acc-quiet", "Quiet Ltd", "Free", 45.5, 2, {"csm": "Fox Mulder"}),
        ("acc-never", "Never Inc", "Starter", None, 1, {}),
        ("acc/empty one", "Empty", None, None, 0, {}),  # no users; an id that needs quoting
        # no users loaded: their own lastSeenDate is their last activity
        ("acc-month", "Month Ago", "Pro", 30.5, 0, {}),
        ("acc-old", "Old Corp", "Free", 95.5, 0, {}),
    ]
    for id_, name, plan, seen, n_users, attrs in accounts:
        add("accounts", {"id": id_, "name": name, "plan": plan, "numberOfUsers": n_users,
                         "lastSeenDate": ago(now_ms, seen) if seen is not None else 0,
                         "customAttributes": attrs})
    users = [  # identifyId, accountId, last seen (days ago), first visit (days ago), attributes
        ("u-busy-1", "acc-busy", 0.5, 40.5, {"plan": "Pro"}),
        ("u-busy-2", "acc-busy", 3.5, 3.5, {}),
        ("u-busy-3", "acc-busy", 20.5, 100.5, {}),
        ("u-busy-4", "acc-busy", 7.5, 7.5, {}),
        ("u-quiet-1", "acc-quiet", 45.5, 200.5, {}),
        ("u-quiet-2", "acc-quiet", 50.5, 60.5, {}),
        ("u-never", "acc-never", None, None, {}),
        ("u-loner", None, 1.5, 1.5, {}),
    ]
    for n, (identify_id, account, seen, first, attrs) in enumerate(users, start=1):
        add("users", {"aptrinsicId": f"apt-{n}", "identifyId": identify_id, "accountId": account,
                      "email": f"{identify_id}@example.com",
                      "lastSeenDate": ago(now_ms, seen) if seen is not None else 0,
                      "firstVisitDate": ago(now_ms, first) if first is not None else 0,
                      "numberOfVisits": 0 if seen is None else 5, "customAttributes": attrs})
    for id_, users_, events in (("f-a", 3, 30), ("f-b", 7, 7), ("f-c", 0, 0)):
        add("features", {"id": id_, "name": f"Feature {id_}", "type": "PAGE", "url": f"/app/{id_}",
                         "totalUserCount": users_, "totalEventCount": events})
    for n, (type_, state) in enumerate((("Dialog", "LIVE"), ("Dialog", "LIVE"), ("Guide", "DRAFT")), start=1):
        add("engagements", {"id": f"e-{n}", "name": f"{type_} {n}", "type": type_, "state": state,
                            "createdDate": ago(now_ms, 10 * n)})


def now_ms() -> int:
    return int(time.time() * 1000)
