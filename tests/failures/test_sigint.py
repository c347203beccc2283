"""Ctrl-C at several moments of `load` and `push`: exit 130 every time, one line, and a clean rerun.

Each moment is reached by watching the emulator (a request held open by a
"slow" fault, or a count of requests served), never by sleeping a guessed time.
"""

from __future__ import annotations

import csv
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
from failure_helpers import assert_one_message
from gainsight_px.emulator import Emulator

LOAD = ["load", "--progress", "none", "--page-size", "50"]  # 250 users: 6 pages


def wait_until(condition: Callable[[], bool], proc: subprocess.Popen, what: str) -> None:
    while not condition():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the command ended before {what}: {proc.returncode}\n{out}\n{err}")
        time.sleep(0.02)


def served(emulator: Emulator, path: str, method: str = "GET") -> int:
    return sum(1 for r in emulator.control.requests() if r["path"].startswith(path) and r["method"] == method)


def interrupt(proc: subprocess.Popen) -> tuple[int, str, str]:
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


def held(emulator: Emulator, path: str, method: str | None = None) -> Callable[[], bool]:
    """Inject a slow answer on `path`; the condition is true once a request is waiting on it."""
    emulator.control.inject("slow", path=path, seconds=4, **({"method": method} if method else {}))
    return lambda: not emulator.control.faults()


@pytest.mark.parametrize("moment", ["first request", "mid-scan", "after the fetch"])
def test_ctrl_c_during_load_exits_130_and_the_rerun_is_clean(emulator: Emulator, start, run, tmp_path: Path,
                                                              moment: str) -> None:
    if moment == "mid-scan":  # two pages answered at once, the third held
        emulator.control.inject("slow", count=2, path="/v1/users", seconds=0)
    if moment in ("first request", "mid-scan"):
        ready = held(emulator, "/v1/users")
    proc = start(LOAD, emulator)
    if moment == "after the fetch":  # every list read: extract ends, normalize and load follow
        ready = lambda: all(served(emulator, f"/v1/{p}") for p in ("users", "accounts", "feature_match",  # noqa: E731
                                                                   "engagements", "subscriptions"))
    wait_until(ready, proc, moment)

    code, out, err = interrupt(proc)

    if code == 0 and moment == "after the fetch":
        pytest.skip("the load finished before Ctrl-C arrived")  # nothing to interrupt
    assert_one_message((code, err), 130, "interrupted: stopped cleanly; run the same command again")
    emulator.control.clear_faults()
    again = run(LOAD, emulator)
    assert again.returncode == 0, again.stderr
    assert "Traceback" not in again.stderr
    con = duckdb.connect(str(tmp_path / "gainsight.duckdb"), read_only=True)
    assert con.execute("SELECT count(*), count(DISTINCT aptrinsic_id) FROM gainsight_px.users").fetchone() == (250, 250)
    con.close()


def users_csv(emulator: Emulator, path: Path, n: int = 40) -> list[str]:
    ids = [r["identifyId"] for r in emulator.store.records("users")[:n]]
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["identifyId", "title"])
        for i, key in enumerate(ids):
            w.writerow([key, f"Title {i}"])
    return ids


@pytest.mark.parametrize("moment", ["first request", "mid-push", "dry run"])
def test_ctrl_c_during_push_exits_130_and_the_rerun_sends_each_row_once(emulator: Emulator, start, run,
                                                                        tmp_path: Path, moment: str) -> None:
    ids = users_csv(emulator, tmp_path / "users.csv")
    args = ["push", "users", "users.csv", "--mode", "update", "--concurrency", "2", "--rate", "40"]
    if moment == "dry run":
        args.append("--dry-run")
    emulator.control.reset_log()
    if moment != "mid-push":
        ready = held(emulator, "/v1/users/", "GET" if moment == "dry run" else "PATCH")
    proc = start(args, emulator)
    if moment == "mid-push":
        wait_until(lambda: served(emulator, "/v1/users/", "PATCH") >= 5, proc, "five rows sent")
        ready = lambda: True  # noqa: E731
    wait_until(ready, proc, moment)

    code, out, err = interrupt(proc)

    assert code == 130, (out, err)
    assert "Traceback" not in err
    assert "interrupted" in out + err
    emulator.control.clear_faults()
    again = run(args, emulator)
    assert again.returncode == 0, again.stdout + again.stderr
    writes = Counter(w["key"] for w in emulator.control.writes("users") if w["status"] < 300)
    if moment == "dry run":
        assert writes == Counter()  # a dry run writes nothing, interrupted or not
    else:
        assert writes == Counter(ids)  # every row exactly once across the two runs
