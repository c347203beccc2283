"""Scans against a server that misbehaves on purpose: endless scrolls without totalHits, pages that
mostly repeat the page before, and scans that end short of totalHits. Each is stopped or resumed,
never silently accepted; requests are counted on the server."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from gainsight_px import paging
from gainsight_px.errors import GainsightPXError
from load_helpers import Loader

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "hostile"))
from hostile_server import HostileServer, dynamic  # noqa: E402

PAGE = 4


def _user(n: int) -> dict:
    return {"aptrinsicId": f"u{n:06d}", "identifyId": f"u{n:06d}", "lastSeenDate": 1_732_579_200_000 + n}


class _Stub:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.control = None


def _load(server: HostileServer, tmp_path: Path) -> Loader:
    loader = Loader(_Stub(server.base_url), tmp_path)  # type: ignore[arg-type]
    loader.run(resources="users", dialect="contract", page_size=PAGE)
    return loader


def test_an_endless_scroll_without_total_hits_stops_at_the_page_cap(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paging, "MAX_SCROLL_PAGES", 25)

    def endless(request) -> tuple[int, dict]:
        n = request.seq
        return 200, {"results": [_user(n * PAGE + i) for i in range(PAGE)], "scrollId": f"s{n}"}

    with HostileServer() as server:
        server.on("GET", "/users", dynamic(endless))
        with pytest.raises(GainsightPXError, match="25 pages without totalHits"):
            _load(server, tmp_path)
        assert len(server.requests("GET", "/users")) == 26


def test_a_page_that_mostly_repeats_the_page_before_is_stopped(tmp_path: Path) -> None:
    def sliding(request) -> tuple[int, dict]:  # each page: 3 of the last page's records + 1 new
        n = request.seq
        return 200, {"results": [_user(n + i) for i in range(PAGE)], "scrollId": f"s{n}", "totalHits": 10**6}

    with HostileServer() as server:
        server.on("GET", "/users", dynamic(sliding))
        with pytest.raises(GainsightPXError, match="repeats 3 of the 4 records"):
            _load(server, tmp_path)
        assert len(server.requests("GET", "/users")) == 2


def test_a_scan_ending_short_of_total_hits_is_resumed_then_reported(tmp_path: Path) -> None:
    def short(request) -> tuple[int, dict]:  # says 10, ends after 6, every time
        first = request.param("scrollId") is None
        records = [_user(i) for i in range(PAGE)] if first else [_user(4), _user(5)]
        return 200, {"results": records, "scrollId": "s", "totalHits": 10}

    with HostileServer() as server:
        server.on("GET", "/users", dynamic(short))
        with pytest.raises(GainsightPXError, match="ended after 6 of the 10 records"):
            _load(server, tmp_path)
        scans = [r for r in server.requests("GET", "/users") if r.param("scrollId") is None]
        # Resumed (from the highest lastSeenDate reached), then reported: this server ignores the
        # resume's filter and sort, so the scan cannot go on safely.
        assert 2 <= len(scans) <= paging.MAX_RESTARTS + 2


def test_records_deleted_during_a_scan_lower_the_total_of_the_resumed_scan(tmp_path: Path) -> None:
    def deleted(request) -> tuple[int, dict]:  # 10 announced, 4 deleted meanwhile: the resume says 6
        first = request.param("scrollId") is None
        total = 10 if request.seq == 1 else 6
        records = [_user(i) for i in range(PAGE)] if first else [_user(4), _user(5)]
        return 200, {"results": records, "scrollId": "s", "totalHits": total}

    with HostileServer() as server:
        server.on("GET", "/users", dynamic(deleted))
        loader = _load(server, tmp_path)
    assert loader.count("users") == 6
