"""Run a page iterator a few pages ahead of its consumer, in a worker thread.

A load spends its time in two places that need not wait for each other: the
scan (HTTP, JSON parse, paging bookkeeping; the socket wait frees the GIL) and
the conversion to Arrow plus dlt's writing. `ahead(pages)` runs the whole scan
in one worker thread and hands its pages over through a bounded queue, so the
next request is in flight while the current pages convert. The event streams
use it (event_source.py). Users and accounts do not: measured on the 2-core
bench, it paid nothing there (their orjson parse and conversion both hold the
GIL, and the emulator takes the other core).

What stays as it was:

- **The requests.** One thread runs the scan, in order, exactly as without the
  worker: the same first page, the same continuations, the same restarts
  (paging.py's rules are the scan's own and run inside it).
- **Errors.** Whatever the scan raises is raised to the consumer, as it is,
  after the pages before it.
- **Memory.** At most `depth` pages wait in the queue, plus the one the worker
  holds while the queue is full.
- **Stopping.** Closing the consumer (dlt closes a resource early, or the
  conversion fails) stops the worker at its next page; it finishes the request
  in flight, if any, and the scan's generator is closed in the worker thread.
  On Ctrl-C the consumer does not wait for it (the thread is a daemon).

The scan's counters and positions are read by the caller only after the last
page came through, when the worker is done with them.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")

DEPTH = 1  # pages waiting in the queue: one page ahead is enough to keep a request in flight
_POLL_S = 0.1  # how often a blocked worker looks whether the consumer is gone
_JOIN_S = 5.0  # how long a closing consumer waits for the worker's request in flight

_DONE = object()


class _Failed:
    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


def ahead(pages: Iterator[T], depth: int = DEPTH, name: str = "px-prefetch") -> Iterator[T]:
    """`pages`, produced by a worker thread up to `depth` items ahead of the consumer."""
    box: queue.Queue[object] = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                box.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for page in pages:
                if not put(page):
                    return
            put(_DONE)
        except BaseException as exc:  # handed to the consumer, which raises it
            put(_Failed(exc))
        finally:
            close = getattr(pages, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=work, name=name, daemon=True)
    worker.start()
    interrupted = False
    try:
        while True:
            item = box.get()
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item  # type: ignore[misc]
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        stop.set()
        if not interrupted:
            worker.join(timeout=_JOIN_S)
