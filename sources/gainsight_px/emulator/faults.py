"""Injected failures: what a real PX (or the proxy in front of it) does on a bad day.

Faults are queued with `Control.inject(kind, count, path, **params)` and each
one is used up by the next matching contract request (FIFO). `path` is an exact
path or a prefix ("/v1/users" also matches "/v1/users/u-1"); a path without the
"/v1" prefix gets it; item ids match decoded ("/v1/users/team/ops+1").
`method` optionally narrows the match.

Kinds and what the client sees:
- "429": 429 TOO_MANY_REQUESTS. `retry_after` (bool, default: the emulator's
  setting) adds `Retry-After`, `seconds` (default 1) its value (integer, >= 1).
- "500", "502", "503", "504": that status with a JSON error body.
- "html_502": 502 with an HTML body (text/html), as a proxy sends.
- "empty_403": 403 with an empty body.
- "slow": waits `seconds` (default 1) and then answers normally.
- "reset": the request IS processed (a write is applied), then the status line,
  headers and part of the body are sent and the socket is closed with a TCP
  RST. A list page is served without advancing the scroll, so a retry with the
  same scrollId gets the same page.
- "drop_answer": the request IS processed, then the socket is closed with a
  TCP RST before a single byte of the answer: the client cannot know.
- "truncate": processed like "reset", but answered with a Content-Length
  that matches a body cut in the middle of the JSON (not parseable); a
  success is answered 200 (a 201 or 204 too), an error keeps its status.
- "duplicate_request": PX's answer to a request identical to one it just
  served, "Duplicate request blocked. Please wait before retrying", with
  `status` (default 400) and a JSON error body; nothing is processed.
- "malformed_records": the next list page(s) (GET on a list path) carry
  records with a missing field, a number sent as a string and brand-new fields.
- "expire_scrolls" and "revoke_auth" act at once and are not queued.

Status faults (429, 5xx, html_502, empty_403, duplicate_request) are answered
before the request is processed: nothing is written and no scroll advances.
"drop_answer" on a write is the lost answer ("reset" and "truncate" too, for a
client that needs the body): the write is applied and the client never hears
so (a retried create then meets its own record).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from gainsight_px.endpoints import Endpoint

STATUS_KINDS = frozenset({"429", "500", "502", "503", "504", "html_502", "empty_403", "duplicate_request"})
AFTER_KINDS = frozenset({"reset", "truncate", "drop_answer"})  # process, then break the answer
QUEUED_KINDS = STATUS_KINDS | AFTER_KINDS | {"slow", "malformed_records"}
IMMEDIATE_KINDS = frozenset({"expire_scrolls", "revoke_auth"})
KINDS = QUEUED_KINDS | IMMEDIATE_KINDS

DUPLICATE_BLOCKED = "Duplicate request blocked. Please wait before retrying"

API_STATUS = {
    "500": "INTERNAL_SERVER_ERROR",
    "502": "BAD_GATEWAY",
    "503": "SERVICE_UNAVAILABLE",
    "504": "GATEWAY_TIMEOUT",
}

HTML_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


def normalise_path(path: str | None) -> str | None:
    if path is None:
        return None
    if not path.startswith("/"):
        path = "/" + path
    if not (path == "/v1" or path.startswith("/v1/")):
        path = "/v1" + path
    return path


@dataclass
class Fault:
    kind: str
    remaining: int = 1
    path: str | None = None
    method: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def matches(self, method: str, path: str, is_list_get: bool) -> bool:
        if self.kind == "malformed_records" and not is_list_get:
            return False
        if self.method is not None and self.method.upper() != method:
            return False
        if self.path is None:
            return True
        return path == self.path or path.startswith(self.path.rstrip("/") + "/")

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "remaining": self.remaining, "path": self.path,
                "method": self.method, **self.params}


class FaultQueue:
    """Pending faults plus the revoked-auth switch. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self.auth_revoked = False
        self.used: dict[str, int] = {}

    def add(self, kind: str, count: int = 1, path: str | None = None, method: str | None = None,
            **params: Any) -> None:
        kind = str(kind)
        if kind not in QUEUED_KINDS:
            raise ValueError(f"unknown fault kind '{kind}' (one of {', '.join(sorted(KINDS))})")
        if count < 1:
            raise ValueError("count must be >= 1")
        with self._lock:
            self._faults.append(Fault(kind, int(count), normalise_path(path), method, dict(params)))

    def take(self, method: str, path: str, is_list_get: bool) -> Fault | None:
        """Use up one fault matching this request, if any."""
        if not self._faults:  # fast path, no lock
            return None
        with self._lock:
            for i, f in enumerate(self._faults):
                if f.matches(method, path, is_list_get):
                    f.remaining -= 1
                    if f.remaining <= 0:
                        del self._faults[i]
                    self.used[f.kind] = self.used.get(f.kind, 0) + 1
                    return Fault(f.kind, 1, f.path, f.method, dict(f.params))
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.as_dict() for f in self._faults]


def malform(records: list[dict], ep: Endpoint) -> list[dict]:
    """Copies of `records` as a sloppy server might send them.

    Each record loses one field (never the primary key; which one rotates with
    the position), has its integer/timestamp fields sent as strings, and gains
    new fields the contract does not know.
    """
    droppable = [f.name for f in ep.fields if f.name != ep.primary_key]
    numeric = [f.name for f in ep.fields if f.type in ("integer", "timestamp", "number")]
    out = []
    for i, r in enumerate(records):
        bad = dict(r)
        if droppable:
            bad.pop(droppable[i % len(droppable)], None)
        for name in numeric:
            if isinstance(bad.get(name), int | float) and not isinstance(bad.get(name), bool):
                bad[name] = str(bad[name])
        bad["pxInternalFlags"] = {"shard": i % 7, "reindexed": True}
        bad["brandNewField"] = f"surprise-{i}"
        out.append(bad)
    return out
