"""The token bucket behind both rate limits: the push's client-side limit and the emulator's 429s.

Its own module, free of dlt and requests, so that the emulator can use it
without paying for their import at start-up.
"""

from __future__ import annotations

import threading
import time

from gainsight_px.errors import ConfigError


class TokenBucket:
    """A thread-safe token bucket whose rate adapts: down on 429s, slowly back up on success.

    `take()` answers at once (0, or the seconds until a token is free: the
    emulator turns that into a 429); `acquire()` blocks until a token is free.
    `slow_down()` halves the rate (not below `min_rate`); `speed_up()` adds back
    a small step towards the ceiling; `pause()` holds everyone (Retry-After).
    """

    def __init__(self, rate: float, burst: float | None = None, *, min_rate: float = 1.0) -> None:
        if rate <= 0:
            raise ConfigError(f"rate limit must be positive, got {rate}")
        self.ceiling = float(rate)
        self.rate = float(rate)
        self.min_rate = min(min_rate, self.ceiling)
        self.burst = float(burst if burst is not None else max(1.0, rate / 10))
        self._tokens = self.burst
        self._last = time.monotonic()
        self._lock = threading.Lock()
        self._paused_until = 0.0
        self._generation = 0  # bumped by pause() and slow_down(): reserved turns are void

    def _refill(self) -> float:
        """Add the tokens earned since the last call (the lock held); returns now."""
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        return now

    def take(self) -> float:
        """Take a token now and return 0, or return the seconds until one is free."""
        with self._lock:
            now = self._refill()
            if now < self._paused_until:
                return self._paused_until - now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return 0.0
            return (1.0 - self._tokens) / self.rate

    def acquire(self) -> None:
        """Block until this caller's token is due.

        Each caller reserves the next token (the bucket may go into debt) and sleeps once,
        until its own turn: waiting callers never all wake for one token and race for it.
        A pause or a slow-down while a caller slept voids its turn: it reserves again, at
        the new rate or after the pause.
        """
        while True:
            with self._lock:
                generation = self._generation
                now = self._refill()
                paused = now < self._paused_until
                if paused:
                    wait = self._paused_until - now
                else:
                    self._tokens -= 1.0
                    wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
            if wait > 0:
                self._sleep(wait)
            if not paused and generation == self._generation:
                return

    @staticmethod
    def _sleep(seconds: float) -> None:  # a seam for tests that count the waits
        time.sleep(seconds)

    def pause(self, seconds: float) -> None:
        """Hold every caller for `seconds` (a server's Retry-After)."""
        with self._lock:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)
            self._tokens = 0.0
            self._generation += 1

    def slow_down(self) -> None:
        with self._lock:
            self.rate = max(self.min_rate, self.rate / 2)
            self._tokens = 0.0  # debts of reserved turns too: their callers reserve again
            self._generation += 1

    def speed_up(self) -> None:
        with self._lock:
            self.rate = min(self.ceiling, self.rate + max(0.5, self.ceiling / 200))
