"""Which dialect a server speaks: the `dialect` setting, and `auto` detection.

Shared by the load and the push (neither imports the other). `auto` (the
default) asks the server once, with one cheap request for a path that only
Gainsight's published API has: `GET /segment?pageSize=1`.

- `200` with a `segments` list: the published API (every live tenant);
- `404` (no such path), or a `results` list: the seed contract (the emulator's
  default);
- `401`/`403` stop as usual (bad key); anything else is a `ConfigError`
  asking for `SOURCES__GAINSIGHT_PX__DIALECT`.

A path both dialects share (`/users`) would tell them apart by its list key
too, but a request there is also the first page a load or push is about to
ask for; the segment list is small and nobody else's business.

A caller that remembers the choice per tenant (the load keeps it in the
pipeline state, next to the base URL it was found for) passes it back as
`remembered`, and no request is made.

>>> choice = resolve("auto", "https://api.aptrinsic.com/v1", api_key)
>>> choice.dialect.name, choice.how
('published', 'detected')
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

from gainsight_px import settings
from gainsight_px.endpoints import CONTRACT, DIALECT_CHOICES, DIALECTS, PUBLISHED, Dialect, dialect_named
from gainsight_px.errors import ConfigError, NotFoundError

log = logging.getLogger(__name__)

# The probe: an endpoint only PROBE_DIALECT has; a 404 there means FALLBACK_DIALECT.
PROBE_DIALECT = PUBLISHED
PROBE_ENDPOINT = "segments"
FALLBACK_DIALECT = CONTRACT
PROBE_PATH = PROBE_DIALECT[PROBE_ENDPOINT].path

How = Literal["set", "detected", "remembered"]


@dataclass(frozen=True)
class Choice:
    dialect: Dialect
    how: How  # configured, found by asking the server, or remembered from an earlier run

    def describe(self) -> str:
        """`published (detected)`: for run summaries."""
        return f"{self.dialect.name} ({self.how})"

    def remember(self, base_url: str) -> dict[str, str]:
        """What to keep (e.g. in pipeline state) to skip detection next time."""
        return {"name": self.dialect.name, "base_url": base_url}


def parse_setting(value: Any) -> Dialect | None:
    """The configured dialect, or None for `auto`; a bad value is a ConfigError naming the setting."""
    try:
        return dialect_named(value)
    except (ValueError, AttributeError):
        raise ConfigError(
            f"{settings.DIALECT_ENV} (or --dialect): expected one of {', '.join(DIALECT_CHOICES)}, "
            f"got {value!r}."
        ) from None


def probe_params() -> list[tuple[str, Any]]:
    """Query of the detection request (`GET PROBE_PATH`): one record."""
    return [(PROBE_DIALECT.page_size_param, 1)]


def from_answer(body: Any) -> Dialect | None:
    """The dialect a 200 answer to the probe shows: its list key, or a contract-style `results`."""
    if not isinstance(body, dict):
        return None
    if isinstance(body.get(PROBE_DIALECT[PROBE_ENDPOINT].response_key), list):
        return PROBE_DIALECT
    # A server answering every path the contract's way (list under `results`).
    if isinstance(body.get(FALLBACK_DIALECT.endpoints["users"].response_key), list):
        return FALLBACK_DIALECT
    return None


def detect(client: Any) -> Dialect:
    """Ask the server behind `client` (a `PXClient`) which dialect it speaks: one request."""
    try:
        body = client.get_json(PROBE_PATH, probe_params())
    except NotFoundError:
        found: Dialect | None = FALLBACK_DIALECT
        body = None
    else:
        found = from_answer(body)
    if found is None:
        keys = ", ".join(sorted(body)) if isinstance(body, dict) else type(body).__name__
        raise ConfigError(
            f"GET {PROBE_PATH}: cannot tell which API dialect the server speaks (answer keys: {keys}); "
            f"set {settings.DIALECT_ENV} to one of {', '.join(DIALECTS)}."
        )
    log.info("the server at %s speaks the %s dialect", client.base_url, found.name)
    return found


def resolve(setting: Any, base_url: str, api_key: str, *, remembered: dict[str, Any] | None = None,
            client: Any = None) -> Choice:
    """The dialect to use: the setting, else the remembered choice for `base_url`, else detection.

    `client` (a `PXClient`) is used for detection when given; otherwise one is made.
    """
    configured = parse_setting(setting)
    if configured is not None:
        return Choice(configured, "set")
    if remembered and remembered.get("base_url") == base_url.rstrip("/") and remembered.get("name") in DIALECTS:
        return Choice(DIALECTS[remembered["name"]], "remembered")
    if client is None:
        from gainsight_px.client import PXClient

        client = PXClient(base_url, api_key)
    return Choice(detect(client), "detected")
