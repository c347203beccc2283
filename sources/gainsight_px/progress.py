"""dlt's progress display, labelled with what is moving.

dlt names its steps after the schema and the load id ("Load gainsight_px in
1796112387.8137486: Jobs"), which tells a user nothing. These collectors show
the same counters as "fetching from PX: users rows", "writing to the destination:
table files" and so on; the numbers are dlt's own.
"""

from __future__ import annotations

import re
from typing import Any

from dlt.common.runtime.collector import LogCollector, TqdmCollector

_STEP = re.compile(r"^(?P<kind>Extract|Normalize|Load)\b")
STEP_LABELS = {
    "Extract": "fetching from PX",
    "Normalize": "preparing rows",
    "Load": "writing to the destination",
}
COUNTER_LABELS = {
    "Resources": "resources done",
    "Files": "files prepared",
    "Items": "items prepared",
    "Jobs": "table files written",
}


def step_label(step: str) -> str:
    m = _STEP.match(step)
    return STEP_LABELS[m["kind"]] if m else step


def counter_label(name: str) -> str:
    # Any other counter is a table, counted in rows.
    return COUNTER_LABELS.get(name, f"{name} rows")


class _Labelled:
    step: str

    def __call__(self, step: str) -> Any:
        return super().__call__(step_label(step))  # type: ignore[misc]

    def update(self, name: str, inc: int = 1, total: int | None = None, inc_total: int | None = None,
               message: str | None = None, label: str | None = None) -> None:
        if name.startswith("_dlt"):
            return  # dlt's own bookkeeping (pipeline state), not the user's data
        super().update(counter_label(name), inc, total, inc_total, message, label)  # type: ignore[misc]


class PXLogCollector(_Labelled, LogCollector):
    """A line every few seconds (CI logs, cron mail), labelled."""


class PXTqdmCollector(_Labelled, TqdmCollector):
    """Progress bars on a terminal, labelled."""
