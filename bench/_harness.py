"""Shared machinery for the bench scripts.

- `emulator_process()` serves a synthetic tenant from a separate process on an
  ephemeral loopback port, so the emulator's CPU and memory are never counted
  against a contender.
- `run_child()` runs one contender in its own interpreter and reads back the
  JSON line it prints, so each peak RSS belongs to that contender alone.
- `Table` prints aligned text and markdown; `Target` grades a figure against
  the performance targets' thresholds (PASS/MISS, never silently lowered).

Run as a script (`python bench/_harness.py serve ...`) it is the emulator
process itself; the bench scripts start it that way.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import operator
import os
import platform
import re
import resource
import select
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import requests
from gainsight_px import settings
from gainsight_px.endpoints import CONTRACT

BENCH_DIR = Path(__file__).resolve().parent
API_KEY = settings.EMULATOR_API_KEY
USERS = CONTRACT["users"]
# The synthetic tenant's own customAttributes keys per user (plan, seats, nps, beta,
# renewalDate, region); TenantSpec.extra_attributes adds more.
BASE_CUSTOM_ATTRIBUTES = 6

# Generating 1M users takes a few seconds on a quiet machine; leave room for a busy one.
EMULATOR_START_TIMEOUT_S = 600.0
CHILD_TIMEOUT_S = 3600.0


# --------------------------------------------------------------------------- emulator


@dataclass(frozen=True)
class EmulatorHandle:
    base_url: str
    control_url: str
    api_key: str = API_KEY


def _serve(args: argparse.Namespace) -> int:
    """Child side: serve a tenant until stdin closes (the parent exiting closes it too)."""
    from gainsight_px.emulator import Emulator, TenantSpec

    spec = TenantSpec(users=args.users, seed=args.seed, extra_attributes=args.extra_attributes)
    extra: dict[str, Any] = {"dialect": args.dialect}
    if args.events:  # an event history: the published dialect, one stream of `events` events
        from gainsight_px.emulator.events import EventSpec
        from gainsight_px.endpoints import PUBLISHED

        extra = {"dialect": PUBLISHED,
                 "events": EventSpec.only(args.event_stream, total=args.events, days=args.event_days)}
    emulator = Emulator(
        tenant=spec,
        api_key=settings.EMULATOR_API_KEY,
        read_only_key=settings.EMULATOR_READ_ONLY_KEY,
        rate_limit=args.rate_limit,
        host="127.0.0.1",
        port=0,
        **extra,
    ).start()
    try:
        print(json.dumps({"base_url": emulator.base_url, "control_url": emulator.control_url}), flush=True)
        sys.stdin.read()
    finally:
        emulator.stop()
    return 0


def _wait_until_serving(handle: EmulatorHandle, deadline: float) -> None:
    url = handle.base_url + USERS.path
    headers = {CONTRACT.api_key_header: handle.api_key}
    while True:
        try:
            if requests.get(url, params={"pageSize": 1}, headers=headers, timeout=30).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"emulator at {handle.base_url} did not answer GET {USERS.path} in time")
        time.sleep(0.2)


@contextlib.contextmanager
def emulator_process(users: int, *, seed: int = 42, rate_limit: float | None = None,
                     events: tuple[str, int, int] | None = None,
                     custom_attributes: int | None = None, dialect: str = "contract") -> Iterator[EmulatorHandle]:
    """Start the emulator in its own process, wait until it serves /users, stop it on exit.

    `events=(stream, total, days)` serves the published dialect with an event
    history of `total` events of `stream` over `days` days. `custom_attributes`
    gives every user that many custom attributes (at least the tenant's own
    BASE_CUSTOM_ATTRIBUTES, some of them missing on some users). `dialect` is the API
    the emulator speaks ("contract" or "published").
    """
    cmd = [sys.executable, str(Path(__file__).resolve()), "serve", "--users", str(users), "--seed", str(seed),
           "--dialect", dialect]
    if custom_attributes is not None:
        cmd += ["--extra-attributes", str(max(0, custom_attributes - BASE_CUSTOM_ATTRIBUTES))]
    if rate_limit is not None:
        cmd += ["--rate-limit", str(rate_limit)]
    if events is not None:
        cmd += ["--event-stream", events[0], "--events", str(events[1]), "--event-days", str(events[2])]
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True)
        try:
            deadline = time.monotonic() + EMULATOR_START_TIMEOUT_S
            assert proc.stdout is not None
            # The tenant is generated before the URL is printed: wait for it, but not forever.
            ready, _, _ = select.select([proc.stdout], [], [], EMULATOR_START_TIMEOUT_S)
            line = proc.stdout.readline() if ready else ""
            if not line:
                proc.terminate()
                proc.wait(timeout=10)
                log.seek(0)
                raise RuntimeError(f"emulator process exited with {proc.returncode}:\n{log.read()[-3000:]}")
            handle = EmulatorHandle(**json.loads(line))
            _wait_until_serving(handle, deadline)
            yield handle
        finally:
            _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    with contextlib.suppress(OSError, ValueError):
        if proc.stdin:
            proc.stdin.close()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def remote_control(handle: EmulatorHandle) -> Any:
    """The emulator's HTTP control interface (it lives in the other process)."""
    from gainsight_px.emulator.control import RemoteControl

    return RemoteControl(handle.control_url)


def column_name(api_name: str) -> str:
    """The warehouse column dlt's default naming gives an API field (`aptrinsicId` -> `aptrinsic_id`)."""
    from dlt.common.normalizers.naming.snake_case import NamingConvention

    return NamingConvention().normalize_identifier(api_name)


def list_requests(control: Any, endpoint: Any = USERS) -> int:
    """GET requests on `endpoint`'s list path since the last `reset_log()`, as the emulator counts them."""
    total = 0
    for key, count in control.request_counts().items():
        method, _, path = key.partition(" ")
        if method == "GET" and path.endswith(endpoint.path):
            total += int(count)
    return total


# --------------------------------------------------------------------------- child processes


def peak_rss_mb() -> float:
    """This process's own peak resident set size, in MiB.

    VmHWM is read first: `ru_maxrss` of a child started by `subprocess` also
    carries the parent's peak (Linux records the pre-exec memory in it), which
    would charge the orchestrator's memory to the contender.
    """
    with contextlib.suppress(OSError, IndexError, ValueError):
        status = Path("/proc/self/status").read_text()
        return int(status.split("VmHWM:")[1].split()[0]) / 1024  # kB
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss / (1024 * 1024) if sys.platform == "darwin" else maxrss / 1024


_DLT_CONFIG_PREFIXES = ("SOURCES__", "DESTINATION__", "NORMALIZE__", "LOAD__", "EXTRACT__", "DATA_WRITER__",
                        "RUNTIME__", "PIPELINES__", "DLT_")


def child_env(workdir: Path, handle: EmulatorHandle) -> dict[str, str]:
    """Environment for a contender: the key via env (never argv), dlt state inside `workdir`.

    dlt settings from the caller's environment are dropped so every contender
    runs on dlt's defaults, whatever shell the bench was started from.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(_DLT_CONFIG_PREFIXES)}
    env.update({
        settings.API_KEY_ENV: handle.api_key,
        settings.BASE_URL_ENV: handle.base_url,
        "DLT_DATA_DIR": str(workdir / "dlt_data"),
        "RUNTIME__DLTHUB_TELEMETRY": "false",
    })
    return env


def run_child(script: str, args: Sequence[str], *, workdir: Path, handle: EmulatorHandle,
              timeout: float = CHILD_TIMEOUT_S) -> dict[str, Any]:
    """Run `bench/<script> args...` in `workdir` and return the JSON object on its last stdout line.

    The child runs with `workdir` as its cwd so that no `.dlt/` config or secrets
    of the checkout leak into a contender's run.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, str(BENCH_DIR / script), *args]
    load_before = loadavg_1m()
    proc = subprocess.run(cmd, cwd=workdir, env=child_env(workdir, handle), capture_output=True,
                          text=True, timeout=timeout)
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(
            f"{script} {' '.join(args)} exited with {proc.returncode}:\n"
            f"{proc.stderr[-4000:]}{proc.stdout[-1000:]}"
        )
    result = json.loads(lines[-1])
    result["load_before"] = load_before
    return result


def emit(result: dict[str, Any]) -> None:
    """Child side: print the result as the last stdout line, with this process's peak RSS."""
    result.setdefault("peak_rss_mb", round(peak_rss_mb(), 1))
    print(json.dumps(result), flush=True)


# --------------------------------------------------------------------------- reporting


_FIGURE = re.compile(r"^[<>=]*\s*[+-]?[\d,]*\.?\d+\s*(x|%|MB| MB)?$")


@dataclass
class Table:
    title: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: Any) -> None:
        self.rows.append([str(c) for c in cells])

    def _numeric(self, i: int) -> bool:
        """A column is numeric when every filled cell is a figure ("1,234", "0.52x", "+12%", "-")."""
        cells = [r[i] for r in self.rows if r[i] not in ("", "-")]
        return bool(cells) and all(_FIGURE.match(c) for c in cells)

    def text(self) -> str:
        widths = [max([len(h), *(len(r[i]) for r in self.rows)]) for i, h in enumerate(self.headers)]
        right = [self._numeric(i) for i in range(len(self.headers))]

        def line(cells: Sequence[str]) -> str:
            return "  ".join(c.rjust(w) if r else c.ljust(w)
                             for c, w, r in zip(cells, widths, right, strict=True)).rstrip()

        out = [self.title, line(self.headers), "  ".join("-" * w for w in widths)]
        out += [line(r) for r in self.rows]
        out += [f"  {n}" for n in self.notes]
        return "\n".join(out)

    def markdown(self) -> str:
        align = [" ---: " if self._numeric(i) else " --- " for i in range(len(self.headers))]
        out = [f"**{self.title}**", "", "| " + " | ".join(self.headers) + " |", "|" + "|".join(align) + "|"]
        out += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in self.rows]
        if self.notes:
            out += [""] + [f"- {n}" for n in self.notes]
        return "\n".join(out)


_COMPARE = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}


@dataclass(frozen=True)
class Target:
    """One performance target: `measured` compared with `threshold` by `op` (">=", ">", "<=", "<")."""

    name: str
    measured: float | None
    threshold: float
    op: str
    unit: str = ""
    note: str = ""

    @property
    def verdict(self) -> str:
        if self.measured is None:
            return "n/a"
        return "PASS" if _COMPARE[self.op](self.measured, self.threshold) else "MISS"

    def cells(self) -> list[str]:
        def show(v: float) -> str:
            if not self.unit and float(v).is_integer():  # a count (requests, rows)
                return f"{v:,.0f}"
            return f"{v:,.2f}{self.unit}" if abs(v) < 100 else f"{v:,.0f}{self.unit}"
        measured = "-" if self.measured is None else show(self.measured)
        return [self.name, measured, f"{self.op} {show(self.threshold)}", self.verdict, self.note]


def targets_table(targets: Sequence[Target], title: str = "Targets") -> Table:
    table = Table(title, ["target", "measured", "required", "verdict", "note"])
    for t in targets:
        table.add(*t.cells())
    return table


def fmt_int(n: float) -> str:
    return f"{n:,.0f}"


def fmt_s(s: float) -> str:
    return f"{s:,.2f}"


def fmt_load(run: dict[str, Any]) -> str:
    """The 1-minute load average when a child run started (`run_child` records it)."""
    return "-" if run.get("load_before") is None else f"{run['load_before']:.2f}"


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def loadavg_1m() -> float | None:
    """The 1-minute load average: on a shared machine it says how much a figure can be trusted."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        return float(Path("/proc/loadavg").read_text().split()[0])
    return None


def loadavg() -> str:
    with contextlib.suppress(OSError):
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return "n/a"


def machine_info() -> dict[str, str]:
    """What the figures were measured on (read without importing dlt or duckdb)."""
    cpu = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for ln in Path("/proc/cpuinfo").read_text().splitlines():
            if ln.startswith("model name"):
                cpu = ln.split(":", 1)[1].strip()
                break
    mem = "unknown"
    with contextlib.suppress(OSError, IndexError, ValueError):
        kb = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
        mem = f"{kb / 1024 / 1024:.1f} GiB"

    def version(pkg: str) -> str:
        try:
            return metadata.version(pkg)
        except metadata.PackageNotFoundError:
            return "missing"

    return {
        "cpus": str(os.cpu_count()),
        "memory": mem,
        "cpu": cpu,
        "python": platform.python_version(),
        "dlt": version("dlt"),
        "duckdb": version("duckdb"),
        "pyarrow": version("pyarrow"),
        "load average at start": loadavg(),
    }


def machine_table() -> Table:
    """Call it before the runs; `finish_machine_table` adds the load average after them."""
    table = Table("Machine", ["item", "value"])
    for k, v in machine_info().items():
        table.add(k, v)
    return table


def finish_machine_table(table: Table) -> None:
    table.add("load average at end", loadavg())
    table.notes.append("load average: 1, 5 and 15 minutes; above ~2 on 2 CPUs, other work was competing")


def print_tables(tables: Sequence[Table]) -> None:
    print("\n\n".join(t.text() for t in tables), flush=True)


def write_markdown(path: Path, tables: Sequence[Table]) -> None:
    path.write_text("\n\n".join(t.markdown() for t in tables) + "\n", encoding="utf-8")


def publish(report: Sequence[Table], markdown_out: Path | None, errors: Sequence[str]) -> int:
    """Print the report (and write it as markdown if asked); the exit status: 1 if anything failed."""
    print_tables(report)
    if markdown_out:
        write_markdown(markdown_out, report)
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    return 1 if errors else 0


def progress(message: str) -> None:
    """Progress goes to stderr so stdout stays the tables."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve a synthetic PX tenant for the bench scripts.")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve")
    serve.add_argument("--users", type=int, required=True)
    serve.add_argument("--seed", type=int, default=42)
    serve.add_argument("--rate-limit", type=float, default=None)
    serve.add_argument("--events", type=int, default=0)
    serve.add_argument("--event-stream", default="session_events")
    serve.add_argument("--event-days", type=int, default=90)
    serve.add_argument("--extra-attributes", type=int, default=0)
    serve.add_argument("--dialect", choices=("contract", "published"), default="contract")
    args = parser.parse_args(argv)
    return _serve(args)


if __name__ == "__main__":
    sys.exit(main())
