"""The sender: concurrent writes under a client-side rate limit, with retries we can count.

Requests go through `client.HTTPTransport`, the transport the load uses too
(urllib3: ~2,800 requests/s on the 2-core CI machine where requests plus dlt's
retry wrapper reached ~670/s): one overall deadline per attempt, no redirects
followed, no proxy for loopback, the key scrubbed from every answer, size
limits. The retry loop is this module's own, because every attempt has to be
seen: a throttle slows the bucket down, and whether an attempt may have
reached the server decides between "not sent" and "in doubt" in the ledger.

Per row (a `Job`), until the API answers for good:
- 2xx: delivered. The status line is enough: a body cut short after it (a
  reset connection) does not make a delivered row undelivered.
- 429 (or PX's "Duplicate request blocked. Please wait before retrying",
  whatever its status): the server refused without doing anything. `Retry-After` pauses the
  whole bucket; without it every thread backs off exponentially. The rate is
  halved at most once per second while 429s keep coming, and climbs back with
  every success. 429s do not use up the row's attempts (a long storm is
  bounded by `max_throttled`, then the run stops).
- 3xx: fatal (never followed: the key would go with it), naming the target host.
- 5xx, timeouts, resets, the deadline: retried with exponential backoff and jitter, at most
  `max_attempts` attempts. An answer lost after the request went out (read
  timeout, reset, 500/502/504) may have been applied: such retries are counted
  as `lost_answers` (a possible duplicate for events).
- 401/403: fatal for the whole run (`AuthError`): nothing more is dispatched.
- other 4xx: rejected with the API's message; not retried.
- A row that keeps failing is fatal too: the API is down or unreachable, and
  the rerun resumes from the ledger.
"""

from __future__ import annotations

import logging
import queue
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from urllib3.exceptions import ConnectTimeoutError, HTTPError, NewConnectionError, ProxyError, SSLError

from gainsight_px import settings
from gainsight_px.client import (
    Answer,
    HTTPTransport,
    RedirectError,
    ResponseTooLarge,
    api_error_message,
    backoff_delay,
    describe_failure,
    is_throttle,
    raise_for_api_error,
    retry_after_seconds,
)
from gainsight_px.endpoints import Dialect
from gainsight_px.errors import APIError, AuthError, ConfigError, GainsightPXError
from gainsight_px.ratelimit import TokenBucket

log = logging.getLogger(__name__)

Outcome = Literal["delivered", "rejected", "not_sent", "in_doubt"]

# 500/502/504 may come after the backend applied the write (a proxy timing out);
# 503 and 429 mean it was refused up front.
AMBIGUOUS_STATUSES = frozenset({500, 502, 504})
RETRY_STATUSES = frozenset({408, 500, 502, 503, 504})
# Connection refused / DNS: nothing was sent, and waiting long will not help.
MAX_CONNECT_ATTEMPTS = 4
MAX_THROTTLED = 200


@dataclass
class Job:
    """One row's write. Verbs, paths and the statuses to read come from the endpoint table."""

    handle: int  # the engine's index of the row
    method: str
    path: str  # path under the base URL, ids already encoded
    body: bytes | None
    # Sent instead when this one answers "not found" (the published upsert: PUT, then POST).
    fallback: Job | None = None
    # A create's "already exists" answer: (status, text in its message).
    duplicate: tuple[int, str] | None = None
    # Sent when a create meets an existing id it did not make (created meanwhile: update it).
    on_duplicate: Job | None = None


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


class Transport(HTTPTransport):
    """The push's keep-alive pool: `client.HTTPTransport` (deadline, size limits, no redirects,
    no proxy for loopback, key scrubbed from answers) sending JSON bodies."""

    def __init__(self, base_url: str, api_key: str, *, api_key_header: str,
                 timeout: float | None = None, pool_size: int = 16) -> None:
        super().__init__(base_url, api_key, api_key_header=api_key_header, timeout=timeout,
                         pool_size=pool_size, extra_headers={"Content-Type": "application/json"})

    def send(self, method: str, path: str, body: bytes | None = None, **kwargs: Any) -> Answer:  # type: ignore[override]
        """One attempt. Raises urllib3 errors for transport failures; a 2xx whose body
        breaks off still counts (the status line is the API's answer)."""
        kwargs.setdefault("need_body", False)
        return super().send(method, path, body, **kwargs)


class Sender:
    """A fixed pool of worker threads delivering `Job`s; results come back on a queue.

    The engine submits at most `concurrency` jobs at a time (one per worker), so a
    job is never queued behind others: "submitted" means "in flight".
    """

    def __init__(self, transport: Transport, *, rate: float, concurrency: int, dialect: Dialect,
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
        # The dialect's write answers: "no such record", and "no such method" (the wrong dialect).
        self.dialect_name = dialect.name
        self.not_found_status = dialect.not_found_status
        self.wrong_method_status = dialect.wrong_method_status
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
        self._last_announced = 0.0
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

    def _deliver(self, job: Job, prior_lost: int = 0) -> Result:
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
            except (NewConnectionError, ConnectTimeoutError, ProxyError) as exc:
                connect_failures += 1
                last_problem = f"cannot connect to {self.transport.base_url} ({describe_failure(exc, self.transport)[1]})"
                if connect_failures >= MAX_CONNECT_ATTEMPTS:
                    self._fail(APIError(f"{last_problem}; gave up after {connect_failures} attempts. "
                                        f"Is the API reachable at that URL? Check {settings.BASE_URL_ENV}."))
                    continue
            except SSLError as exc:
                self._fail(APIError(f"TLS error talking to {self.transport.base_url}: {self.transport.scrub(_reason(exc))}. "
                                    f"Is it an https server? Check {settings.BASE_URL_ENV}."))
                continue
            except (RedirectError, ResponseTooLarge) as exc:
                self._fail(exc)  # a redirect is never followed (the key would go with it)
                continue
            except (HTTPError, ssl.SSLError, OSError) as exc:
                lost += 1
                self.counters.add(lost_answers=1)
                last_problem = f"no answer ({self.transport.scrub(_reason(exc))})"
            else:
                status = answer.status_code
                if 200 <= status < 300:
                    self._succeeded()
                    return Result(job, "delivered", status, lost_answers=prior_lost + lost)
                if is_throttle(answer):  # 429, or PX's "Duplicate request blocked": wait, not a failure
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
                    outcome = self._write_answer(job, status, message, prior_lost, lost)
                    if outcome is not None:
                        return outcome
                    if status == self.wrong_method_status:
                        self._fail(ConfigError(
                            f"{job.method} {job.path}: HTTP {status} {message}: the server has no such call, so "
                            f"it does not speak the {self.dialect_name} dialect; set {settings.DIALECT_ENV} "
                            "(or --dialect) to the one it speaks, or auto"))
                        continue
                    if status == self.not_found_status and self.not_found_reason:
                        return Result(job, "rejected", status, f"{self.not_found_reason} ({message})",
                                      prior_lost + lost)
                    if status == self.not_found_status and job.body is not None:
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
            delay = self._backoff(attempts)
            self._announce(last_problem, delay)
            self._halt.wait(delay)

    def _write_answer(self, job: Job, status: int, message: str, prior_lost: int, lost: int) -> Result | None:
        """The next step of a multi-step write (upsert), or None to read `status` as usual."""
        if status == self.not_found_status and job.fallback is not None:
            return self._deliver(job.fallback, prior_lost + lost)
        if job.duplicate is not None and status == job.duplicate[0] and job.duplicate[1] in message.lower():
            if lost:  # an earlier attempt of this create went through, its answer did not come back
                return Result(job, "delivered", status, "created; the answer was lost and the retry met "
                              "the record", prior_lost + lost)
            if job.on_duplicate is not None:  # created by someone else since: update it
                return self._deliver(job.on_duplicate, prior_lost)
        return None

    def _announce(self, problem: str, delay: float) -> None:
        """Say once per second on stderr (the log) why rows are waiting: a wrong URL shows at once."""
        now = time.monotonic()
        with self._throttle_lock:
            if now - self._last_announced < 1.0:
                return
            self._last_announced = now
        log.warning("%s, retrying in %s", problem, f"{delay:.0f} s" if delay >= 1 else f"{delay:.1f} s")

    def _may_try(self, lost: int) -> bool:
        # After Ctrl-C a row whose answer was lost keeps trying: stopping now would leave it in doubt.
        return not (self._halt.is_set() or (self._stop.is_set() and lost == 0))

    @staticmethod
    def _withdraw(job: Job, lost: int, last_problem: str) -> Result:
        # Nothing of this row may have reached the server (lost == 0): the ledger withdraws it.
        return Result(job, "in_doubt" if lost else "not_sent", reason=last_problem, lost_answers=lost)

    def _backoff(self, attempt: int) -> float:
        return backoff_delay(attempt, self.backoff_factor, self.max_delay)  # jittered: no lockstep

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
