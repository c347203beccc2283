"""The push's client-side rate limit: callers wait their own turn, and a pause holds them all."""

from __future__ import annotations

import threading
import time

from gainsight_px.ratelimit import TokenBucket


class CountingBucket(TokenBucket):
    """A bucket that counts how often its callers go to sleep."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.sleeps = 0
        self._count_lock = threading.Lock()

    def _sleep(self, seconds: float) -> None:
        with self._count_lock:
            self.sleeps += 1
        time.sleep(seconds)


def _acquire_all(bucket: TokenBucket, threads: int, each: int) -> list[float]:
    """`threads` callers take `each` tokens; the times they got them."""
    granted: list[float] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(each):
            bucket.acquire()
            with lock:
                granted.append(time.monotonic())

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    return sorted(granted)


def test_waiting_callers_sleep_once_per_token_not_once_per_token_and_waiter():
    # 16 callers sharing 200 tokens/s, as the push's workers do: a caller that waits sleeps
    # until its own turn, instead of every waiter waking for every token and racing for it.
    bucket = CountingBucket(200, burst=1)
    granted = _acquire_all(bucket, threads=16, each=5)
    assert len(granted) == 80
    assert bucket.sleeps <= 80
    # ...and the rate holds: 80 tokens at 200/s, one of them up front, take at least 79/200 s.
    assert granted[-1] - granted[0] >= 79 / 200 * 0.95


def test_a_pause_holds_callers_that_were_already_waiting_their_turn():
    bucket = TokenBucket(20, burst=1)
    bucket.acquire()  # the burst is spent: the next callers reserve turns 50 ms apart
    started = time.monotonic()
    results: list[float] = []
    lock = threading.Lock()

    def work() -> None:
        bucket.acquire()
        with lock:
            results.append(time.monotonic() - started)

    workers = [threading.Thread(target=work) for _ in range(4)]
    for worker in workers:
        worker.start()
    time.sleep(0.01)  # every worker holds a turn within the next 200 ms
    bucket.pause(0.5)  # a Retry-After: nobody goes before it ends
    for worker in workers:
        worker.join(timeout=10)
    assert len(results) == 4
    assert min(results) >= 0.5


def test_a_slow_down_voids_the_turns_reserved_at_the_old_rate():
    bucket = TokenBucket(100, burst=1)
    bucket.acquire()
    started = time.monotonic()
    threads = [threading.Thread(target=bucket.acquire) for _ in range(10)]
    for thread in threads:
        thread.start()
    time.sleep(0.005)  # turns reserved at 100/s: the last at about 100 ms
    bucket.slow_down()
    bucket.slow_down()  # 25/s: ten more tokens take about 400 ms
    for thread in threads:
        thread.join(timeout=10)
    assert time.monotonic() - started >= 0.3
