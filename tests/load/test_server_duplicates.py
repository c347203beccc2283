"""Records the server sends twice, within a page or across pages, load once (the merge deduplicates
staging on the primary key, keeping the newest lastSeenDate) on a first load, a reconcile and an
incremental run alike; and a source object reused for a second run keeps merging."""

from __future__ import annotations

import sys
from pathlib import Path

import dlt
import duckdb
import pytest
from gainsight_px import gainsight_px_source
from gainsight_px.settings import EMULATOR_API_KEY
from load_helpers import Loader

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "hostile"))
from hostile_server import HostileServer, dynamic  # noqa: E402


def _user(key: str, seen: int) -> dict:
    return {"aptrinsicId": key, "identifyId": key, "lastSeenDate": seen, "email": f"{key}-{seen}@x.test"}


# Page size 3: a full first page with a repeat inside it, then a short page repeating two records.
PAGES = {None: [_user("u1", 100), _user("u2", 200), _user("u1", 150)],
         "s1": [_user("u2", 250), _user("u3", 300)]}


def _users(request) -> tuple[int, dict]:
    return 200, {"results": PAGES[request.param("scrollId")], "totalHits": 5,
                 "scrollId": "s1" if request.param("scrollId") is None else "s2"}


class _Stub:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.control = None


@pytest.mark.parametrize("full_refresh", [False, True])
def test_records_sent_twice_load_once(tmp_path: Path, full_refresh: bool) -> None:
    with HostileServer() as server:
        server.on("GET", "/users", dynamic(_users))
        loader = Loader(_Stub(server.base_url), tmp_path)  # type: ignore[arg-type]
        loader.run(resources="users", dialect="contract", page_size=3)
        if full_refresh:
            loader.run(resources="users", dialect="contract", page_size=3, full_refresh=True)
    rows = loader.query("SELECT aptrinsic_id, email FROM gainsight_px.users ORDER BY aptrinsic_id")
    # One row per key, the copy with the newest lastSeenDate.
    assert rows == [("u1", "u1-150@x.test"), ("u2", "u2-250@x.test"), ("u3", "u3-300@x.test")]


def test_a_reused_source_object_keeps_merging(emulator, tmp_path: Path) -> None:
    pipeline = dlt.pipeline("reused", destination=dlt.destinations.duckdb(str(tmp_path / "w.duckdb")),
                            dataset_name="gainsight_px", pipelines_dir=str(tmp_path / "p"))
    source = gainsight_px_source(api_key=EMULATOR_API_KEY, base_url=emulator.base_url,
                                 dialect="contract").with_resources("users")
    pipeline.run(source)
    total = len(emulator.control.records("users"))
    emulator.control.simulate_activity(count=5)
    pipeline.run(source)  # the same object: an incremental run that merges, not a replace
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM gainsight_px.users").fetchone()[0] == total
