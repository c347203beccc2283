"""Shared pieces of the fuzz suites: example budgets and the "clean failure" check."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from gainsight_px.errors import GainsightPXError
from hypothesis import HealthCheck, settings

SLOW = False  # set by conftest.py from `--slow`

T = TypeVar("T")


def fuzz_settings(default: int, slow: int) -> settings:
    """`max_examples` for this run; no deadline (no timed assertions on shared CI machines)."""
    return settings(
        max_examples=slow if SLOW else default,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                               HealthCheck.function_scoped_fixture, HealthCheck.large_base_example],
        print_blob=True,
    )


def outcome(call: Callable[[], T], *, hang_after_s: float = 120.0) -> T | GainsightPXError:
    """Run `call`; return its result or the `GainsightPXError` it raised.

    Any other exception propagates (the test fails with the traceback). A call
    still running after `hang_after_s` fails the test as a hang: this is a
    guard against infinite loops, not a performance assertion.
    """
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["result"] = call()
        except GainsightPXError as exc:
            box["result"] = exc
        except BaseException as exc:  # re-raised in the test's thread
            box["error"] = exc

    worker = threading.Thread(target=run, name="fuzz-call", daemon=True)
    worker.start()
    worker.join(hang_after_s)
    if worker.is_alive():
        raise AssertionError(f"the call did not finish within {hang_after_s:.0f} s: a hang")
    if "error" in box:
        raise box["error"]
    return box["result"]
