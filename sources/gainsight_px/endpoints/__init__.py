"""The Gainsight PX API as data: the ONLY place naming paths, verbs, query
parameters, response keys and limits.

One `Dialect` holds everything the source, the push and the emulator need to
know about one flavour of the API. Two exist:

- `CONTRACT` (contract.py): the seed OpenAPI contract, the emulator's default;
- `PUBLISHED` (published.py): Gainsight's published REST API v1, which every
  live tenant speaks.

`dialect_named("auto" | "contract" | "published")` reads the `dialect`
setting; `auto` is resolved against the server by `gainsight_px.dialects`.
"""

from __future__ import annotations

from typing import Literal

from gainsight_px.endpoints.contract import (
    CONTRACT,
    ENGAGEMENT_STATES,
    ENGAGEMENT_TYPES,
)
from gainsight_px.endpoints.model import Dialect, Endpoint, Field, FieldType, Paging
from gainsight_px.endpoints.published import PUBLISHED

# The dialect everything uses unless told (or auto-detection finds) otherwise.
DEFAULT_DIALECT = CONTRACT

DIALECTS: dict[str, Dialect] = {d.name: d for d in (CONTRACT, PUBLISHED)}
DialectSetting = Literal["auto", "contract", "published"]
DIALECT_CHOICES: tuple[str, ...] = ("auto", *DIALECTS)


def dialect_named(name: str | Dialect | None) -> Dialect | None:
    """The dialect for a setting value; None for `auto` (or nothing set).

    Raises ValueError naming the valid choices for anything else.
    """
    if isinstance(name, Dialect):
        return name
    value = (name or "auto").strip().lower()
    if value == "auto":
        return None
    if value not in DIALECTS:
        raise ValueError(f"unknown dialect {name!r}; expected one of: {', '.join(DIALECT_CHOICES)}")
    return DIALECTS[value]


__all__ = [
    "CONTRACT",
    "DEFAULT_DIALECT",
    "DIALECTS",
    "DIALECT_CHOICES",
    "ENGAGEMENT_STATES",
    "ENGAGEMENT_TYPES",
    "PUBLISHED",
    "Dialect",
    "DialectSetting",
    "Endpoint",
    "Field",
    "FieldType",
    "Paging",
    "dialect_named",
]
