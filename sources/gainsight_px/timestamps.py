"""Epoch milliseconds, the one time unit PX speaks, in one place.

Every PX timestamp is an integer count of milliseconds since the epoch, UTC.
The load, the push, the emulator and the bench all convert to and from it
through these helpers, so that rounding and the naive-means-UTC rule are the
same everywhere. Nothing here imports either flow.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def now_ms() -> int:
    """The current time in epoch milliseconds."""
    return time.time_ns() // 1_000_000


def datetime_to_ms(value: datetime) -> int:
    """A datetime in epoch milliseconds, exactly (no float rounding); naive counts as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - _EPOCH
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


def ms_to_datetime(ms: int) -> datetime:
    """Epoch milliseconds as an aware UTC datetime."""
    return _EPOCH + timedelta(milliseconds=ms)


def as_ms(value: Any) -> int | None:
    """A wire value as epoch ms: an int, an integral float or digit text; anything else is None."""
    if type(value) is int:
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None

