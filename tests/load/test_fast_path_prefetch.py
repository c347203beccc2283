"""prefetch.ahead (the event streams' worker): order, errors after the pages before them, a clean stop."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from gainsight_px import prefetch


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
