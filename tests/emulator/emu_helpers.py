"""Helpers for the emulator tests (imported by name; pytest puts this folder on sys.path)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import requests

# A fixed clock makes every generated timestamp reproducible.
NOW_MS = 1_732_579_200_000  # 2024-11-26T00:00:00Z


def scan(session: requests.Session, url: str, page_size: int = 100, **params: Any) -> list[dict]:
    """Every record of a scroll, stopping on the first short page."""
    out: list[dict] = []
    query: dict[str, Any] = {"pageSize": page_size, **params}
    for _ in range(100_000):
        r = session.get(url, params=query)
        assert r.status_code == 200, r.text
        body = r.json()
        out.extend(body["results"])
        if len(body["results"]) < page_size:
            return out
        query = {"pageSize": page_size, "scrollId": body["scrollId"]}
    raise AssertionError("scan never ended")


def api_status(resp: requests.Response) -> str:
    """The `externalapierror.status` of an error answer."""
    return resp.json()["externalapierror"]["status"]


def seg(key: str) -> str:
    """One URL-encoded path segment."""
    return quote(key, safe="")
