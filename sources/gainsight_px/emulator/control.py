"""The emulator's test control interface: in-process (`Control`) and over HTTP.

Tests and benches use it to change the tenant behind the client's back, queue
failures, and read what the client did. Every method is thread-safe.

HTTP (`Emulator.control_url`, e.g. http://127.0.0.1:PORT/__emulator). JSON in
and out, no auth, not rate-limited, not logged, never affected by faults:

    GET    /__emulator/stats                       -> Control.stats()
    GET    /__emulator/records/{resource}          -> list of records (API field names)
    GET    /__emulator/records/{resource}/{key}    -> one record (404 if missing)
    POST   /__emulator/records/{resource}          body: record   -> add_record
    POST   /__emulator/records/{resource}/{key}    body: changes  -> update_record
    DELETE /__emulator/records/{resource}/{key}                   -> delete_record
    POST   /__emulator/activity                    {"count": n, "ids": [...], "at_ms": t} -> {"ids": [...]}
    POST   /__emulator/attribute_change            {"resource": "users", "count": n, "ids": [...],
                                                    "changes": {...}, "at_ms": t} -> {"ids": [...]}
    POST   /__emulator/ignore_sort_direction       {"on": true} (descending sorts answered ascending)
    POST   /__emulator/refuse_filter               {"fields": ["lastModifiedDate"]} (400 to such filters;
                                                    [] accepts every filter again)
    GET    /__emulator/faults                      -> pending faults
    POST   /__emulator/faults                      {"kind": "429", "count": 5, "path": "/v1/users", ...params}
    DELETE /__emulator/faults                      -> clear_faults
    POST   /__emulator/expire_scrolls              -> {"expired": n}
    POST   /__emulator/revoke_auth                 (every contract request gets 401 ...)
    POST   /__emulator/restore_auth                (... until this)
    POST   /__emulator/rate_limit                  {"rate": r or null, "retry_after": bool}
    GET    /__emulator/writes[?resource=users]     -> writes()
    GET    /__emulator/events                      -> events()
    GET    /__emulator/requests                    -> requests()
    GET    /__emulator/request_counts              -> request_counts()
    POST   /__emulator/reset_log                   -> reset_log()

`{key}` is one URL-encoded path segment (quote(key, safe="")). Errors answer
{"error": "..."} with 400 (bad input) or 404 (unknown resource, record or route).

`RemoteControl(control_url)` offers the same methods as `Control` over HTTP,
for an emulator running in another process.
"""

from __future__ import annotations

import random
import threading
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, unquote

import orjson

from .faults import IMMEDIATE_KINDS
from .store import copy_record, merge

if TYPE_CHECKING:
    from .server import Emulator



class ActivityLog:
    """Requests and writes as the server saw them, in arrival order."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[dict] = []
        self.writes: list[dict] = []
        self.counts: dict[str, int] = {}
        self.statuses: dict[int, int] = {}
        self.total = 0
        self.sent_429 = 0

    def request(self, entry: dict, route_key: str) -> None:
        with self.lock:
            self.requests.append(entry)
            self.counts[route_key] = self.counts.get(route_key, 0) + 1
            self.statuses[entry["status"]] = self.statuses.get(entry["status"], 0) + 1
            self.total += 1

    def write(self, entry: dict) -> None:
        with self.lock:
            self.writes.append(entry)

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.writes.clear()
            self.counts.clear()
            self.statuses.clear()
            self.total = 0
            self.sent_429 = 0

    def count_429(self) -> None:
        with self.lock:
            self.sent_429 += 1


class Control:
    """Drive an in-process emulator: `emu.control`."""

    def __init__(self, emulator: Emulator) -> None:
        self._emu = emulator
        self._activity_calls = 0

    # ----------------------------------------------------------- tenant changes

    def simulate_activity(self, count: int | None = None, ids: list[str] | None = None,
                          at_ms: int | None = None) -> list[str]:
        """Users visit: bump lastSeenDate and numberOfVisits (and their account's).

        Picks `count` users (default 1) deterministically per seed and call, or the
        users with the given aptrinsicIds. `at_ms` defaults to now, and to one
        millisecond past the newest lastSeenDate if that is later.
        """
        store = self._emu.store
        with store.lock:
            users = store.tables["users"]
            if ids is None:
                self._activity_calls += 1
                rng = random.Random(f"{self._emu.tenant.seed}:activity:{self._activity_calls}")
                keys = list(users)
                chosen = rng.sample(keys, min(1 if count is None else int(count), len(keys)))
            else:
                chosen = list(ids)
                missing = [k for k in chosen if k not in users]
                if missing:
                    raise KeyError(f"unknown aptrinsicIds: {missing[:5]}")
            at = int(at_ms) if at_ms is not None else max(self._emu.clock_ms(), store.max_last_seen + 1)
            accounts = store.tables["accounts"]
            account_visits = "numberOfVisits" in store.endpoint("accounts").field_map
            for key in chosen:
                u = users[key]
                visits = u.get("numberOfVisits")
                new = {**u, "lastSeenDate": at,
                       "numberOfVisits": (visits + 1) if isinstance(visits, int) else 1}
                if not u.get("firstVisitDate"):
                    new["firstVisitDate"] = at
                store.put("users", new)
                acc = accounts.get(u.get("accountId")) if isinstance(u.get("accountId"), str) else None
                if acc is not None:
                    last = acc.get("lastSeenDate")
                    new_acc = {**acc, "lastSeenDate": max(last, at) if isinstance(last, int) else at}
                    if account_visits:
                        av = acc.get("numberOfVisits")
                        new_acc["numberOfVisits"] = (av + 1) if isinstance(av, int) else 1
                    store.put("accounts", new_acc)
        return chosen

    def simulate_attribute_change(self, resource: str = "users", count: int | None = None,
                                  ids: list[str] | None = None, changes: dict | None = None,
                                  at_ms: int | None = None) -> list[str]:
        """Attribute-only changes (a plan changed in PX): the modified cursor moves, lastSeenDate does not.

        Picks `count` records (default 1) deterministically per seed and call, or the
        records with the given primary keys. `changes` (default: a new
        customAttributes.changedBy value per call) are merged as an API write would.
        `at_ms` defaults to now, or one millisecond past the newest modification.
        """
        store = self._emu.store
        ep = store.endpoint(resource)
        if not ep.modified_cursor:
            raise ValueError(f"{resource} has no modification date in the {self._emu.dialect.name} dialect")
        with store.lock:
            table = store.tables[resource]
            self._activity_calls += 1
            if ids is None:
                rng = random.Random(f"{self._emu.tenant.seed}:attributes:{self._activity_calls}")
                chosen = rng.sample(list(table), min(1 if count is None else int(count), len(table)))
            else:
                chosen = list(ids)
                missing = [k for k in chosen if k not in table]
                if missing:
                    raise KeyError(f"unknown {resource} keys: {missing[:5]}")
            if changes is None:
                changes = {ep.attributes_field: {"changedBy": f"control-{self._activity_calls}"}} \
                    if ep.attributes_field else {}
            at = int(at_ms) if at_ms is not None else store.modified_now()
            for key in chosen:
                old = table[key]
                new = merge(old, dict(changes), ep.attributes_field)
                new[ep.modified_cursor] = at
                store.put(resource, new)
            store.max_modified = max(store.max_modified, at)
        return chosen

    def refuse_filter(self, fields: list[str]) -> None:
        """List requests filtering on any of `fields` get 400 (an empty list lifts it)."""
        self._emu.refuse_filters = set(fields)

    def ignore_sort_direction(self, on: bool = True) -> None:
        """List requests sorted descending are answered in ascending order."""
        self._emu.ascending_only = bool(on)

    def update_record(self, resource: str, key: str, changes: dict) -> dict:
        """Change a record by primary key, unvalidated; customAttributes merge key by key."""
        store = self._emu.store
        ep = store.endpoint(resource)
        with store.lock:
            old = store.get(resource, key)
            if old is None:
                raise KeyError(f"no {resource} record '{key}'")
            new = merge(old, dict(changes), ep.attributes_field)
            new[ep.primary_key] = changes.get(ep.primary_key, key)
            if new[ep.primary_key] != key:
                store.remove(resource, key)
            return copy_record(store.put(resource, new))

    def delete_record(self, resource: str, key: str) -> None:
        if self._emu.store.remove(resource, key) is None:
            raise KeyError(f"no {resource} record '{key}'")

    def add_record(self, resource: str, record: dict) -> dict:
        """Add (or replace) a record as given; users without aptrinsicId get one."""
        store = self._emu.store
        ep = store.endpoint(resource)
        rec = {**store.blank(ep), **record}
        if rec.get(ep.primary_key) is None:
            if ep.name != "users":
                raise ValueError(f"{resource} record needs '{ep.primary_key}'")
            rec[ep.primary_key] = store.new_aptrinsic_id()
        return copy_record(store.put(resource, rec))

    def record(self, resource: str, key: str) -> dict | None:
        r = self._emu.store.get(resource, key)
        return copy_record(r) if r is not None else None

    def records(self, resource: str) -> list[dict]:
        return self._emu.store.records(resource)

    # ----------------------------------------------------------- faults

    def inject(self, kind: str, count: int = 1, path: str | None = None, **params: Any) -> None:
        """Queue `count` faults of `kind` for the next matching requests (see faults.py)."""
        kind = str(kind)
        if kind == "expire_scrolls":
            self.expire_scrolls()
        elif kind == "revoke_auth":
            self.revoke_auth()
        else:
            self._emu.faults.add(kind, count=count, path=path, **params)

    def clear_faults(self) -> None:
        self._emu.faults.clear()

    def faults(self) -> list[dict]:
        return self._emu.faults.pending()

    def expire_scrolls(self) -> int:
        return self._emu.store.expire_scrolls()

    def revoke_auth(self) -> None:
        self._emu.faults.auth_revoked = True

    def restore_auth(self) -> None:
        self._emu.faults.auth_revoked = False

    def set_rate_limit(self, rate: float | None, retry_after: bool | None = None) -> None:
        self._emu.set_rate_limit(rate, retry_after)

    # ----------------------------------------------------------- observation

    def writes(self, resource: str | None = None) -> list[dict]:
        log = self._emu.log
        with log.lock:
            return [dict(w) for w in log.writes if resource is None or w["resource"] == resource]

    def events(self) -> list[dict]:
        store = self._emu.store
        with store.lock:
            return [copy_record(e) for e in store.events]

    def requests(self) -> list[dict]:
        log = self._emu.log
        with log.lock:
            return [dict(r) for r in log.requests]

    def request_counts(self) -> dict[str, int]:
        log = self._emu.log
        with log.lock:
            return dict(log.counts)

    def reset_log(self) -> None:
        """Clear the request and write logs and their counters (not events, records or faults)."""
        self._emu.log.reset()

    def stats(self) -> dict[str, Any]:
        emu = self._emu
        with emu.log.lock:
            statuses = {str(k): v for k, v in sorted(emu.log.statuses.items())}
            total = emu.log.total
            sent_429 = emu.log.sent_429
        return {
            "requests": total,
            "statuses": statuses,
            "sent_429": sent_429,
            "open_scrolls": emu.store.open_scrolls(),
            "pending_faults": len(emu.faults.pending()),
            "faults_used": dict(emu.faults.used),
            "auth_revoked": emu.faults.auth_revoked,
            "rate_limit": emu.rate_limit,
            "records": {r: emu.store.count(r) for r in emu.store.tables},
            "events": len(emu.store.events),
            "writes": len(emu.log.writes),
        }

    # ----------------------------------------------------------- HTTP

    def add_events(self, stream: str, events: list[dict] | None = None, *, count: int = 0,
                   date: int | None = None) -> list[str]:
        """Add events to the published event history (late, back-dated ones too); their ids."""
        history = self._emu.events
        if history is None:
            raise KeyError("this emulator's dialect has no event streams")
        return [e["eventId"] for e in history.add(stream, events, count=count, date=date)]

    def event_history_stats(self) -> dict[str, Any]:
        history = self._emu.events
        if history is None:
            raise KeyError("this emulator's dialect has no event streams")
        return history.stats()

    def handle_http(self, method: str, path: str, query: str, body: bytes) -> tuple[int, Any]:
        """Serve one /__emulator request: (status, JSON-able payload)."""
        parts = [unquote(p) for p in path.split("/")[2:]]  # after "", "__emulator"
        try:
            data = orjson.loads(body) if body else {}
        except orjson.JSONDecodeError:
            return 400, {"error": "body is not JSON"}
        q = parse_qs(query)
        try:
            return self._route(method, parts, data, q)
        except KeyError as exc:
            return 404, {"error": str(exc.args[0]) if exc.args else "not found"}
        except (ValueError, TypeError) as exc:
            return 400, {"error": str(exc)}

    def _route(self, method: str, parts: list[str], data: Any, q: dict[str, list[str]]) -> tuple[int, Any]:
        head = parts[0] if parts else ""
        n = len(parts)
        if method == "GET" and n == 1:
            getters = {
                "stats": self.stats,
                "events": self.events,
                "requests": self.requests,
                "request_counts": self.request_counts,
                "faults": self.faults,
            }
            if head in getters:
                return 200, getters[head]()
            if head == "writes":
                return 200, self.writes(q.get("resource", [None])[0])
        if method == "POST" and n == 1:
            if head == "activity":
                return 200, {"ids": self.simulate_activity(data.get("count"), data.get("ids"), data.get("at_ms"))}
            if head == "attribute_change":
                return 200, {"ids": self.simulate_attribute_change(
                    data.get("resource", "users"), data.get("count"), data.get("ids"), data.get("changes"),
                    data.get("at_ms"))}
            if head == "refuse_filter":
                self.refuse_filter(list(data.get("fields") or []))
                return 200, {"ok": True}
            if head == "ignore_sort_direction":
                self.ignore_sort_direction(bool(data.get("on", True)))
                return 200, {"ok": True}
            if head == "faults":
                params = dict(data)
                kind = params.pop("kind", None)
                if kind is None:
                    raise ValueError("'kind' is required")
                self.inject(str(kind), **params)
                return 200, {"pending": self.faults()}
            if head == "expire_scrolls":
                return 200, {"expired": self.expire_scrolls()}
            if head in ("revoke_auth", "restore_auth", "reset_log"):
                getattr(self, head)()
                return 200, {"ok": True}
            if head == "rate_limit":
                self.set_rate_limit(data.get("rate"), data.get("retry_after"))
                return 200, {"ok": True}
        if method == "DELETE" and parts == ["faults"]:
            self.clear_faults()
            return 200, {"ok": True}
        if head == "event_history" and n == 1 and method == "GET":
            return 200, self.event_history_stats()
        if head == "event_history" and n == 2 and method == "POST":
            return 200, {"ids": self.add_events(parts[1], data.get("events"), count=int(data.get("count") or 0),
                                                date=data.get("date"))}
        if head == "records" and n in (2, 3):
            resource = parts[1]
            self._emu.store.endpoint(resource)  # KeyError -> 404
            if n == 2 and method == "GET":
                return 200, self.records(resource)
            if n == 2 and method == "POST":
                return 200, self.add_record(resource, data)
            if n == 3:
                key = parts[2]
                if method == "GET":
                    rec = self.record(resource, key)
                    if rec is None:
                        raise KeyError(f"no {resource} record '{key}'")
                    return 200, rec
                if method == "POST":
                    return 200, self.update_record(resource, key, data)
                if method == "DELETE":
                    self.delete_record(resource, key)
                    return 200, {"ok": True}
        raise KeyError(f"no control route {method} /__emulator/{'/'.join(parts)}")


class RemoteControl:
    """The `Control` API over HTTP, for an emulator in another process.

    `RemoteControl("http://127.0.0.1:8765/__emulator")`. Errors raise
    `KeyError` (404) or `ValueError` (400), like the in-process methods.
    """

    def __init__(self, control_url: str, timeout: float = 60.0) -> None:
        import requests

        self.url = control_url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()

    def _call(self, method: str, path: str, body: Any = None, params: dict | None = None) -> Any:
        resp = self._session.request(
            method, f"{self.url}/{path}", params=params, timeout=self.timeout,
            data=orjson.dumps(body) if body is not None else None,
            headers={"Content-Type": "application/json"},
        )
        payload = orjson.loads(resp.content) if resp.content else None
        if resp.status_code == 404:
            raise KeyError((payload or {}).get("error", "not found"))
        if resp.status_code >= 400:
            raise ValueError((payload or {}).get("error", f"HTTP {resp.status_code}"))
        return payload

    @staticmethod
    def _seg(key: str) -> str:
        return quote(key, safe="")

    def simulate_activity(self, count: int | None = None, ids: list[str] | None = None,
                          at_ms: int | None = None) -> list[str]:
        return self._call("POST", "activity", {"count": count, "ids": ids, "at_ms": at_ms})["ids"]

    def update_record(self, resource: str, key: str, changes: dict) -> dict:
        return self._call("POST", f"records/{resource}/{self._seg(key)}", changes)

    def simulate_attribute_change(self, resource: str = "users", count: int | None = None,
                                  ids: list[str] | None = None, changes: dict | None = None,
                                  at_ms: int | None = None) -> list[str]:
        return self._call("POST", "attribute_change", {"resource": resource, "count": count, "ids": ids,
                                                       "changes": changes, "at_ms": at_ms})["ids"]

    def refuse_filter(self, fields: list[str]) -> None:
        self._call("POST", "refuse_filter", {"fields": list(fields)})

    def ignore_sort_direction(self, on: bool = True) -> None:
        self._call("POST", "ignore_sort_direction", {"on": on})

    def delete_record(self, resource: str, key: str) -> None:
        self._call("DELETE", f"records/{resource}/{self._seg(key)}")

    def add_record(self, resource: str, record: dict) -> dict:
        return self._call("POST", f"records/{resource}", record)

    def record(self, resource: str, key: str) -> dict | None:
        try:
            return self._call("GET", f"records/{resource}/{self._seg(key)}")
        except KeyError:
            return None

    def records(self, resource: str) -> list[dict]:
        return self._call("GET", f"records/{resource}")

    def inject(self, kind: str, count: int = 1, path: str | None = None, **params: Any) -> None:
        if kind in IMMEDIATE_KINDS:
            self._call("POST", kind)
            return
        self._call("POST", "faults", {"kind": kind, "count": count, "path": path, **params})

    def clear_faults(self) -> None:
        self._call("DELETE", "faults")

    def faults(self) -> list[dict]:
        return self._call("GET", "faults")

    def expire_scrolls(self) -> int:
        return self._call("POST", "expire_scrolls")["expired"]

    def revoke_auth(self) -> None:
        self._call("POST", "revoke_auth")

    def restore_auth(self) -> None:
        self._call("POST", "restore_auth")

    def set_rate_limit(self, rate: float | None, retry_after: bool | None = None) -> None:
        self._call("POST", "rate_limit", {"rate": rate, "retry_after": retry_after})

    def writes(self, resource: str | None = None) -> list[dict]:
        return self._call("GET", "writes", params={"resource": resource} if resource else None)

    def events(self) -> list[dict]:
        return self._call("GET", "events")

    def requests(self) -> list[dict]:
        return self._call("GET", "requests")

    def request_counts(self) -> dict[str, int]:
        return self._call("GET", "request_counts")

    def reset_log(self) -> None:
        self._call("POST", "reset_log")

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "stats")

    def close(self) -> None:
        self._session.close()

    def add_events(self, stream: str, events: list[dict] | None = None, *, count: int = 0,
                   date: int | None = None) -> list[str]:
        return self._call("POST", f"event_history/{self._seg(stream)}",
                          {"events": events, "count": count, "date": date})["ids"]

    def event_history_stats(self) -> dict[str, Any]:
        return self._call("GET", "event_history")

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Poll `stats` until the emulator answers (a freshly started process)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.stats()
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
