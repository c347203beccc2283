"""Kill points for the crash loops: chosen by a seeded RNG, reached by progress or by time.

A point is either "after the emulator has answered N requests of a route"
(lands mid-scan or mid-push by construction) or "T seconds after start"
(lands anywhere: interpreter start, extract, normalize, load to DuckDB, state
commit, summary). The seed fixes which points are tried; the stage a timed
point hits still depends on the machine, which is the point of trying many.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gainsight_px.emulator import Emulator

SEED = 20261126


@dataclass(frozen=True)
class KillPoint:
    kind: str  # "progress" or "time"
    value: float  # requests answered, or seconds after start

    def __str__(self) -> str:
        return f"after {int(self.value)} answered requests" if self.kind == "progress" else f"at {self.value:.2f}s"


@dataclass
class KillResult:
    point: KillPoint
    killed: bool  # False: the process had already finished when the point came
    returncode: int | None


def kill_at(proc: subprocess.Popen[str], point: KillPoint, answered: Callable[[], int],
            give_up_s: float = 60.0) -> KillResult:
    """SIGKILL `proc` when `point` is reached (or report that it finished first)."""
    started = time.monotonic()
    while proc.poll() is None:
        reached = (answered() >= point.value if point.kind == "progress"
                   else time.monotonic() - started >= point.value)
        if reached:
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=30)
            return KillResult(point, killed=True, returncode=proc.returncode)
        if time.monotonic() - started > give_up_s:
            proc.kill()
            raise AssertionError(f"kill point {point} never came")
        time.sleep(0.005)
    out, err = proc.communicate()
    assert proc.returncode == 0, f"the run failed before its kill point:\n{out}\n{err}"
    return KillResult(point, killed=False, returncode=0)


def settle(emulator: Emulator) -> None:
    """Wait until the emulator stops receiving requests (a killed client's last ones land)."""
    last = -1
    while True:
        now = emulator.control.stats()["requests"]
        if now == last:
            return
        last = now
        time.sleep(0.4)


def pending_in_ledger(ledger: Path) -> int:
    """Rows the ledger has in flight (what a dead push left "in doubt")."""
    if not ledger.exists():
        return 0
    with sqlite3.connect(ledger) as conn:
        return conn.execute("SELECT count(*) FROM deliveries WHERE pending IS NOT NULL").fetchone()[0]
