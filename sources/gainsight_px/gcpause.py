"""Keep Python's cyclic garbage collector out of the page loop.

A page of 500 users parses into a few thousand dicts and lists, none of them
in a reference cycle: reference counting frees them. The collector still runs
every ~700 new containers, and its full passes walk every object the process
holds (dlt, pyarrow, the records of the batch being converted): about half of
the JSON parse time of a 1M-user load went to it (bench/README.md). While a
scan runs, `collector_paused()` switches it off and freezes the objects that
exist already (`gc.freeze`: they are never walked again); on exit it puts them
back and switches the collector on again, so nothing leaks past the scan.

Resources may be read interleaved (dlt's round-robin), so the pauses nest by
count: the collector comes back when the last one ends, and only if it was on
before the first one began.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic collection inside; the collector's state is restored when the last pause ends."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
            gc.freeze()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                gc.unfreeze()
                if _was_enabled:
                    gc.enable()
