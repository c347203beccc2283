"""The emulator's HTTP server: every path and method of one dialect under /v1.

Routes, methods, statuses, parameter names, response keys, page limits, write
validation and field types all come from the endpoint table
(`gainsight_px.endpoints`: `CONTRACT` by default, `PUBLISHED` with
`Emulator(dialect=PUBLISHED)`). Adding an endpoint to a table adds its route.
Order of checks for an API request: route (404/405) -> auth (401, read-only
key 403 on writes) -> rate limit (429) -> injected fault -> the handler.

Writes, per the table: a create that upserts (contract POST, 200 with the
record) or creates only (published POST, 201; an existing id gets 400
"possible duplicate"); an update (`update_method` on the item path: contract
PATCH 200 with the record, published PUT 204) changes the fields given and
answers 404 for a missing record, creating nothing; the published
`/users/update` and `/accounts/update` take the id in the body. A method the
dialect lacks on a path is 405 (PUT in the contract, PATCH in the published
API).

The published dialect also: pages `/feature`, `/engagement`, `/segment` by
page number (`isLastPage`), answers 400 to a page size over the endpoint's
limit and to the contract's `field:desc` sort spelling, and refuses ids that
Gainsight's servers reject inside a path (an encoded `/`, `\\`, `;` or `%`,
and the segments `.` and `..`) with 400, as a strict HTTP firewall does.

Choices where docs/api-behaviour.md leaves room (clients must cope either way):
- The scrollId stays the same for every page of a scroll (with
  `rotate_scroll_ids=True` each page brings a new one, and any id the scroll
  has answered continues it, as with Elasticsearch). Passing a scrollId
  with a different `pageSize` is a 400; without `pageSize` the scroll's own
  page size is used. `filter`/`sort` next to a scrollId are ignored (the
  scroll already has them). An empty `scrollId=` counts as absent.
- Unknown scrollId: 404 NOT_FOUND; an expired one: 404 SCROLL_EXPIRED.
- `filter`/`sort` on an endpoint that does not take them (feature_match,
  engagements) is a 400, so a client never silently gets the unfiltered set.
- Path ids are one URL-encoded segment ("/" must be sent as %2F; "+" is a
  plus, not a space). A raw "/" inside an id is a 404.
- POST of a custom event answers the endpoint's create status with the
  stored event; writes through the API (events included) never change
  lastSeenDate.
- `Emulator.refuse_filters` (control: `refuse_filter`) makes a list request
  whose filter names one of those fields a 400, as a tenant that cannot
  filter on `lastModifiedDate` might.
- `Emulator.ascending_only` (control: `ignore_sort_direction`) answers a
  descending sort in ascending order, as a server that ignores the direction.
"""

from __future__ import annotations

import contextlib
import gzip
import math
import socket
import struct
import sys
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote

import orjson

from gainsight_px import timestamps
from gainsight_px.endpoints import CONTRACT, DIALECTS, Dialect, Endpoint
from gainsight_px.ratelimit import TokenBucket
from gainsight_px.settings import EMULATOR_API_KEY, EMULATOR_READ_ONLY_KEY

from .control import ActivityLog, Control
from .events import EventHistory, EventSpec
from .faults import AFTER_KINDS, API_STATUS, DUPLICATE_BLOCKED, HTML_502, Fault, FaultQueue, malform
from .store import APIError, Store, bad_request, filter_fields, parse_sort
from .tenant import TenantSpec, generate

API_PREFIX = "/v1"
CONTROL_PREFIX = "/__emulator"
WRITE_METHODS = frozenset({"POST", "PATCH", "DELETE", "PUT"})
JSON = "application/json"
GZIP_MIN_BYTES = 1024  # smaller answers go uncompressed, even when the client accepts gzip


def error_body(api_status: str, message: str) -> bytes:
    return orjson.dumps({"externalapierror": {
        "status": api_status, "message": message, "debugMessage": None, "subErrors": None}})


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = JSON
    headers: list[tuple[str, str]] = field(default_factory=list)
    fault: Fault | None = None


def _error(exc: APIError) -> Response:
    return Response(exc.status, error_body(exc.api_status, exc.message))


RouteKind = str  # "list" (the endpoint's path), "item" (item_path), "body_update" (id in the body)


@dataclass(frozen=True)
class Route:
    endpoint: Endpoint
    kind: RouteKind
    template: str  # "/v1/users/{identifyId}": how request_counts names it
    methods: frozenset[str]

    @property
    def item(self) -> bool:
        return self.kind == "item"


class Router:
    """Every path of the endpoint table, with the methods each one takes.

    Several endpoints may share a path (a POST-only event endpoint and an event
    stream's GET): the one taking the method wins. A literal path beats an item
    path (`/users/update` is not the user "update"), but only for its methods,
    as Spring's routing does.
    """

    def __init__(self, dialect: Dialect, prefix: str = API_PREFIX) -> None:
        self.exact: dict[str, list[Route]] = {}
        self.items: list[tuple[str, Route]] = []
        for ep in dialect.endpoints.values():
            self._add(Route(ep, "list", prefix + ep.path, ep.methods))
            if ep.id_in_body_update_path and ep.update_method:
                path = prefix + ep.id_in_body_update_path
                self._add(Route(ep, "body_update", path, frozenset({ep.update_method})))
            if ep.item_path:
                base = ep.item_path.rsplit("/", 1)[0]
                self.items.append((prefix + base + "/", Route(ep, "item", prefix + ep.item_path,
                                                              ep.item_methods)))

    def _add(self, route: Route) -> None:
        self.exact.setdefault(route.template, []).append(route)

    @property
    def lists(self) -> dict[str, Route]:
        """Every literal path, with all the methods it takes (one Route per path)."""
        return {path: Route(rs[0].endpoint, rs[0].kind, path, frozenset().union(*(r.methods for r in rs)))
                for path, rs in self.exact.items()}

    def routes(self) -> list[Route]:
        """Every route: literal paths, then item paths."""
        return [*(r for rs in self.exact.values() for r in rs), *(r for _, r in self.items)]

    def _item(self, raw_path: str) -> tuple[Route, str] | None:
        for base, route in self.items:
            if raw_path.startswith(base):
                seg = raw_path[len(base):]
                if seg and "/" not in seg:
                    return route, unquote(seg)
        return None

    def resolve(self, raw_path: str, method: str = "GET") -> tuple[Route, str | None] | None:
        candidates = self.exact.get(raw_path, [])
        for route in candidates:
            if method in route.methods:
                return route, None
        item = self._item(raw_path)
        if item is not None and (method in item[0].methods or not candidates):
            return item
        if candidates:  # 405, naming every method the path takes
            first = candidates[0]
            allowed = frozenset().union(*(r.methods for r in candidates))
            return Route(first.endpoint, first.kind, first.template, allowed), None
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the default 5 drops SYNs under a concurrent client
    emulator: Emulator

    def __init__(self, addr: tuple[str, int], handler: type, family: int) -> None:
        self.address_family = family
        self.connections: set[socket.socket] = set()
        self.conn_lock = threading.Lock()
        super().__init__(addr, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that hang up mid-answer are routine (timeouts, Ctrl-C, fault tests);
        # anything else still gets the standard traceback.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    disable_nagle_algorithm = True
    server_version = "GainsightPXEmulator/1.0"
    sys_version = ""
    timeout = 300  # idle keep-alive connections end eventually
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.conn_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.conn_lock:
            self.server.connections.discard(self.connection)
        with contextlib.suppress(OSError):  # the socket may have been reset on purpose
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # nothing per request; the control log has it all

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        length = self.headers.get("Content-Length")
        if length:
            try:
                n = int(length)
            except ValueError:
                n = 0
            return self.rfile.read(n) if n > 0 else b""
        return b""

    def _read_chunked(self) -> bytes:
        parts = []
        while True:
            size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline()

    def _handle(self, method: str) -> None:
        emu = self.server.emulator
        raw_path, _, query = self.path.partition("?")
        body = self._read_body()
        if raw_path == CONTROL_PREFIX or raw_path.startswith(CONTROL_PREFIX + "/"):
            status, payload = emu.control.handle_http(method, raw_path, query, body)
            self._send(Response(status, orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS)))
            return
        self._send(emu.dispatch(method, raw_path, query, body, self.headers.get(emu.dialect.api_key_header)))

    def _head(self, resp: Response, length: int | None) -> bytes:
        try:
            reason = HTTPStatus(resp.status).phrase
        except ValueError:
            reason = ""
        lines = [f"HTTP/1.1 {resp.status} {reason}", f"Server: {self.server_version}",
                 f"Date: {formatdate(usegmt=True)}"]
        if length is not None:
            lines.append(f"Content-Type: {resp.content_type}")
            lines.append(f"Content-Length: {length}")
        lines.extend(f"{k}: {v}" for k, v in resp.headers)
        if self.close_connection:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _send(self, resp: Response) -> None:
        kind = resp.fault.kind if resp.fault else None
        body = resp.body
        if kind == "truncate":
            if resp.status == 204 or resp.status < 300:
                resp.status = 200  # a 204 carries no body to cut; an error keeps its status
            whole = body or error_body("OK", "truncated answer")
            body = whole[: max(1, len(whole) // 2)]
        if len(body) >= GZIP_MIN_BYTES and "gzip" in (self.headers.get("Accept-Encoding") or ""):
            # As a real API gateway does; level 1, since on loopback it only costs CPU.
            body = gzip.compress(body, compresslevel=1, mtime=0)
            resp.headers = [*resp.headers, ("Content-Encoding", "gzip")]
        if resp.status == 204 or resp.status < 200:
            data = self._head(resp, None)
        else:
            data = self._head(resp, len(body)) + body
        if kind in ("reset", "drop_answer"):
            # reset: full headers and a Content-Length, then half the body, then a TCP RST.
            # drop_answer: the RST alone, nothing of the answer.
            cut = 0 if kind == "drop_answer" else len(data) - len(body) // 2 if body else len(data)
            if cut:
                self.wfile.write(data[:cut])
                time.sleep(0.05)  # let the client read the headers first
            self.close_connection = True
            try:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
            except OSError:
                pass
            return
        self.wfile.write(data)


class Emulator:
    """A Gainsight PX tenant on a local HTTP port. See the package docstring."""

    def __init__(self, tenant: TenantSpec | None = None, api_key: str = EMULATOR_API_KEY,
                 read_only_key: str | None = EMULATOR_READ_ONLY_KEY, rate_limit: float | None = None,
                 retry_after: bool = True, scroll_ttl: float = 60.0, host: str = "127.0.0.1",
                 port: int = 0, now_ms: int | None = None, dialect: Dialect | str = CONTRACT,
                 rotate_scroll_ids: bool = False, events: EventSpec | None = None) -> None:
        self.tenant = tenant or TenantSpec()
        self.api_key = api_key
        self.read_only_key = read_only_key
        self.retry_after = retry_after
        self.host = host
        self.port = port
        self.now_ms = now_ms
        dialect = DIALECTS[dialect] if isinstance(dialect, str) else dialect  # "contract" / "published"
        self.dialect = dialect
        self.router = Router(dialect)
        self.store = Store(generate(self.tenant, self.clock_ms(), dialect), dialect=dialect, seed=self.tenant.seed,
                           scroll_ttl=scroll_ttl, clock_ms=self.clock_ms, rotate_scroll_ids=rotate_scroll_ids)
        # Fields a list filter may not name (400), to test a client's fallback.
        self.refuse_filters: set[str] = set()
        # Answer descending sorts in ascending order, as a server that ignores the direction would.
        self.ascending_only = False
        # The event history (events.py), for dialects with event streams.
        self.events: EventHistory | None = None
        if any(ep.is_event_stream for ep in dialect.endpoints.values()):
            self.events = EventHistory(events or EventSpec(), self.store.tables, end_ms=self.clock_ms(),
                                       seed=self.tenant.seed, dialect=dialect)
        self.faults = FaultQueue()
        self.log = ActivityLog()
        self.control = Control(self)
        self.rate_limit: float | None = None
        self._bucket: TokenBucket | None = None
        self.set_rate_limit(rate_limit)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------- lifecycle

    def clock_ms(self) -> int:
        return self.now_ms if self.now_ms is not None else timestamps.now_ms()

    def set_rate_limit(self, rate: float | None, retry_after: bool | None = None) -> None:
        if rate is not None and rate <= 0:
            raise ValueError("rate_limit must be > 0 (or None for unlimited)")
        self.rate_limit = rate
        self._bucket = TokenBucket(rate, burst=max(1.0, rate)) if rate else None
        if retry_after is not None:
            self.retry_after = bool(retry_after)

    def start(self) -> Emulator:
        if self._server is not None:
            return self
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        server = _Server((self.host, self.port), _Handler, family)
        server.emulator = self
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name=f"px-emulator:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        # Keep-alive connections would otherwise go on being served after stop().
        with server.conn_lock:
            conns = list(server.connections)
        for sock in conns:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def _url_host(self) -> str:
        host = self.host
        if host in ("", "0.0.0.0"):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        return f"[{host}]" if ":" in host else host

    @property
    def root_url(self) -> str:
        return f"http://{self._url_host}:{self.port}"

    @property
    def base_url(self) -> str:
        return self.root_url + API_PREFIX

    @property
    def control_url(self) -> str:
        return self.root_url + CONTROL_PREFIX

    # ----------------------------------------------------------- dispatch

    def dispatch(self, method: str, raw_path: str, query: str, body: bytes, key: str | None) -> Response:
        """Answer one request to the API (everything but /__emulator)."""
        resolved = self.router.resolve(raw_path, method)
        if resolved is None:
            return Response(404, error_body("NOT_FOUND", f"No such path: {raw_path}"))
        route, item_id = resolved
        ts = time.time()
        q = parse_qs(query, keep_blank_values=True) if query else {}
        resp = self._process(method, route, item_id, q, body, key)
        self.log.request({"method": method, "path": raw_path, "query": q, "status": resp.status, "ts": ts,
                          "fault": resp.fault.kind if resp.fault else None},
                         f"{method} {route.template}")
        if method in WRITE_METHODS:
            self.log.write({
                "method": method, "path": raw_path, "resource": route.endpoint.name,
                "key": item_id if item_id is not None else self._body_key(route.endpoint, body),
                "body": self._body_for_log(body), "status": resp.status, "ts": ts,
                "fault": resp.fault.kind if resp.fault else None,
            })
        return resp

    @staticmethod
    def _body_for_log(body: bytes) -> Any:
        if not body:
            return None
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            return body.decode("utf-8", "replace")

    def _body_key(self, ep: Endpoint, body: bytes) -> Any:
        name = ep.write_key or next(iter(ep.required_fields), None)
        try:
            parsed = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            return None
        return parsed.get(name) if isinstance(parsed, dict) and name else None

    def _process(self, method: str, route: Route, item_id: str | None, q: dict[str, list[str]],
                 body: bytes, key: str | None) -> Response:
        if method not in route.methods:
            resp = Response(405, error_body("METHOD_NOT_ALLOWED", f"{method} is not allowed on {route.template}"))
            resp.headers.append(("Allow", ", ".join(sorted(route.methods))))
            return resp
        if self.faults.auth_revoked or key is None or key not in (self.api_key, self.read_only_key):
            return Response(401, error_body("UNAUTHORIZED", "Missing or invalid API key"))
        if method in WRITE_METHODS and key != self.api_key:
            return Response(403, error_body("FORBIDDEN", "This API key has no write permission"))
        bucket = self._bucket
        if bucket is not None:
            wait = bucket.take()
            if wait > 0:
                return self._too_many(wait, self.retry_after)
        is_list_get = method == "GET" and not route.item
        fault = self.faults.take(method, self._fault_path(route, item_id), is_list_get)
        if fault is not None:
            early = self._fault_response(fault)
            if early is not None:
                early.fault = fault
                return early
        try:
            resp = self._handle(method, route, item_id, q, body, fault)
        except APIError as exc:
            resp = _error(exc)
        resp.fault = fault
        return resp

    @staticmethod
    def _fault_path(route: Route, item_id: str | None) -> str:
        # Faults match on the decoded path: "/v1/users/team/ops+1" for a user id.
        base = route.template if not route.item else route.template.rsplit("/", 1)[0]
        return base if item_id is None else f"{base}/{item_id}"

    def _too_many(self, wait: float, retry_after: bool) -> Response:
        self.log.count_429()
        resp = Response(429, error_body("TOO_MANY_REQUESTS", "Rate limit exceeded"))
        if retry_after:
            resp.headers.append(("Retry-After", str(max(1, math.ceil(wait)))))
        return resp

    def _fault_response(self, fault: Fault) -> Response | None:
        kind, p = fault.kind, fault.params
        if kind == "429":
            ra = p.get("retry_after")
            return self._too_many(float(p.get("seconds", 1)), self.retry_after if ra is None else bool(ra))
        if kind in API_STATUS:
            return Response(int(kind), error_body(API_STATUS[kind], f"Injected {kind}"))
        if kind == "html_502":
            return Response(502, HTML_502, "text/html")
        if kind == "empty_403":
            return Response(403, b"", "text/plain")
        if kind == "duplicate_request":
            status = int(p.get("status", 400))
            api_status = {429: "TOO_MANY_REQUESTS"}.get(status, API_STATUS.get(str(status), "BAD_REQUEST"))
            return Response(status, error_body(api_status, DUPLICATE_BLOCKED))
        if kind == "slow":
            time.sleep(float(p.get("seconds", 1)))
        return None

    # ----------------------------------------------------------- handlers

    def _handle(self, method: str, route: Route, item_id: str | None, q: dict[str, list[str]],
                body: bytes, fault: Fault | None) -> Response:
        ep = route.endpoint
        store = self.store
        if route.kind == "body_update":
            return self._updated(ep, store.update(ep.name, None, self._json(body)))
        if route.item:
            assert item_id is not None
            self._check_path_id(item_id)
            if method == "GET":
                rec = store.get_by_write_key(ep.name, item_id)
                if rec is None:
                    raise APIError(404, "NOT_FOUND", f"{ep.name[:-1].capitalize()} '{item_id}' was not found")
                return Response(200, orjson.dumps(rec))
            if method == ep.update_method:
                return self._updated(ep, store.update(ep.name, item_id, self._json(body)))
            if method == "DELETE":
                store.delete(ep.name, item_id)
                return Response(204)
            raise APIError(405, "METHOD_NOT_ALLOWED", f"{method} is not allowed on {route.template}")
        if method == "GET":
            return self._list(ep, q, fault)
        if method != ep.create_method:
            raise APIError(405, "METHOD_NOT_ALLOWED", f"{method} is not allowed on {route.template}")
        payload = self._json(body)
        if ep.name == self.dialect.events_endpoint:
            event = store.add_event(payload)
            if self.events is not None and ep.name in self.events.streams:
                self.events.add(ep.name, [event])  # a pushed custom event is readable back
            return Response(ep.create_status, orjson.dumps(event))
        if ep.write_key and ep.create_upserts:
            rec, _created = store.upsert(ep.name, payload)
            return Response(ep.create_status, orjson.dumps(rec))
        if ep.write_key:
            return Response(ep.create_status, orjson.dumps(store.create(ep.name, payload)))
        return Response(ep.create_status, orjson.dumps(store.add_subscription(payload)))

    @staticmethod
    def _updated(ep: Endpoint, rec: dict) -> Response:
        return Response(ep.update_status, b"" if ep.update_status == 204 else orjson.dumps(rec))

    def _check_path_id(self, item_id: str) -> None:
        # Gainsight's servers sit behind a strict firewall: such ids cannot be in a path.
        if not self.dialect.id_fits_path(item_id):
            raise bad_request("The request was rejected because the URL contained a potentially "
                              "malicious String")

    @staticmethod
    def _json(body: bytes) -> Any:
        if not body:
            raise bad_request("Request body is required")
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise bad_request(f"Request body is not valid JSON: {exc}") from None

    def _list(self, ep: Endpoint, q: dict[str, list[str]], fault: Fault | None) -> Response:
        store = self.store
        d = self.dialect
        if ep.paging == "none":
            with store.lock:
                recs = list(store.tables[ep.name].values())
            return Response(200, orjson.dumps({ep.response_key: recs}))
        filters = q.get(d.filter_param)
        sort = q.get(d.sort_param)
        if (filters and not ep.filterable) or (sort and not ep.sortable):
            raise bad_request(f"{ep.path} takes no {d.filter_param} or {d.sort_param}")
        page_size = self._page_size(ep, q.get(d.page_size_param))
        if ep.paging == "page_number":
            return self._numbered(ep, q, page_size or d.page_default(ep), fault)
        refused = filter_fields(filters or [], d) & self.refuse_filters
        if refused:
            raise bad_request(f"Filtering on {', '.join(sorted(refused))} is not supported")
        sid = (q.get(d.scroll_param) or [""])[-1]
        if sid:
            scroll = store.scroll(ep.name, sid)
            if page_size is not None and page_size != scroll.page_size:
                raise bad_request(f"pageSize {page_size} does not match the scroll's pageSize {scroll.page_size}")
        else:
            if sort and len(sort) > 1:
                raise bad_request("Give sort once, fields separated by ';'")
            if sort and self.ascending_only:
                sort = [d.sort(*(name for name, _ in parse_sort(ep, sort[0], d)))]
            if ep.is_event_stream and self.events is not None:
                scroll = self.events.open_scroll(store, ep, page_size or d.page_default(ep), filters,
                                                 sort[0] if sort else None, self.clock_ms())
            else:
                scroll = store.open_scroll(ep.name, page_size or d.page_default(ep),
                                           filters, sort[0] if sort else None)
        page = store.next_page(scroll, consume=not (fault and fault.kind in AFTER_KINDS))
        results = page.results
        if fault is not None and fault.kind == "malformed_records":
            results = malform(results, ep)
        return Response(200, orjson.dumps({ep.response_key: results, d.scroll_param: page.scroll_id,
                                           d.total_key: page.total}))

    def _numbered(self, ep: Endpoint, q: dict[str, list[str]], size: int, fault: Fault | None) -> Response:
        d = self.dialect
        values = q.get(d.page_number_param)
        number = d.first_page_number
        if values:
            raw = values[-1]
            try:
                number = int(raw)
            except ValueError:
                raise bad_request(f"{d.page_number_param} must be an integer, got '{raw}'") from None
            if number < d.first_page_number:
                raise bad_request(f"{d.page_number_param} must be at least {d.first_page_number}, got {number}")
        results, last = self.store.numbered_page(ep.name, number, size)
        if fault is not None and fault.kind == "malformed_records":
            results = malform(results, ep)
        return Response(200, orjson.dumps({ep.response_key: results, d.page_number_param: number,
                                           d.last_page_key: last}))

    def _page_size(self, ep: Endpoint, values: list[str] | None) -> int | None:
        if not values:
            return None
        name = self.dialect.page_size_param
        limit = self.dialect.page_limit(ep)
        raw = values[-1]
        try:
            n = int(raw)
        except ValueError:
            raise bad_request(f"{name} must be an integer, got '{raw}'") from None
        if not 1 <= n <= limit:
            raise bad_request(f"{name} must be between 1 and {limit} for {ep.path}, got {n}")
        return n
