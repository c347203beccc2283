"""One HTTP transport for the PX API, shared by the load and the push.

`HTTPTransport` (urllib3, one keep-alive pool per tenant) does one attempt per
call and enforces what every request must obey, whoever sends it:

- **The key stays home.** Redirects are never followed: a 3xx is a
  `RedirectError` naming the target host (the request carries the key).
  `check_api_key` refuses a key that cannot go in a header (CR, LF, other
  control characters) before any request, without echoing it. Whatever the
  server sends back (error bodies, reason phrases, Location) has the key
  replaced by `***` before anything keeps it, so an echoing server cannot put
  it into stderr, dlt's trace, state, the ledger or a rejects file.
- **Proxies:** loopback hosts (the emulator) never go through a proxy;
  other hosts honour HTTPS_PROXY / HTTP_PROXY / ALL_PROXY and NO_PROXY as
  requests would. CA bundle: REQUESTS_CA_BUNDLE, SSL_CERT_FILE or
  CURL_CA_BUNDLE, else certifi's.
- **Deadlines:** every attempt has one overall deadline (`request_timeout()`:
  SOURCES__GAINSIGHT_PX__REQUEST_TIMEOUT, else $GAINSIGHT_PX_REQUEST_TIMEOUT_S,
  else 60 s) covering connect, headers and the whole body.
  A watchdog thread shuts the socket of an attempt that outlives it, so a
  server trickling one byte a second cannot hold a request longer.
  `DeadlineExceeded` counts as a lost answer (retryable).
- **Size limits:** a body larger than `MAX_RESPONSE_BYTES` (64 MiB on the
  wire) or `MAX_DECODED_BYTES` (256 MiB once decompressed) is a
  `ResponseTooLarge` naming the URL. Decompression is incremental and capped,
  so a gzip bomb costs at most the cap in memory.
- **Headers every client sends:** `Accept-Encoding: gzip` and
  `User-Agent: gainsight-px/<version> (+dlt)`.

`PXClient` (the load's reader) adds retries on top. Two policies exist because
a scroll continuation is not idempotent: the server-side cursor may already
have moved when an answer is lost, so retrying it could silently skip a page.

- `retry="all"` (first pages): throttles, 408/5xx, lost answers and deadlines
  are retried with exponential backoff and jitter (`backoff_delay`),
  `Retry-After` honoured.
- `retry="throttle_only"` (continuations): only throttles, and connection
  failures (nothing was sent). Anything else surfaces to `paging.py`, which
  restarts the scan from the last cursor value.
- A throttle is a 429, or any 4xx whose message is PX's "Duplicate request
  blocked. Please wait before retrying": it never counts as a failure.
- Connection failures (refused, DNS, connect timeout) are retried for at most
  `CONNECT_BUDGET_S` (about 15 s), each retry announced on the
  `gainsight_px.client` logger ("connection refused, retrying in 4 s"), then
  one `TransportError` line naming the URL and `SOURCES__GAINSIGHT_PX__BASE_URL`.
  A TLS failure is not retried.

The push (push/sender.py) uses `HTTPTransport` directly with its own retry
loop (it needs every attempt visible), `backoff_delay`, `is_throttle` and the
error helpers below.
"""

from __future__ import annotations

import contextlib
import email.utils
import heapq
import ipaddress
import itertools
import json
import logging
import os
import random
import socket
import threading
import time
import urllib.request
import zlib
from dataclasses import dataclass
from typing import Any, Literal, Protocol
from urllib.parse import quote, quote_plus, urlencode, urlsplit

import orjson
import urllib3
import urllib3.connection
import urllib3.connectionpool
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ProxyError,
    SSLError,
)

from gainsight_px import __version__, settings
from gainsight_px.endpoints import DEFAULT_DIALECT, Dialect
from gainsight_px.errors import (
    APIError,
    AuthError,
    ConfigError,
    NotFoundError,
    ScrollExpiredError,
)

log = logging.getLogger(__name__)

RetryPolicy = Literal["all", "throttle_only"]

USER_AGENT = f"gainsight-px/{__version__} (+dlt)"
MAX_RESPONSE_BYTES = 64 * 1024 * 1024  # on the wire (compressed or not)
MAX_DECODED_BYTES = 256 * 1024 * 1024  # after decompression
CONNECT_TIMEOUT_S = 10.0
CONNECT_BUDGET_S = 15.0  # connection failures are retried this long, then the run stops
MAX_CONNECT_ATTEMPTS = 4
MAX_THROTTLED_READS = 20  # throttle answers one read may get before the run stops
RETRY_STATUSES = frozenset({408, 500, 502, 503, 504})
THROTTLE_STATUSES = frozenset({400, 409, 429})
THROTTLE_MESSAGE = "duplicate request blocked"  # PX's own words for "too fast, wait"
_READ_CHUNK = 256 * 1024
_INFLATE_STEP = 4 * 1024 * 1024

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}
REQUEST_TIMEOUT_SETTING = "SOURCES__GAINSIGHT_PX__REQUEST_TIMEOUT"


def request_timeout(explicit: float | None = None) -> float:
    """Seconds each request may take in all (connect, headers and the whole body).

    The argument, else `request_timeout` under [sources.gainsight_px] in dlt config
    (SOURCES__GAINSIGHT_PX__REQUEST_TIMEOUT), else $GAINSIGHT_PX_REQUEST_TIMEOUT_S,
    else 60 s.
    """
    value: Any = explicit
    name = "request timeout"
    if value is None:
        import dlt  # here, not at import: the push and the emulator's tests import this module

        value = dlt.config.get("sources.gainsight_px.request_timeout")
        name = REQUEST_TIMEOUT_SETTING
    if value is None:
        return settings.REQUEST_TIMEOUT_S
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = -1.0
    if not 0 < seconds < float("inf"):
        raise ConfigError(f"{name}: expected a positive number of seconds, got {value!r}.")
    return seconds


# --------------------------------------------------------------------------- checks


def is_loopback_host(host: str) -> bool:
    if host.lower().rstrip(".") in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_base_url(base_url: str) -> str:
    """Validate a base URL and return it without a trailing slash.

    Plain http is refused unless the host is loopback (the emulator): the API
    key travels in a header and must not cross a network in clear text.
    """
    if not base_url or not isinstance(base_url, str):
        raise ConfigError(f"No PX base URL configured: set {settings.BASE_URL_ENV}.")
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"{settings.BASE_URL_ENV} must be an http(s) URL such as {settings.DEFAULT_BASE_URL}, "
            f"got {base_url!r}."
        )
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ConfigError(
            f"{settings.BASE_URL_ENV}: plain http is only allowed for loopback hosts "
            f"(the emulator); use https for {parts.hostname}."
        )
    return base_url.strip().rstrip("/")


def check_api_key(api_key: str | None) -> str:
    """The key without surrounding whitespace; refused (never echoed) if it cannot be a header value."""
    if not api_key or not isinstance(api_key, str) or not api_key.strip():
        raise ConfigError(
            f"No PX API key configured: set {settings.API_KEY_ENV} or api_key under "
            "[sources.gainsight_px] in .dlt/secrets.toml."
        )
    key = api_key.strip()
    for position, char in enumerate(key, 1):
        if not " " <= char <= "~":
            what = {"\n": "a line break (LF)", "\r": "a carriage return (CR)", "\t": "a tab"}.get(
                char, "a control character" if ord(char) < 32 or ord(char) == 127 else "a non-ASCII character")
            raise ConfigError(
                f"{settings.API_KEY_ENV}: the API key contains {what} at character {position} of "
                f"{len(key)}, which cannot be sent in an HTTP header. Copy the key again from PX "
                "(Administration > REST API) without it."
            )
    return key


def item_path(template: str, key: str) -> str:
    """Fill `/users/{identifyId}` with a URL-encoded id (ids may hold @ / + and spaces)."""
    start, end = template.index("{"), template.index("}")
    return template[:start] + quote(str(key), safe="") + template[end + 1 :]


# --------------------------------------------------------------------------- answers


class ResponseLike(Protocol):
    status_code: int
    content: bytes
    headers: Any
    reason: str


@dataclass(frozen=True)
class Answer:
    """What came back for one attempt (the key already scrubbed from content and reason)."""

    status_code: int
    content: bytes
    headers: Any
    reason: str
    url: str = ""  # the URL asked, for messages (never holds the key)


def api_error_message(response: ResponseLike) -> tuple[str, str | None]:
    """A readable message and the API's status string, from a JSON or non-JSON error body."""
    status_text = None
    message = None
    try:
        body = orjson.loads(response.content) if response.content else None
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, dict):
        err = body.get("externalapierror", body)
        if isinstance(err, dict):
            status_text = err.get("status") if isinstance(err.get("status"), str) else None
            raw = err.get("message") or err.get("debugMessage")
            message = str(raw) if raw else None
    if message is None:
        ctype = response.headers.get("Content-Type", "")
        if "html" in ctype.lower() or response.content.lstrip()[:1] == b"<":
            message = f"non-JSON {ctype or 'HTML'} error page (likely from a proxy)"
        elif response.content:
            message = response.content[:200].decode("utf-8", "replace").strip()
        else:
            message = response.reason or "empty body"
    return _one_line(message), status_text


def is_throttle(response: ResponseLike) -> bool:
    """429, or PX's "Duplicate request blocked. Please wait before retrying" under any 4xx it uses."""
    if response.status_code == 429:
        return True
    if response.status_code not in THROTTLE_STATUSES or not response.content:
        return False
    return THROTTLE_MESSAGE in response.content[:2000].decode("utf-8", "replace").lower()


def raise_for_api_error(response: ResponseLike, method: str, path: str) -> None:
    """Turn an error response into the matching `APIError` subclass; never mentions the key."""
    if response.status_code < 400:
        return
    message, api_status = api_error_message(response)
    where = f"{method} {path}"
    kwargs: dict[str, Any] = dict(status=response.status_code, api_status=api_status, method=method, path=path)
    if response.status_code == 401:
        raise AuthError(
            f"{where}: 401 Unauthorized ({message}). The API key is missing, unknown or revoked: "
            f"check {settings.API_KEY_ENV}.",
            **kwargs,
        )
    if response.status_code == 403:
        raise AuthError(
            f"{where}: 403 Forbidden ({message}). The API key has no permission for this call "
            f"(a read-only key cannot write): check {settings.API_KEY_ENV}.",
            **kwargs,
        )
    if response.status_code == 404 and api_status == "SCROLL_EXPIRED":
        raise ScrollExpiredError(f"{where}: scroll expired ({message})", **kwargs)
    if response.status_code == 404:
        raise NotFoundError(f"{where}: 404 {message}", **kwargs)
    raise APIError(f"{where}: HTTP {response.status_code} {message}", **kwargs)


def retry_after_seconds(value: str | None, cap: float) -> float | None:
    """`Retry-After` as seconds (delta-seconds or an HTTP date), capped; None if absent/garbled."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    if seconds != seconds:  # NaN
        return None
    return min(cap, max(0.0, seconds))


def backoff_delay(attempt: int, factor: float, cap: float, rng: random.Random | None = None) -> float:
    """Exponential backoff with jitter: `factor * 2**(attempt-1)`, capped, times a random 0.5-1.0
    (so clients that failed together do not retry in lockstep)."""
    delay = min(cap, factor * 2 ** max(0, attempt - 1))
    return delay * (rng or random).uniform(0.5, 1.0)


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --------------------------------------------------------------------------- errors


class TransportError(APIError):
    """No usable answer: the connection failed, the answer was lost, or the deadline passed.

    `sent` tells whether the request may have reached the server.
    """

    def __init__(self, message: str, *, sent: bool, method: str | None = None, path: str | None = None) -> None:
        super().__init__(message, method=method, path=path)
        self.sent = sent


class RedirectError(APIError):
    """A 3xx: not followed, since every request carries the API key."""


class ResponseTooLarge(APIError):
    """A body past `MAX_RESPONSE_BYTES` or `MAX_DECODED_BYTES`."""


class DeadlineExceeded(HTTPError):
    """An attempt outlived its overall deadline (raised by `HTTPTransport.send`)."""


# --------------------------------------------------------------------------- deadlines


class _Watch:
    __slots__ = ("deadline", "conn", "fired", "done")

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.conn: Any = None
        self.fired = False
        self.done = False


_current = threading.local()  # the watch of the attempt this thread is making


class _Watchdog:
    """One daemon thread that shuts the socket of every attempt past its deadline."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _Watch]] = []
        self._order = itertools.count()
        self._done = 0
        self._thread: threading.Thread | None = None

    def add(self, watch: _Watch) -> None:
        with self._cond:
            heapq.heappush(self._heap, (watch.deadline, next(self._order), watch))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="px-deadlines", daemon=True)
                self._thread.start()
            if self._heap[0][2] is watch:
                self._cond.notify()

    def finish(self, watch: _Watch) -> None:
        with self._cond:
            watch.done = True
            self._done += 1
            if self._done > 1024 and self._done * 2 > len(self._heap):  # drop finished entries
                self._heap = [entry for entry in self._heap if not entry[2].done]
                heapq.heapify(self._heap)
                self._done = 0

    def _run(self) -> None:
        with self._cond:
            while True:
                while self._heap and self._heap[0][2].done:
                    heapq.heappop(self._heap)
                    self._done = max(0, self._done - 1)
                if not self._heap:
                    self._cond.wait()
                    continue
                wait = self._heap[0][0] - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                _, _, watch = heapq.heappop(self._heap)
                watch.fired = True
                sock = getattr(watch.conn, "sock", None)
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)  # a blocked recv returns at once


_WATCHDOG = _Watchdog()


def _attach(conn: Any) -> None:
    watch = getattr(_current, "watch", None)
    if watch is not None:
        watch.conn = conn


class _Watched:
    """Connection mixin: the request's watchdog learns the socket before any byte moves."""

    def connect(self) -> None:
        _attach(self)
        super().connect()  # type: ignore[misc]

    def request(self, *args: Any, **kwargs: Any) -> None:
        _attach(self)
        super().request(*args, **kwargs)  # type: ignore[misc]


class _HTTPConnection(_Watched, urllib3.connection.HTTPConnection):
    pass


class _HTTPSConnection(_Watched, urllib3.connection.HTTPSConnection):
    pass


class _HTTPPool(urllib3.connectionpool.HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(urllib3.connectionpool.HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


# --------------------------------------------------------------------------- transport


def env_proxy(scheme: str, host: str | None) -> str | None:
    """The proxy for `host` from HTTPS_PROXY / HTTP_PROXY / ALL_PROXY / NO_PROXY; never for loopback."""
    if not host or is_loopback_host(host):
        return None
    proxies = urllib.request.getproxies()
    proxy = proxies.get(scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass(host):
        return None
    if "://" not in proxy:
        proxy = "http://" + proxy
    if urlsplit(proxy).scheme not in ("http", "https"):
        raise ConfigError(f"proxy {urlsplit(proxy).scheme}:// (from the *_PROXY environment) is not "
                          "supported; use an http(s) proxy, or list the host in NO_PROXY.")
    return proxy


def ca_bundle() -> str | None:
    """The CA file requests would use: REQUESTS_CA_BUNDLE, SSL_CERT_FILE, CURL_CA_BUNDLE, else certifi."""
    for name in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE"):
        value = os.environ.get(name, "").strip()
        if value:
            return value
    try:
        import certifi

        return certifi.where()
    except ImportError:
        return None


class HTTPTransport:
    """One keep-alive connection pool to one API host; one attempt per `send`, no hidden retries.

    Raises urllib3 errors for transport failures (`DeadlineExceeded` among
    them), `RedirectError` for a 3xx and `ResponseTooLarge` for a body past
    the limits; any other status comes back as an `Answer`.
    """

    def __init__(self, base_url: str, api_key: str, *, api_key_header: str,
                 timeout: float | None = None, pool_size: int = 16,
                 extra_headers: dict[str, str] | None = None) -> None:
        self.base_url = check_base_url(base_url)
        self.timeout = request_timeout(timeout)
        parts = urlsplit(self.base_url)
        self.host = parts.hostname or ""
        self._prefix = parts.path
        key = check_api_key(api_key)
        self._key = key
        self._secret = key.encode()
        # The forms a server may echo it back in: as sent, JSON-escaped, URL-encoded.
        escaped = json.dumps(key)[1:-1]
        self._echoes = sorted({key, escaped, escaped.replace("/", "\\/"), quote(key, safe=""), quote_plus(key)},
                              key=len, reverse=True)
        self._echoed_bytes = [form.encode() for form in self._echoes]
        # The key lives only in these headers: never in a URL, a message or a log.
        self.headers = {
            api_key_header: key,
            "Accept": "application/json",
            "Accept-Encoding": "gzip",
            "User-Agent": USER_AGENT,
            **(extra_headers or {}),
        }
        options: dict[str, Any] = dict(maxsize=pool_size, block=False, retries=False)
        if parts.scheme == "https":
            bundle = ca_bundle()
            if bundle:
                options["ca_certs"] = bundle
        proxy = env_proxy(parts.scheme, parts.hostname)
        manager = urllib3.ProxyManager(proxy, **options) if proxy else urllib3.PoolManager(**options)
        manager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}
        self.proxy = proxy
        self._manager = manager
        self._pool = manager.connection_from_url(self.base_url)

    def url(self, path: str) -> str:
        return self.base_url + path

    def scrub(self, text: str) -> str:
        """`text` with the key, in any form it may be echoed in, replaced by `***` (for anything the
        server sent)."""
        for form in self._echoes:
            if form in text:
                text = text.replace(form, "***")
        return text

    def _scrub_bytes(self, data: bytes) -> bytes:
        for form in self._echoed_bytes:
            if form in data:
                data = data.replace(form, b"***")
        return data

    def send(self, method: str, path: str, body: bytes | None = None, *,
             headers: dict[str, str] | None = None, need_body: bool = True) -> Answer:
        """One attempt at `method base_url+path` (path may hold a query string).

        With `need_body=False` a 2xx whose body breaks off still counts (the
        status line is the answer).
        """
        watch = _Watch(time.monotonic() + self.timeout)
        _current.watch = watch
        _WATCHDOG.add(watch)
        response = None
        whole = False  # the body was read to its end: the connection can be reused
        try:
            timeout = urllib3.Timeout(connect=min(CONNECT_TIMEOUT_S, self.timeout), read=self.timeout)
            response = self._pool.urlopen(
                method, self._prefix + path, body=body,
                headers={**self.headers, **headers} if headers else self.headers,
                retries=False, redirect=False, preload_content=False, decode_content=False,
                timeout=timeout, assert_same_host=False,
            )
            status = response.status
            if 300 <= status < 400:
                raise self._redirect(method, path.split("?")[0], status, response.headers.get("Location"))
            try:
                content = self._read(response, path)
                whole = True
            except HTTPError:
                if watch.fired:
                    raise DeadlineExceeded(f"no complete answer within {self.timeout:g} s") from None
                if need_body or not 200 <= status < 300:
                    raise
                content = b""
            return Answer(status, self._scrub_bytes(content), response.headers,
                          self.scrub(response.reason or ""), self.url(path))
        except (HTTPError, OSError) as exc:
            if watch.fired and not isinstance(exc, DeadlineExceeded):
                raise DeadlineExceeded(f"no complete answer within {self.timeout:g} s") from None
            raise
        finally:
            _WATCHDOG.finish(watch)
            _current.watch = None
            if response is not None:
                if watch.fired or not whole:
                    response.close()  # unread bytes would be taken for the next answer
                response.release_conn()

    def _redirect(self, method: str, path: str, status: int, location: str | None) -> RedirectError:
        target = urlsplit(self.scrub(location or ""))
        host = target.hostname or self.host
        where = f"{target.scheme}://{host}" if target.scheme else host
        return RedirectError(
            f"{method} {path}: the server at {self.host} answered {status}, redirecting to {where}; "
            f"not followed, since requests carry the API key. Check {settings.BASE_URL_ENV} "
            f"(is {self.base_url} the right API host?).",
            status=status, method=method, path=path,
        )

    def _read(self, response: urllib3.BaseHTTPResponse, path: str) -> bytes:
        """The body, decompressed, within the size limits."""
        encoding = (response.headers.get("Content-Encoding") or "identity").strip().lower()
        if encoding not in ("identity", "gzip", "x-gzip", "deflate"):
            raise ResponseTooLarge(f"{self.url(path).split('?')[0]}: the server sent Content-Encoding "
                                   f"{self.scrub(encoding)!r}, which was not asked for", path=path)
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > MAX_RESPONSE_BYTES:
            raise self._too_large(path, "body", int(declared), MAX_RESPONSE_BYTES)
        decoder = None if encoding == "identity" else zlib.decompressobj(47)  # 47: gzip or zlib header
        raw_total = 0
        out: list[bytes] = []
        out_total = 0
        for chunk in response.stream(_READ_CHUNK, decode_content=False):
            raw_total += len(chunk)
            if raw_total > MAX_RESPONSE_BYTES:
                raise self._too_large(path, "body", raw_total, MAX_RESPONSE_BYTES)
            if decoder is None:
                out.append(chunk)
                continue
            data = chunk
            while data:
                # Bounded steps: one 256 kB chunk of a bomb would otherwise inflate to ~256 MB at once.
                piece = decoder.decompress(data, min(_INFLATE_STEP, MAX_DECODED_BYTES - out_total + 1))
                out_total += len(piece)
                if out_total > MAX_DECODED_BYTES:
                    raise self._too_large(path, "decompressed body", out_total, MAX_DECODED_BYTES)
                out.append(piece)
                data = decoder.unconsumed_tail
        if decoder is not None:
            with contextlib.suppress(zlib.error):
                out.append(decoder.flush())
            if not decoder.eof:  # the compressed stream broke off: the body is not whole
                raise ProtocolError(f"GET {path}: the gzip body ends before its end")
        return b"".join(out)

    def _too_large(self, path: str, what: str, size: int, limit: int) -> ResponseTooLarge:
        return ResponseTooLarge(
            f"{self.url(path).split('?')[0]}: the {what} is over {limit // (1024 * 1024)} MiB "
            f"(at least {size:,} bytes); refused. Ask for smaller pages (page_size) or check that "
            f"{settings.BASE_URL_ENV} is the PX API.", path=path,
        )

    def close(self) -> None:
        self._manager.clear()


def describe_failure(exc: BaseException, transport: HTTPTransport) -> tuple[str, str]:
    """(kind, short text) for a transport exception: kind is connect, tls, proxy, deadline or lost.
    The text may quote what the server sent (a bad status line): the key is scrubbed from it."""
    kind, text = _describe_failure(exc, transport)
    return kind, transport.scrub(text)


def _describe_failure(exc: BaseException, transport: HTTPTransport) -> tuple[str, str]:
    if isinstance(exc, DeadlineExceeded):
        return "deadline", f"no complete answer within {transport.timeout:g} s"
    if isinstance(exc, ProxyError):
        return "proxy", f"cannot reach the proxy {transport.proxy} ({_root_reason(exc)})"
    if isinstance(exc, NameResolutionError):
        return "connect", f"cannot resolve the host {transport.host}"
    if isinstance(exc, NewConnectionError):  # a subclass of ConnectTimeoutError: test it first
        return "connect", _root_reason(exc)
    if isinstance(exc, ConnectTimeoutError):
        return "connect", f"connect timed out after {min(CONNECT_TIMEOUT_S, transport.timeout):g} s"
    if isinstance(exc, SSLError):
        return "tls", f"TLS failed ({_root_reason(exc)})"
    return "lost", _root_reason(exc)


def _root_reason(exc: BaseException) -> str:
    """The innermost readable cause, e.g. "connection refused" (urllib3 nests socket errors)."""
    inner: BaseException | None = exc
    seen: set[int] = set()
    while inner is not None and id(inner) not in seen:
        seen.add(id(inner))
        if isinstance(inner, ConnectionRefusedError):
            return "connection refused"
        if isinstance(inner, ConnectionResetError):
            return "connection reset"
        if isinstance(inner, OSError) and inner.strerror and not isinstance(inner, HTTPError):
            return inner.strerror.lower()
        nxt = getattr(inner, "reason", None)
        inner = nxt if isinstance(nxt, BaseException) else (inner.__cause__ or inner.__context__)
    text = str(exc)
    if "Connection refused" in text:
        return "connection refused"
    if "):" in text:  # "HTTPConnection(host=..., port=...): Failed to establish ..."
        text = text.split("):", 1)[1]
    return _one_line(text, 160)


# --------------------------------------------------------------------------- the load's client


class PXClient:
    """A thread-safe reader for one PX tenant (retries, throttles, connection budget).

    >>> client = PXClient("https://api.aptrinsic.com/v1", api_key)
    >>> page = client.get_json("/users", {"pageSize": 500})
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        dialect: Dialect = DEFAULT_DIALECT,
        timeout: float | None = None,
        max_attempts: int = settings.MAX_ATTEMPTS,
        backoff_factor: float = settings.BACKOFF_FACTOR,
        max_retry_delay: float = settings.MAX_RETRY_DELAY_S,
        connect_budget: float = CONNECT_BUDGET_S,
    ) -> None:
        self.dialect = dialect
        self.transport = HTTPTransport(base_url, api_key, api_key_header=dialect.api_key_header,
                                       timeout=timeout, pool_size=8)
        self.timeout = self.transport.timeout
        self.base_url = self.transport.base_url
        self.max_attempts = max(1, max_attempts)
        self.backoff_factor = backoff_factor
        self.max_retry_delay = max_retry_delay
        self.connect_budget = connect_budget

    def url(self, path: str) -> str:
        return self.base_url + path

    def get_json(
        self, path: str, params: dict[str, Any] | list[tuple[str, Any]] | None = None,
        *, retry: RetryPolicy = "all",
    ) -> dict[str, Any]:
        """GET and decode JSON; errors become `APIError` subclasses after retries run out."""
        target = path + ("?" + urlencode(params, doseq=True) if params else "")
        answer = self._get(path, target, retry)
        raise_for_api_error(answer, "GET", path)
        try:
            body = orjson.loads(answer.content)
        except orjson.JSONDecodeError as exc:
            raise APIError(
                f"GET {path}: HTTP {answer.status_code} with a body that is not valid JSON "
                f"({len(answer.content)} bytes; {exc})",
                status=answer.status_code, method="GET", path=path,
            ) from None
        if not isinstance(body, dict):
            raise APIError(f"GET {path}: expected a JSON object, got {type(body).__name__}",
                           status=answer.status_code, method="GET", path=path)
        return body

    def _get(self, path: str, target: str, retry: RetryPolicy) -> Answer:
        failures = throttles = 0
        first_connect_failure: float | None = None
        while True:
            try:
                answer = self.transport.send("GET", target)
            except HTTPError as exc:
                kind, text = describe_failure(exc, self.transport)
                if kind in ("tls", "proxy"):
                    raise TransportError(
                        f"GET {path}: {text} talking to {self.base_url}. Is it the right URL (https for "
                        f"an https server)? Check {settings.BASE_URL_ENV}.", sent=False, method="GET",
                        path=path) from None
                if kind == "connect":
                    now = time.monotonic()
                    first_connect_failure = first_connect_failure or now
                    failures += 1
                    delay = backoff_delay(failures, max(1.0, self.backoff_factor * 2), self.max_retry_delay)
                    if failures >= MAX_CONNECT_ATTEMPTS or now + delay - first_connect_failure > self.connect_budget:
                        raise TransportError(
                            f"cannot connect to {self.base_url} ({text}; {failures} attempt"
                            f"{'s' if failures > 1 else ''} in {now - first_connect_failure:.0f} s). Is the "
                            f"API reachable at that URL? Check {settings.BASE_URL_ENV}.",
                            sent=False, method="GET", path=path) from None
                    self._announce(path, text, delay)
                    continue
                failures += 1
                if retry != "all" or failures >= self.max_attempts:
                    more = f" after {failures} attempts" if failures > 1 else ""
                    hint = f"; {REQUEST_TIMEOUT_SETTING} sets the limit" if kind == "deadline" else ""
                    raise TransportError(f"GET {path}: {text}{more} ({self.base_url}{hint})", sent=True,
                                         method="GET", path=path) from None
                delay = backoff_delay(failures, self.backoff_factor, self.max_retry_delay)
                self._announce(path, text, delay)
                continue
            if is_throttle(answer):
                throttles += 1
                if throttles > MAX_THROTTLED_READS:
                    message, _ = api_error_message(answer)
                    raise APIError(f"GET {path}: still throttled after {throttles - 1} waits "
                                   f"(HTTP {answer.status_code} {message}); the request limit may be "
                                   "used up, rerun later.", status=answer.status_code, method="GET",
                                   path=path)
                wait = retry_after_seconds(answer.headers.get("Retry-After"), self.max_retry_delay)
                delay = wait if wait is not None else backoff_delay(throttles, self.backoff_factor,
                                                                     self.max_retry_delay)
                self._announce(path, f"throttled (HTTP {answer.status_code})", delay, quiet=throttles < 3)
                continue
            if answer.status_code in RETRY_STATUSES and retry == "all":
                failures += 1
                if failures < self.max_attempts:
                    delay = retry_after_seconds(answer.headers.get("Retry-After"), self.max_retry_delay)
                    if delay is None:
                        delay = backoff_delay(failures, self.backoff_factor, self.max_retry_delay)
                    self._announce(path, f"HTTP {answer.status_code}", delay)
                    continue
            return answer

    @staticmethod
    def _announce(path: str, problem: str, delay: float, *, quiet: bool = False) -> None:
        shown = f"{delay:.0f} s" if delay >= 1 else f"{delay:.1f} s"
        (log.info if quiet else log.warning)("GET %s: %s, retrying in %s", path, problem, shown)
        time.sleep(delay)

    def close(self) -> None:
        self.transport.close()
