"""Cost of the emulator itself, so benches measure the client and not the server.

The 1M-user figures are `slow` (run with --slow); the quick checks use 50k users.
"""

from __future__ import annotations

import time

import orjson
import pytest
from emu_helpers import NOW_MS
from gainsight_px.emulator.store import Store
from gainsight_px.emulator.tenant import TenantSpec, generate


def serve_pages(store: Store, pages: int) -> tuple[float, bytes]:
    """Seconds per 500-record page as the server builds it (slice + orjson)."""
    scroll = store.open_scroll("users", 500)
    t0 = time.perf_counter()
    for _ in range(pages):
        page = store.next_page(scroll)
        body = orjson.dumps({"results": page.results, "scrollId": page.scroll_id, "totalHits": page.total})
    return (time.perf_counter() - t0) / pages, body


def test_serving_a_page_is_cheaper_than_parsing_it():
    store = Store(generate(TenantSpec(users=50_000, seed=1), NOW_MS))
    per_page, body = serve_pages(store, 50)
    t0 = time.perf_counter()
    for _ in range(50):
        orjson.loads(body)  # the cheapest a client can parse a page
    parse = (time.perf_counter() - t0) / 50
    assert per_page < parse, (per_page, parse)


def test_snapshot_with_filter_and_sort_is_fast_at_50k():
    store = Store(generate(TenantSpec(users=50_000, seed=1), NOW_MS))
    t0 = time.perf_counter()
    scroll = store.open_scroll("users", 500, ["lastSeenDate>=1;customAttributes.plan==Pro", "identifyId~team*"],
                               "-lastSeenDate;identifyId")
    assert time.perf_counter() - t0 < 0.5
    assert 0 < len(scroll.records) < 50_000


@pytest.mark.slow
def test_one_million_users():
    t0 = time.perf_counter()
    data = generate(TenantSpec(users=1_000_000, seed=42), NOW_MS)
    gen = time.perf_counter() - t0
    store = Store(data)
    t0 = time.perf_counter()
    scroll = store.open_scroll("users", 500, ["lastSeenDate>=1;customAttributes.plan==Pro"], "-lastSeenDate")
    snap = time.perf_counter() - t0
    per_page, _ = serve_pages(store, 100)
    print(f"\n1M users: generate {gen:.1f}s, filter+sort snapshot {snap:.2f}s "
          f"({len(scroll.records)} hits), {per_page * 1000:.2f} ms per 500-user page")
    assert gen < 30
    assert snap < 2
