"""The scan runs a page ahead of the conversion (prefetch.py): same requests, same rows, same restarts."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from dlt.common.normalizers.naming.snake_case import NamingConvention
from gainsight_px import prefetch
from gainsight_px.client import PXClient
from gainsight_px.columns import PageConverter
from gainsight_px.emulator import Emulator, TenantSpec
from gainsight_px.paging import Scan
from gainsight_px.settings import EMULATOR_API_KEY
from gainsight_px.source import _tables

NAMING = NamingConvention()


def _client(emulator: Emulator) -> PXClient:
    return PXClient(emulator.base_url, EMULATOR_API_KEY, max_attempts=3, backoff_factor=0.01)


def _endpoint(emulator: Emulator) -> Any:
    return emulator.dialect["users"]


def _key_column(emulator: Emulator) -> str:
    return NAMING.normalize_identifier(_endpoint(emulator).primary_key)


def _list_queries(emulator: Emulator) -> list[dict[str, Any]]:
    """The /users requests in the order the server saw them, scroll ids masked (each scan has its own)."""
    out = []
    for r in emulator.control.requests():
        if r["method"] == "GET" and r["path"].endswith("/users"):
            query = dict(r["query"])
            if "scrollId" in query:
                query["scrollId"] = ["<scroll>"]
            out.append(query)
    return out


def _loaded_keys(scan: Scan, emulator: Emulator, **kwargs: Any) -> list[str]:
    converter = PageConverter(_endpoint(emulator), NAMING)
    keys: list[str] = []
    for table in _tables(scan, converter, **kwargs):
        keys.extend(table.column(_key_column(emulator)).to_pylist())
    return keys


# -- the worker itself -----------------------------------------------------------------------


def test_ahead_keeps_order_and_raises_after_the_pages_before_the_error() -> None:
    def pages() -> Iterator[int]:
        yield from range(50)
        raise ValueError("page 51 broke")

    seen: list[int] = []
    with pytest.raises(ValueError, match="page 51 broke"):
        for page in prefetch.ahead(pages()):
            seen.append(page)
    assert seen == list(range(50))


def test_ahead_runs_the_pages_in_another_thread_and_stops_it_when_closed() -> None:
    closed = threading.Event()
    threads: set[str] = set()

    def pages() -> Iterator[int]:
        try:
            for n in range(1_000_000):
                threads.add(threading.current_thread().name)
                yield n
        finally:
            closed.set()

    consumer = prefetch.ahead(pages())
    assert [next(consumer) for _ in range(3)] == [0, 1, 2]
    consumer.close()
    assert closed.wait(30)  # the source generator was closed (in the worker), not left running
    assert threads == {"px-prefetch"}


# -- through the load's _tables, against the emulator ------------------------------------------


@pytest.mark.parametrize("dialect_name", ["contract", "published"])
def test_prefetched_load_sends_the_same_requests_in_order_and_yields_the_same_rows(
        make_emulator: Callable[..., Emulator], dialect_name: str) -> None:
    emulator = make_emulator(dialect=dialect_name, tenant=TenantSpec(users=230, accounts=10, seed=3))
    client = _client(emulator)

    plain = Scan(client, _endpoint(emulator), page_size=20)
    plain_keys = [r[plain.key_field] for page in plain.pages() for r in page]
    plain_requests = _list_queries(emulator)
    emulator.control.reset_log()

    scan = Scan(client, _endpoint(emulator), page_size=20)
    keys = _loaded_keys(scan, emulator, batch_rows=30)

    assert keys == plain_keys  # same rows, same order
    assert len(keys) == len(set(keys)) == 230
    assert _list_queries(emulator) == plain_requests  # same requests, same order
    assert scan.stats.requests == plain.stats.requests == len(plain_requests)
    assert scan.position == plain.position


def test_the_scan_runs_in_the_prefetch_worker(emulator: Emulator) -> None:
    threads: set[str] = set()

    class Watched(Scan):
        def pages(self) -> Iterator[list[dict[str, Any]]]:
            for page in super().pages():
                threads.add(threading.current_thread().name)
                yield page

    scan = Watched(_client(emulator), _endpoint(emulator), page_size=50)
    keys = _loaded_keys(scan, emulator)
    assert len(keys) == len(set(keys)) == len(emulator.control.records("users"))
    assert threads == {"px-prefetch"}  # not this thread: the next page is fetched while this one converts


@pytest.mark.parametrize("fault", ["reset", "truncate", "502", "expire_scrolls"])
def test_a_continuation_broken_while_prefetching_restarts_and_loads_every_row_once(
        make_emulator: Callable[..., Emulator], fault: str) -> None:
    emulator = make_emulator(tenant=TenantSpec(users=300, accounts=10, seed=9))
    scan = Scan(_client(emulator), _endpoint(emulator), page_size=10)
    converter = PageConverter(_endpoint(emulator), NAMING)
    keys: list[str] = []
    for n, table in enumerate(_tables(scan, converter, batch_rows=10)):
        keys.extend(table.column(_key_column(emulator)).to_pylist())
        if n == 0:  # the worker is at most a few pages ahead of 30: the fault meets a continuation
            emulator.control.inject(fault, path="/v1/users")
    assert sorted(keys) == sorted(r["aptrinsicId"] for r in emulator.control.records("users"))
    assert len(keys) == len(set(keys))
    assert scan.stats.restarts == 1
    firsts = [q for q in _list_queries(emulator) if "scrollId" not in q]
    assert firsts == [{"pageSize": ["10"]}, {"pageSize": ["10"], "sort": ["lastSeenDate:asc;aptrinsicId:asc"]}]


def test_an_error_in_the_scan_surfaces_in_the_load_after_the_rows_before_it(emulator: Emulator) -> None:
    from gainsight_px.errors import AuthError

    scan = Scan(_client(emulator), _endpoint(emulator), page_size=10)
    converter = PageConverter(_endpoint(emulator), NAMING)
    tables = _tables(scan, converter, batch_rows=10)
    first = next(tables)
    assert first.num_rows == 10
    emulator.control.revoke_auth()
    with pytest.raises(AuthError):
        for _ in tables:
            pass
