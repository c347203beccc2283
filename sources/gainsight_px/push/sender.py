"""The sender: concurrent writes under a client-side rate limit, with retries we can count.

Why not `PXClient` over requests: measured on the 2-core CI machine
against the emulator, 16 threads reach ~670 requests/s through requests (plus
dlt's retry wrapper) with the client burning ~0.7 ms of CPU per request, while
urllib3 directly (the library under requests) reaches ~2,800/s. The push needs
~950/s to meet the bench target with the emulator sharing the CPU, so this
module talks to urllib3 and reuses client.py for the rest: base URL and key
checks, id encoding, error-body messages, auth errors, and `ratelimit.TokenBucket`.
dlt's retry helper is not used because every attempt has to be seen: a 429
slows the bucket down, and whether an attempt may have reached the server
decides between "not sent" and "in doubt" in the ledger.

Per row (a `Job`), until the API answers for good:
- 2xx: delivered. The status line is enough: a body cut short after it (a
  reset connection) does not make a delivered row undelivered.
- 429: the server refused without doing anything. `Retry-After` pauses the
  whole bucket; without it every thread backs off exponentially. The rate is
  halved at most once per second while 429s keep coming, and climbs back with
  every success. 429s do not use up the row's attempts (a long storm is
  bounded by `max_throttled`, then the run stops).
- 5xx, timeouts, resets: retried with exponential backoff and jitter, at most
  `max_attempts` attempts. An answer lost after the request went out (read
  timeout, reset, 500/502/504) may have been applied: such retries are counted
  as `lost_answers` (a possible duplicate for events).
- 401/403: fatal for the whole run (`AuthError`): nothing more is dispatched.
- other 4xx: rejected with the API's message; not retried.
- A row that keeps failing is fatal too: the API is down or unreachable, and
  the rerun resumes from the ledger.
"""

from __future__ import annotations

import email.utils
import queue
import random
import ssl
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

import urllib3
from urllib3.exceptions import ConnectTimeoutError, HTTPError, NewConnectionError, SSLError

from gainsight_px import __version__, settings
from gainsight_px.client import (
    api_error_message,
    check_api_key,
    check_base_url,
    is_loopback_host,
    raise_for_api_error,
)
from gainsight_px.errors import APIError, AuthError, ConfigError, GainsightPXError
from gainsight_px.ratelimit import TokenBucket

Outcome = Literal["delivered", "rejected", "not_sent", "in_doubt"]

# 500/502/504 may come after the backend applied the write (a proxy timing out);
# 503 and 429 mean it was refused up front.
AMBIGUOUS_STATUSES = frozenset({500, 502, 504})
RETRY_STATUSES = frozenset({408, 500, 502, 503, 504})
# Connection refused / DNS: nothing was sent, and waiting long will not help.
MAX_CONNECT_ATTEMPTS = 4
MAX_THROTTLED = 200


@dataclass(frozen=True)
class Answer:
    """What came back for one attempt; duck-types the bits `client.py`'s error helpers read."""

    status_code: int
    content: bytes
    headers: Any
    reason: str


@dataclass
class Job:
    handle: int  # the engine's index of the row
    method: str
    path: str  # path under the base URL, ids already encoded
    body: bytes | None


@dataclass
class Result:
    job: Job
    outcome: Outcome
    status: int | None = None
    reason: str | None = None
    lost_answers: int = 0  # attempts whose answer was lost after the request went out


@dataclass
class Counters:
    requests: int = 0
    retried: int = 0
    throttled: int = 0
    lost_answers: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **deltas: int) -> None:
        with self.lock:
            for name, value in deltas.items():
                setattr(self, name, getattr(self, name) + value)


class Transport:
    """One keep-alive connection pool to the API; one attempt per call, no hidden retries."""

    def __init__(self, base_url: str, api_key: str, *, api_key_header: str,
                 timeout: float = settings.REQUEST_TIMEOUT_S, pool_size: int = 16) -> None:
        self.base_url = check_base_url(base_url)
        parts = urlsplit(self.base_url)
        self._prefix = parts.path
        # The key lives only in these headers: never in a URL, a message or a log.
        self._headers = {
            api_key_header: check_api_key(api_key),
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": f"gainsight-px/{__version__}",
        }
        options: dict[str, Any] = dict(
            maxsize=pool_size, block=False, retries=False,
            timeout=urllib3.Timeout(connect=min(10.0, timeout), read=timeout),
        )
        if parts.scheme == "https":
            try:
                import certifi  # the CA bundle requests uses

                options["ca_certs"] = certifi.where()
            except ImportError:
                pass
        proxy = None if is_loopback_host(parts.hostname or "") else _env_proxy(parts.scheme, parts.hostname)
        manager = urllib3.ProxyManager(proxy, **options) if proxy else urllib3.PoolManager(**options)
        self._pool = manager.connection_from_url(self.base_url)
        self._manager = manager

    def send(self, method: str, path: str, body: bytes | None) -> Answer:
        """One attempt. Raises urllib3 errors for transport failures."""
        response = self._pool.urlopen(method, self._prefix + path, body=body, headers=self._headers,
                                      retries=False, redirect=False, preload_content=False)
        status = response.status
        try:
            content = response.read()
        except HTTPError:
            if 200 <= status < 300:
                content = b""  # the status line is the API's answer; the body is not needed
            else:
                raise
        finally:
            response.release_conn()
        return Answer(status, content, response.headers, response.reason or "")

    def close(self) -> None:
        self._manager.clear()


def _env_proxy(scheme: str, host: str | None) -> str | None:
    """HTTPS_PROXY / HTTP_PROXY / NO_PROXY, as requests would honour them."""
    proxy = urllib.request.getproxies().get(scheme)
    if proxy and host and urllib.request.proxy_bypass(host):
        return None
    return proxy


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
    return min(cap, max(0.0, seconds))


class Sender:
    """A fixed pool of worker threads delivering `Job`s; results come back on a queue.

    The engine submits at most `concurrency` jobs at a time (one per worker), so a
    job is never queued behind others: "submitted" means "in flight".
    """

    def __init__(self, transport: Transport, *, rate: float, concurrency: int,
                 not_found_reason: str | None = None, max_attempts: int = settings.MAX_ATTEMPTS,
                 backoff_factor: float = settings.BACKOFF_FACTOR,
                 max_delay: float = settings.MAX_RETRY_DELAY_S) -> None:
        if concurrency < 1:
            raise ConfigError(f"--concurrency must be at least 1, got {concurrency}")
        if rate <= 0:
            raise ConfigError(f"--rate must be positive, got {rate}")
        self.transport = transport
        self.concurrency = concurrency
        # A 404 on an item path means the record does not exist (update mode).
        self.not_found_reason = not_found_reason
        self.max_attempts = max(1, max_attempts)
        self.backoff_factor = backoff_factor
        self.max_delay = max_delay
        self.bucket = TokenBucket(rate, burst=max(1.0, min(rate / 10, concurrency)),
                                  min_rate=max(1.0, rate / 20))
        self.counters = Counters()
        self.fatal: GainsightPXError | None = None
        self._stop = threading.Event()  # Ctrl-C: no new attempts for rows that never reached the server
        self._halt = threading.Event()  # fatal: no new attempts at all
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._results: queue.SimpleQueue[Result] = queue.SimpleQueue()
        self._throttle_lock = threading.Lock()
        self._last_slow_down = 0.0
        self._threads = [threading.Thread(target=self._work, name=f"px-push-{i}", daemon=True)
                         for i in range(concurrency)]
        for thread in self._threads:
            thread.start()

    # ------------------------------------------------------------ engine side

    def submit(self, job: Job) -> None:
        self._jobs.put(job)

    def results(self, timeout: float) -> list[Result]:
        """Wait up to `timeout` for one result, then take every result already there."""
        try:
            got = [self._results.get(timeout=timeout)]
        except queue.Empty:
            return []
        while True:
            try:
                got.append(self._results.get_nowait())
            except queue.Empty:
                return got

    def stop(self) -> None:
        """Ctrl-C: finish what is in flight, start nothing new."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set() or self._halt.is_set()

    def close(self) -> None:
        """Let idle workers exit. Busy (abandoned) workers are daemon threads."""
        for _ in self._threads:
            self._jobs.put(None)
        self.transport.close()

    # ------------------------------------------------------------ worker side

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            try:
                result = self._deliver(job)
            except Exception as exc:  # a bug must not leave the engine waiting forever
                self._fail(APIError(f"{job.method} {job.path}: unexpected {type(exc).__name__}: {exc}"))
                result = Result(job, "in_doubt", reason=str(exc))
            self._results.put(result)

    def _fail(self, error: GainsightPXError) -> None:
        with self._throttle_lock:
            if self.fatal is None:
                self.fatal = error
        self._halt.set()

    def _deliver(self, job: Job) -> Result:
        attempts = connect_failures = throttled = lost = 0
        last_problem = ""
        while True:
            if not self._may_try(lost):
                return self._withdraw(job, lost, last_problem)
            self.bucket.acquire()
            if not self._may_try(lost):  # a Retry-After pause may have outlasted a Ctrl-C
                return self._withdraw(job, lost, last_problem)
            attempts += 1
            self.counters.add(requests=1)
            try:
                answer = self.transport.send(job.method, job.path, job.body)
            except (NewConnectionError, ConnectTimeoutError) as exc:
                connect_failures += 1
                last_problem = f"cannot connect to {self.transport.base_url} ({_reason(exc)})"
                if connect_failures >= MAX_CONNECT_ATTEMPTS:
                    self._fail(APIError(f"{last_problem}; gave up after {connect_failures} attempts. "
                                        f"Is the API reachable? Check {settings.BASE_URL_ENV}."))
                    continue
            except SSLError as exc:
                self._fail(APIError(f"TLS error talking to {self.transport.base_url}: {_reason(exc)}"))
                continue
            except (HTTPError, ssl.SSLError, OSError) as exc:
                lost += 1
                self.counters.add(lost_answers=1)
                last_problem = f"no answer ({_reason(exc)})"
            else:
                status = answer.status_code
                if 200 <= status < 300:
                    self._succeeded()
                    return Result(job, "delivered", status, lost_answers=lost)
                if status == 429:
                    throttled += 1
                    attempts -= 1  # a refusal, not a failure
                    self._throttled(answer, throttled)
                    if throttled >= MAX_THROTTLED:
                        self._fail(APIError(f"{job.method} {job.path}: still 429 Too Many Requests after "
                                            f"{throttled} tries; the daily request limit may be used up"))
                    else:
                        self.counters.add(retried=1)
                    continue
                if status in (401, 403):
                    try:
                        raise_for_api_error(answer, job.method, job.path)  # type: ignore[arg-type]
                    except AuthError as exc:
                        self._fail(exc)
                    continue
                message, _ = api_error_message(answer)  # type: ignore[arg-type]
                if status not in RETRY_STATUSES:
                    if status == 404 and self.not_found_reason:
                        return Result(job, "rejected", status, f"{self.not_found_reason} ({message})", lost)
                    if status in (404, 405) and job.method == "POST":
                        # A create path that does not exist: the base URL is wrong, not the row.
                        self._fail(APIError(f"{job.method} {job.path}: HTTP {status} {message}; check "
                                            f"{settings.BASE_URL_ENV} ({self.transport.base_url})"))
                        continue
                    return Result(job, "rejected", status, f"HTTP {status}: {message}", lost)
                if status in AMBIGUOUS_STATUSES:
                    lost += 1
                    self.counters.add(lost_answers=1)
                last_problem = f"HTTP {status} {message}"
            if attempts >= self.max_attempts:
                self._fail(APIError(f"{job.method} {job.path}: {last_problem} after {attempts} attempts; "
                                    "the API keeps failing, rerun later to resume"))
                continue
            self.counters.add(retried=1)
            self._halt.wait(self._backoff(attempts))

    def _may_try(self, lost: int) -> bool:
        # After Ctrl-C a row whose answer was lost keeps trying: stopping now would leave it in doubt.
        return not (self._halt.is_set() or (self._stop.is_set() and lost == 0))

    @staticmethod
    def _withdraw(job: Job, lost: int, last_problem: str) -> Result:
        # Nothing of this row may have reached the server (lost == 0): the ledger withdraws it.
        return Result(job, "in_doubt" if lost else "not_sent", reason=last_problem, lost_answers=lost)

    def _backoff(self, attempt: int) -> float:
        delay = min(self.max_delay, self.backoff_factor * 2 ** (attempt - 1))
        return delay * random.uniform(0.5, 1.0)  # jitter: threads must not retry in lockstep

    def _succeeded(self) -> None:
        self.bucket.speed_up()

    def _throttled(self, answer: Answer, tries: int) -> None:
        """Hold every thread: for Retry-After, else for a backoff that doubles with each 429
        this row has had (a row refused again and again waits longer and longer)."""
        self.counters.add(throttled=1)
        wait = retry_after_seconds(answer.headers.get("Retry-After"), self.max_delay)
        with self._throttle_lock:
            now = time.monotonic()
            # The 429s of one burst arrive together, one per thread: cut the rate once per second.
            if now - self._last_slow_down >= 1.0:
                self.bucket.slow_down()
                self._last_slow_down = now
        self.bucket.pause(wait if wait is not None else self._backoff(tries))


def _reason(exc: BaseException) -> str:
    """A short transport error text (urllib3 nests the socket error in `reason`)."""
    inner = getattr(exc, "reason", None)
    text = str(inner or exc)
    return text if len(text) < 200 else text[:197] + "..."
