"""Scroll paging against the emulator: broken scans restart and never skip or repeat a record."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest
from gainsight_px.client import PXClient
from gainsight_px.emulator import Emulator, TenantSpec
from gainsight_px.endpoints import CONTRACT
from gainsight_px.errors import AuthError, PagingError
from gainsight_px.paging import Position, Scan
from gainsight_px.settings import EMULATOR_API_KEY
from load_helpers import Loader

USERS = CONTRACT["users"]
FEATURES = CONTRACT["features"]


def client_for(emulator: Emulator) -> PXClient:
    return PXClient(emulator.base_url, EMULATOR_API_KEY, max_attempts=3, backoff_factor=0.01)


def read_with(scan: Scan, after_page: int, action) -> list[str]:
    """Every key a scan yields; `action()` runs once, right after page `after_page`."""
    keys: list[str] = []
    for n, records in enumerate(scan.pages(), start=1):
        keys.extend(r[scan.key_field] for r in records)
        if n == after_page:
            action()
    return keys


def all_keys(emulator: Emulator, resource: str) -> list[str]:
    key = CONTRACT[resource].primary_key
    return sorted(r[key] for r in emulator.control.records(resource))


@pytest.mark.parametrize("fault", ["expire_scrolls", "reset", "truncate", "500", "502", "html_502"])
def test_a_full_scan_survives_a_broken_continuation(emulator: Emulator, fault: str) -> None:
    scan = Scan(client_for(emulator), USERS, page_size=40)

    keys = read_with(scan, 2, lambda: emulator.control.inject(fault, path="/v1/users"))

    assert sorted(keys) == all_keys(emulator, "users")  # nothing lost, nothing twice
    assert scan.stats.restarts == 1
    # A full read starts unsorted; its restart is a sorted scan from the start.
    firsts = [r["query"] for r in emulator.control.requests() if "scrollId" not in r["query"]]
    assert firsts == [{"pageSize": ["40"]}, {"pageSize": ["40"], "sort": ["lastSeenDate:asc;aptrinsicId:asc"]}]


def test_a_full_scan_broken_twice_resumes_from_the_cursor_the_second_time(emulator: Emulator) -> None:
    scan = Scan(client_for(emulator), USERS, page_size=40)
    pages = scan.pages()
    keys = [r["aptrinsicId"] for r in next(pages)]
    emulator.control.expire_scrolls()
    keys += [r["aptrinsicId"] for r in next(pages)]  # the sorted restart's first page
    reached = None
    for n, records in enumerate(pages):
        keys += [r["aptrinsicId"] for r in records]
        if n == 0:
            reached = max(r["lastSeenDate"] for r in records)
            emulator.control.inject("reset", path="/v1/users")

    assert sorted(keys) == all_keys(emulator, "users")
    assert scan.stats.restarts == 2
    firsts = [r["query"] for r in emulator.control.requests() if "scrollId" not in r["query"]]
    assert len(firsts) == 3
    assert firsts[2]["filter"][0] in (f"lastSeenDate>{reached}", f"lastSeenDate>={reached}")


def test_a_non_cursor_scan_restarts_from_the_top(emulator: Emulator) -> None:
    scan = Scan(client_for(emulator), FEATURES, page_size=7)

    keys = read_with(scan, 2, lambda: emulator.control.inject("truncate", path="/v1/feature_match"))

    assert sorted(keys) == all_keys(emulator, "features")
    firsts = [r["query"] for r in emulator.control.requests() if "scrollId" not in r["query"]]
    assert firsts == [{"pageSize": ["7"]}, {"pageSize": ["7"]}]


@pytest.mark.parametrize("fault", ["expire_scrolls", "reset", "truncate", "503"])
def test_an_incremental_scan_resumes_from_the_last_cursor_value(emulator: Emulator, fault: str) -> None:
    users = emulator.control.records("users")
    start = sorted(u["lastSeenDate"] for u in users if u["lastSeenDate"])[20]
    expected = sorted(u["aptrinsicId"] for u in users if u["lastSeenDate"] >= start)
    scan = Scan(client_for(emulator), USERS, page_size=30, start=Position(start))
    reached: list[int] = []

    def break_it() -> None:
        reached.append(scan.position.cursor)
        emulator.control.inject(fault, path="/v1/users")

    keys = read_with(scan, 3, break_it)

    assert sorted(keys) == expected
    assert scan.stats.restarts == 1
    firsts = [r["query"] for r in emulator.control.requests() if "scrollId" not in r["query"]]
    assert len(firsts) == 2
    assert firsts[0]["filter"] == [f"lastSeenDate>={start}"]
    # Resumed at the highest value reached, inclusive, excluding what was already read there.
    assert firsts[1]["filter"][0] == f"lastSeenDate>{reached[0]}"
    assert firsts[1]["filter"][1].startswith(f"lastSeenDate=={reached[0]};aptrinsicId!=")
    assert firsts[1]["sort"] == ["lastSeenDate:asc;aptrinsicId:asc"]


@pytest.mark.parametrize("incremental", [False, True])
def test_scrolls_that_always_expire_still_load_everything(make_emulator, make_loader, incremental) -> None:
    """Every continuation finds its scroll expired: each new scan resumes where the data left off."""
    emulator = make_emulator(tenant=TenantSpec(users=120, accounts=12, seed=5), scroll_ttl=0.0)
    loader: Loader = make_loader(emulator)
    moved: list[str] = []
    if incremental:
        loader.run(resources="users")  # one page: nothing to expire
        moved = emulator.control.simulate_activity(count=60)
    emulator.control.reset_log()

    summary = loader.run(resources="users", page_size=10)

    assert summary.rows["users"] == (60 if incremental else 120)
    assert summary.restarts >= 5
    assert loader.query("SELECT count(*), count(DISTINCT aptrinsic_id) FROM gainsight_px.users") == [(120, 120)]
    fresh = {u["aptrinsicId"]: u["lastSeenDate"] for u in emulator.control.records("users")}
    loaded = dict(loader.query("SELECT aptrinsic_id, epoch_ms(last_seen_date) FROM gainsight_px.users"))
    assert loaded == {k: (v or None) for k, v in fresh.items()}
    assert set(moved) <= set(loaded)
    if incremental:
        # 60 users share one lastSeenDate: past 50 of them, restarts go on after the last key read.
        filters = [f for r in emulator.control.requests() for f in r["query"].get("filter", [])]
        assert any(f.startswith("lastSeenDate==") and ";aptrinsicId>" in f for f in filters)


def test_a_first_page_error_is_retried_not_restarted(emulator: Emulator) -> None:
    emulator.control.inject("503", count=2, path="/v1/feature_match")
    scan = Scan(client_for(emulator), FEATURES, page_size=500)

    keys = [r["id"] for page in scan.pages() for r in page]

    assert sorted(keys) == all_keys(emulator, "features")
    assert scan.stats.restarts == 0
    assert [r["status"] for r in emulator.control.requests()] == [503, 503, 200]


def test_auth_failure_mid_scan_fails_at_once(emulator: Emulator) -> None:
    scan = Scan(client_for(emulator), USERS, page_size=50)

    with pytest.raises(AuthError) as info:
        read_with(scan, 1, emulator.control.revoke_auth)

    assert "SOURCES__GAINSIGHT_PX__API_KEY" in str(info.value)
    assert EMULATOR_API_KEY not in str(info.value)
    assert scan.stats.restarts == 0


def test_restarts_that_make_no_progress_are_bounded(make_emulator) -> None:
    # Without a cursor every new scan starts at the top; if no continuation ever works, give up.
    emulator = make_emulator(scroll_ttl=0.0)
    scan = Scan(client_for(emulator), FEATURES, page_size=5, max_restarts=3)

    with pytest.raises(PagingError, match="gave up after 3 restarts"):
        list(scan.pages())
    assert scan.stats.restarts == 1 + 4  # one after the first page's progress, then four in a row without
    assert scan.stats.records == 5  # the first page, once


# -- a server that misbehaves in ways the emulator never does -------------------------------


class _Looping(BaseHTTPRequestHandler):
    """Full pages forever: the same page (mode "same") or new records (mode "endless")."""

    mode = "same"
    served = 0

    def do_GET(self) -> None:  # noqa: N802
        cls = type(self)
        cls.served += 1
        start = 0 if cls.mode == "same" else cls.served * 10
        body = {"results": [{"id": f"f-{start + i}", "name": "x"} for i in range(10)],
                "scrollId": "same-forever", "totalHits": 30}
        data = orjson.dumps(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def looping_server() -> Iterator[tuple[str, type[_Looping]]]:
    handler = type("Handler", (_Looping,), {"served": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", handler
    server.shutdown()
    server.server_close()


def test_a_scroll_that_repeats_the_same_page_is_an_error(looping_server) -> None:
    base_url, handler = looping_server
    handler.mode = "same"
    scan = Scan(PXClient(base_url, "k"), FEATURES, page_size=10)

    with pytest.raises(PagingError, match="same page twice"):
        list(scan.pages())
    assert handler.served == 2


def test_a_scroll_longer_than_total_hits_is_an_error(looping_server) -> None:
    base_url, handler = looping_server
    handler.mode = "endless"
    scan = Scan(PXClient(base_url, "k"), FEATURES, page_size=10)

    with pytest.raises(PagingError, match="more pages than totalHits"):
        list(scan.pages())
    assert handler.served == 3 + 2 + 1  # ceil(30 / 10) + slack, then the one too many


def test_a_restart_inside_a_crowded_start_boundary_loses_no_late_arrival(make_emulator) -> None:
    emulator = make_emulator(tenant=TenantSpec(users=200, accounts=10, seed=17))
    ids = [u["aptrinsicId"] for u in emulator.control.records("users")]
    crowd, late = ids[:60], ids[60:90]  # the crowd was loaded last run; 30 more arrive at the same ms
    boundary = max(u["lastSeenDate"] for u in emulator.control.records("users")) + 1
    emulator.control.simulate_activity(ids=crowd + late, at_ms=boundary)
    scan = Scan(client_for(emulator), USERS, page_size=10, start=Position(boundary, set(crowd)))

    keys = read_with(scan, 1, emulator.control.expire_scrolls)

    assert sorted(keys) == sorted(late)
    assert scan.stats.restarts == 1
