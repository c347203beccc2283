"""A hostile HTTP server for tests: real sockets on 127.0.0.1, every answer scripted.

The emulator is the happy path and the oracle; this server is the opposite. It
knows nothing of PX: each request is handed to a *behaviour* chosen by method
and path, and the behaviour writes whatever bytes it likes: a redirect, a
body trickled one byte a second, a hang, an echo of the request's headers, a
gzip bomb, a connection closed mid-answer, or plain JSON. Every request is
logged (method, path, query parameters, headers, body, arrival time), so a
test asserts what was *sent*, counted on the server.

Use it as a context manager, or through the `hostile` / `make_hostile` fixtures
(defined here; tests/hostile/conftest.py and tests/security/conftest.py import
them, and any other folder's conftest.py can do the same after putting
tests/hostile on sys.path):

    with HostileServer() as server:
        server.on("GET", "/users", json_reply({"results": [], "scrollId": None}))
        run_the_load(base_url=server.base_url)          # http://127.0.0.1:PORT/v1
        assert server.requests("GET", "/users")[0].headers["user-agent"].startswith("gainsight-px/")

    HostileServer(tls=True)   # https with a test CA: point the client at `CA_FILE`
                              # (REQUESTS_CA_BUNDLE=CA_FILE / SSL_CERT_FILE=CA_FILE)

Routing:
- `on(method, path, behaviour)` serves `path` under `/v1` ("/users" is
  "/v1/users"; `absolute=True` for paths outside it). `method` may be "*";
  `path` may end with "*" to match a prefix. Later routes win.
- `fallback` (default: 404 JSON) answers anything unrouted.
- `sequence(b1, b2, ...)` answers call 1 with b1, call 2 with b2, ... and
  repeats the last one; `times(n, b, then)` is the common two-step case.

Behaviours are plain callables `behaviour(exchange) -> None`; `exchange.request`
is the logged `Request`, and `exchange.send(...)`, `send_head(...)`, `write(...)`,
`close()` talk to the socket. The builders below cover the usual attacks;
to add one, write a function returning such a callable (keep it generic: it
should not know which endpoint it serves), document it in one line, and add
a test of it in tests/hostile/test_hostile_server.py. Behaviours that wait must wait
on `exchange.stopping` (an Event set by `stop()`), never plain `time.sleep`,
so that stopping the server never hangs a test.

`forward(origin, transform)` relays to a real server (the emulator) and lets a
test bend one detail of its answer: the usual way to serve a tenant that is
right except for one thing.

Behaviours may keep state (closures, or `exchange.request.seq`, the 1-based
count of requests to that route so far).
"""

from __future__ import annotations

import gzip
import json
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

HERE = Path(__file__).resolve().parent
# A test CA and a leaf certificate for 127.0.0.1 and localhost, valid until 2126 (test use only).
CA_FILE = HERE / "certs" / "ca.pem"
CERT_FILE = HERE / "certs" / "server.pem"
KEY_FILE = HERE / "certs" / "server.key"

API_PREFIX = "/v1"


@dataclass
class Request:
    """One request as the server received it."""

    method: str
    path: str  # without the query string, e.g. "/v1/users"
    params: list[tuple[str, str]]  # query parameters in order, repeated names kept
    headers: dict[str, str]  # lower-cased names
    body: bytes
    at: float  # time.monotonic() when the request line arrived
    client_port: int
    seq: int = 0  # 1-based number of this request among those its route served

    def param(self, name: str) -> str | None:
        return next((v for k, v in self.params if k == name), None)


Behaviour = Callable[["Exchange"], None]


class Exchange:
    """What a behaviour gets: the request, and the socket to answer on."""

    def __init__(self, handler: _Handler, request: Request, stopping: threading.Event) -> None:
        self._handler = handler
        self.request = request
        self.stopping = stopping
        self.server: HostileServer = handler.server.owner  # type: ignore[attr-defined]

    def send_head(self, status: int, headers: dict[str, str] | Sequence[tuple[str, str]] = ()) -> None:
        """The status line and headers, nothing else (Content-Length is up to the caller)."""
        h = self._handler
        h.send_response_only(status)
        for name, value in (headers.items() if isinstance(headers, dict) else headers):
            h.send_header(name, value)
        h.end_headers()
        h.wfile.flush()

    def write(self, data: bytes) -> None:
        self._handler.wfile.write(data)
        self._handler.wfile.flush()

    def send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        """A complete answer with a correct Content-Length."""
        all_headers = {"Content-Length": str(len(body))}
        all_headers.update(headers or {})
        self.send_head(status, all_headers)
        if body and self.request.method != "HEAD":
            self.write(body)

    def close(self) -> None:
        """Drop the connection now (no answer, or the rest of one)."""
        self._handler.close_connection = True
        with _quiet():
            self._handler.connection.shutdown(socket.SHUT_RDWR)

    def wait(self, seconds: float) -> bool:
        """Sleep unless the server stops first; True if it is stopping."""
        return self.stopping.wait(seconds)


# --------------------------------------------------------------------------- builders


def _json_bytes(body: Any) -> bytes:
    return body if isinstance(body, bytes) else json.dumps(body).encode()


def json_reply(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Behaviour:
    """A JSON answer (`body` is JSON-encoded unless it is already bytes)."""
    data = _json_bytes(body)

    def behaviour(ex: Exchange) -> None:
        ex.send(status, data, {"Content-Type": "application/json", **(headers or {})})
    return behaviour


def raw_reply(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> Behaviour:
    """Any status, body and headers, verbatim (plus Content-Length)."""
    def behaviour(ex: Exchange) -> None:
        ex.send(status, body, headers)
    return behaviour


def dynamic(make: Callable[[Request], tuple[int, Any] | tuple[int, Any, dict[str, str]]]) -> Behaviour:
    """A JSON answer computed from the request: `make(request) -> (status, body[, headers])`."""
    def behaviour(ex: Exchange) -> None:
        status, body, *rest = make(ex.request)
        json_reply(body, status, rest[0] if rest else None)(ex)
    return behaviour


def redirect(location: str | Callable[[Request], str], status: int = 302) -> Behaviour:
    """A redirect to `location` (absolute URL, or a function of the request)."""
    def behaviour(ex: Exchange) -> None:
        target = location(ex.request) if callable(location) else location
        ex.send(status, b"", {"Location": target})
    return behaviour


def echo_headers(status: int = 500, *, into_header: str | None = "X-Echo",
                 encode: Callable[[str], str] | None = None, escape_slashes: bool = False) -> Behaviour:
    """An error whose JSON body (message and debugMessage) and one header repeat every request header,
    as a careless proxy or API gateway does; `encode` spells each value as it echoes it (e.g. URL-encoded),
    `escape_slashes` writes the JSON the way Java serializers do (every `/` escaped)."""
    def behaviour(ex: Exchange) -> None:
        dump = "; ".join(f"{k}: {encode(v) if encode else v}" for k, v in ex.request.headers.items())
        body = json.dumps({"externalapierror": {"status": "INTERNAL_SERVER_ERROR",
                                                "message": f"request rejected, headers were {dump}",
                                                "debugMessage": dump}})
        if escape_slashes:
            body = body.replace("/", "\\/")
        headers = {"Content-Type": "application/json"}
        if into_header:
            headers[into_header] = dump.replace("\r", " ").replace("\n", " ")
        ex.send(status, body.encode(), headers)
    return behaviour


def trickle(body: bytes, *, interval: float = 1.0, chunk: int = 1, status: int = 200,
            headers: dict[str, str] | None = None, head_too: bool = False) -> Behaviour:
    """Send `body` `chunk` bytes every `interval` seconds (Content-Length announced in full).
    With `head_too` the status line and headers trickle as well."""
    def behaviour(ex: Exchange) -> None:
        head = {"Content-Type": "application/json", "Content-Length": str(len(body)), **(headers or {})}
        if head_too:
            data = (f"HTTP/1.1 {status} OK\r\n" + "".join(f"{k}: {v}\r\n" for k, v in head.items())
                    + "\r\n").encode() + body
        else:
            ex.send_head(status, head)
            data = body
        for start in range(0, len(data), chunk):
            with _quiet_io():
                ex.write(data[start:start + chunk])
            if ex.wait(interval):
                return
        ex.close()
    return behaviour


def hang(seconds: float = 3600.0, *, after_head: bool = False) -> Behaviour:
    """Accept the request and say nothing (or only the head) until `seconds` pass or the server stops."""
    def behaviour(ex: Exchange) -> None:
        if after_head:
            ex.send_head(200, {"Content-Type": "application/json", "Content-Length": "100"})
        ex.wait(seconds)
        ex.close()
    return behaviour


def raw_bytes(data: bytes | Callable[[Request], bytes]) -> Behaviour:
    """Write these bytes instead of an HTTP answer (a garbled status line...), then close."""
    def behaviour(ex: Exchange) -> None:
        with _quiet_io():
            ex.write(data(ex.request) if callable(data) else data)
        ex.close()
    return behaviour


def drop() -> Behaviour:
    """Close the connection without a word."""
    return lambda ex: ex.close()


def huge(size: int, *, status: int = 200, chunk: int = 1 << 20, chunked: bool = False) -> Behaviour:
    """A body of `size` bytes (a JSON object padded with spaces), streamed without holding it;
    with `chunked`, sent with Transfer-Encoding: chunked and no Content-Length."""
    prefix, suffix = b'{"results": [], "pad": "', b'"}'
    pad = size - len(prefix) - len(suffix)

    def pieces() -> Iterable[bytes]:
        yield prefix
        left = pad
        block = b" " * chunk
        while left > 0:
            yield block[:min(chunk, left)]
            left -= chunk
        yield suffix

    def behaviour(ex: Exchange) -> None:
        if chunked:
            ex.send_head(status, {"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
        else:
            ex.send_head(status, {"Content-Type": "application/json", "Content-Length": str(size)})
        with _quiet_io():
            for piece in pieces():
                if ex.stopping.is_set():
                    return
                ex.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            if chunked:
                ex.write(b"0\r\n\r\n")
    return behaviour


def gzip_bomb(decompressed: int, *, status: int = 200) -> Behaviour:
    """`Content-Encoding: gzip` whose body inflates to `decompressed` bytes of zeros
    (1 GB compresses to about 1 MB). Built once per behaviour, streamed by zlib."""
    data = _gzip_of_zeros(decompressed)

    def behaviour(ex: Exchange) -> None:
        ex.send(status, data, {"Content-Type": "application/json", "Content-Encoding": "gzip"})
    return behaviour


def gzip_reply(body: Any, status: int = 200, *, only_if_asked: bool = True) -> Behaviour:
    """JSON, gzip-compressed when the request's Accept-Encoding allows it (or always)."""
    data = _json_bytes(body)

    def behaviour(ex: Exchange) -> None:
        asked = "gzip" in ex.request.headers.get("accept-encoding", "")
        if asked or not only_if_asked:
            ex.send(status, gzip.compress(data), {"Content-Type": "application/json", "Content-Encoding": "gzip"})
        else:
            ex.send(status, data, {"Content-Type": "application/json"})
    return behaviour


Relayed = tuple[int, dict[str, str], bytes]


def forward(origin: str, transform: Callable[[Request, int, dict[str, str], bytes], Relayed] | None = None,
            *, compress: bool = False) -> Behaviour:
    """Relay the request to a real server (e.g. the emulator's `http://127.0.0.1:PORT`) and send
    its answer back, through `transform(request, status, headers, body) -> (status, headers, body)`
    when given: how to serve a mostly-correct tenant with one thing wrong. With `compress`, the
    answer is gzip-compressed when the request accepts gzip."""
    import http.client

    target = urlsplit(origin)

    def behaviour(ex: Exchange) -> None:
        req = ex.request
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
        query = "&".join(f"{quote(k)}={quote(v)}" for k, v in req.params)
        headers = {k: v for k, v in req.headers.items() if k not in ("host", "accept-encoding", "connection")}
        try:
            conn.request(req.method, req.path + (f"?{query}" if query else ""), body=req.body or None,
                         headers=headers)
            resp = conn.getresponse()
            status, body = resp.status, resp.read()
            out_headers = {k: v for k, v in resp.getheaders()
                           if k.lower() not in ("content-length", "transfer-encoding", "connection", "date",
                                                "server")}
        finally:
            conn.close()
        if transform is not None:
            status, out_headers, body = transform(req, status, out_headers, body)
        if compress and "gzip" in req.headers.get("accept-encoding", ""):
            body = gzip.compress(body)
            out_headers = {**out_headers, "Content-Encoding": "gzip"}
        ex.send(status, body, out_headers)
    return behaviour


def sequence(*behaviours: Behaviour) -> Behaviour:
    """Call n of this route gets behaviours[n-1]; the last one repeats."""
    lock = threading.Lock()
    calls = [0]

    def behaviour(ex: Exchange) -> None:
        with lock:
            calls[0] += 1
            index = min(calls[0], len(behaviours)) - 1
        behaviours[index](ex)
    return behaviour


def times(n: int, first: Behaviour, then: Behaviour) -> Behaviour:
    """`first` for the first `n` calls, then `then`."""
    return sequence(*([first] * n), then)


def _gzip_of_zeros(size: int) -> bytes:
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: gzip framing
    block = bytes(1 << 20)
    out = []
    left = size
    while left > 0:
        out.append(comp.compress(block[:min(len(block), left)]))
        left -= len(block)
    out.append(comp.flush())
    return b"".join(out)


class _quiet:
    """Ignore the socket errors of a client that went away (the point of many tests)."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> bool:
        return kind is not None and issubclass(kind, OSError)


_quiet_io = _quiet


def not_found(ex: Exchange) -> None:
    json_reply({"externalapierror": {"status": "NOT_FOUND", "message": f"no route {ex.request.path}"}}, 404)(ex)


# --------------------------------------------------------------------------- server


@dataclass
class _Route:
    method: str
    path: str
    behaviour: Behaviour
    calls: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.method not in ("*", method):
            return False
        if self.path.endswith("*"):
            return path.startswith(self.path[:-1])
        return path == self.path


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # the request log is `HostileServer.log`

    def _any(self) -> None:
        owner = self.server.owner
        at = time.monotonic()
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(self.command, parts.path, parse_qsl(parts.query, keep_blank_values=True),
                          {k.lower(): v for k, v in self.headers.items()}, body, at,
                          self.client_address[1])
        route = owner._route_for(request)
        owner._record(request)
        exchange = Exchange(self, request, owner.stopping)
        with _quiet():
            (route.behaviour if route else owner.fallback)(exchange)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _any


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: HostileServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client hanging up mid-answer is expected here


class HostileServer:
    """A scripted HTTP(S) server on 127.0.0.1 (see the module docstring)."""

    def __init__(self, *, tls: bool = False, host: str = "127.0.0.1", port: int = 0) -> None:
        self.tls = tls
        self._routes: list[_Route] = []
        self._lock = threading.Lock()
        self.log: list[Request] = []
        self.fallback: Behaviour = not_found
        self.stopping = threading.Event()
        self.connections = 0  # TCP connections accepted (TLS handshakes included)
        self._httpd = _Server((host, port), _Handler, bind_and_activate=True)
        self._httpd.owner = self
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(CERT_FILE, KEY_FILE)
            self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True,
                                                     do_handshake_on_connect=False)
        original_get = self._httpd.get_request

        def counting_get_request() -> Any:
            conn, addr = original_get()
            with self._lock:
                self.connections += 1
            return conn, addr
        self._httpd.get_request = counting_get_request  # type: ignore[method-assign]
        self.host, self.port = self._httpd.server_address[:2]
        self._thread: threading.Thread | None = None

    # -- addresses

    @property
    def origin(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """What the tool is configured with (SOURCES__GAINSIGHT_PX__BASE_URL)."""
        return self.origin + API_PREFIX

    def url(self, path: str) -> str:
        return self.base_url + path

    # -- scripting

    def on(self, method: str, path: str, behaviour: Behaviour, *, absolute: bool = False) -> HostileServer:
        """Serve `method path` with `behaviour`; `path` is under /v1 unless `absolute`."""
        full = path if absolute else API_PREFIX + path
        with self._lock:
            self._routes.insert(0, _Route(method.upper(), full, behaviour))
        return self

    def reset(self) -> None:
        """Forget every route and the request log."""
        with self._lock:
            self._routes.clear()
            self.log.clear()

    def _route_for(self, request: Request) -> _Route | None:
        with self._lock:
            for route in self._routes:
                if route.matches(request.method, request.path):
                    route.calls += 1
                    request.seq = route.calls
                    return route
        return None

    def _record(self, request: Request) -> None:
        with self._lock:
            self.log.append(request)

    # -- looking at what was sent

    def requests(self, method: str | None = None, path: str | None = None) -> list[Request]:
        """Logged requests, optionally of one method and/or path (under /v1, like `on`)."""
        if path is not None:
            path = API_PREFIX + path
        with self._lock:
            return [r for r in self.log
                    if (method is None or r.method == method.upper()) and (path is None or r.path == path)]

    # -- life cycle

    def start(self) -> HostileServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"hostile-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> HostileServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ConnectionCounter:
    """A bare TCP listener on 127.0.0.1 that records every connection it is offered and the
    first bytes sent on it (e.g. a proxy that must never be used), then closes it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.05)
        self.port: int = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.received: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def connections(self) -> int:
        return len(self.received)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(0.5)
            try:
                data = conn.recv(4096)
            except OSError:
                data = b""
            self.received.append(data)
            with _quiet():
                conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            conn.close()

    def settled(self) -> int:
        """The connections seen, once one probe connection of our own has been counted
        (so nothing the tool opened is still in the accept queue)."""
        before = self.connections
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as probe:
            probe.sendall(b"probe")
        while self.connections == before:
            self._stop.wait(0.01)
        return self.connections - 1

    def close(self) -> None:
        self._stop.set()
        self.sock.close()
        self._thread.join(timeout=5)

    def __enter__(self) -> ConnectionCounter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------- pytest fixtures
# Import them into a conftest.py (`from hostile_server import hostile, make_hostile`).

try:
    import pytest
except ImportError:  # usable without pytest (a bench script)
    pytest = None  # type: ignore[assignment]

if pytest is not None:

    @pytest.fixture
    def make_hostile() -> Iterator[Callable[..., HostileServer]]:
        """Factory: `make_hostile(tls=False)` -> a started server, stopped after the test."""
        started: list[HostileServer] = []

        def factory(**kwargs: Any) -> HostileServer:
            server = HostileServer(**kwargs).start()
            started.append(server)
            return server

        yield factory
        for server in started:
            server.stop()

    @pytest.fixture
    def hostile(make_hostile: Callable[..., HostileServer]) -> HostileServer:
        """A started plain-http `HostileServer`."""
        return make_hostile()


__all__ = [
    "CA_FILE", "ConnectionCounter", "Exchange", "HostileServer", "Request", "drop", "dynamic",
    "echo_headers", "forward", "gzip_bomb", "gzip_reply", "hang", "huge", "json_reply", "raw_bytes", "raw_reply",
    "redirect", "sequence", "times", "trickle",
]
