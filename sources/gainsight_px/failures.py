"""Failures from the machine around the tool, told as cause and fix.

dlt and DuckDB report a locked file, a full disk or an unconfigured
destination with long messages (or tracebacks) whose cause comes last. The
functions here find the cause behind the wrappers and say, in one or two
lines, what happened and what to do. The CLI, `run_load` and the scripts in
`pipelines/` all use them, so a failure reads the same from each.

- `describe(exc)`: a `GainsightPXError` for a known cause anywhere in the
  exception chain, or None.
- `interrupted(exc)`: whether Ctrl-C is behind it (dlt wraps KeyboardInterrupt
  in PipelineStepFailed).
- `check_duckdb_free(path)`: fail before any request when another process
  holds the DuckDB file.
- `pipeline_lock(dir, name)`: one load per pipeline at a time; a second one
  fails at once, naming the PID of the first.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gainsight_px.errors import GainsightPXError, Interrupted

# DuckDB: IO Error: Could not set lock on file "/x/gainsight.duckdb": Conflicting lock is held in
# /usr/bin/python3.11 (PID 17331). See also https://duckdb.org/docs/stable/connect/concurrency
_DUCKDB_LOCK = re.compile(r'Could not set lock on file "(?P<path>[^"]+)": Conflicting lock is held in '
                          r"(?P<program>.*?) \(PID (?P<pid>\d+)\)")

INTERRUPTED_MESSAGE = "interrupted: stopped cleanly; run the same command again to continue."


def chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and everything behind it: dlt's `.exception`, `__cause__`, `__context__`."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for nxt in (getattr(current, "exception", None), current.__cause__, current.__context__):
            if isinstance(nxt, BaseException):
                todo.append(nxt)


def interrupted(exc: BaseException) -> bool:
    return any(isinstance(e, KeyboardInterrupt | Interrupted) for e in chain(exc))


def out_of_memory(exc: BaseException) -> bool:
    """Whether DuckDB's OutOfMemoryException is behind `exc` (dlt passes a job's failure on as text)."""
    return any(type(e).__name__ == "OutOfMemoryException" or "Out of Memory Error" in str(e) for e in chain(exc))


def _program(pid: int, fallback: str) -> str:
    """What the process holding a lock runs, as `ps` would show it (Linux), or DuckDB's name for it."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return os.path.basename(fallback) or fallback
    args = [a for a in raw.decode(errors="replace").split("\0") if a]
    if not args:
        return os.path.basename(fallback) or fallback
    text = " ".join(" ".join([os.path.basename(args[0]), *args[1:]]).split())
    return text if len(text) <= 60 else text[:57] + "..."


def locked_duckdb(text: str) -> GainsightPXError | None:
    """A DuckDB lock conflict in `text` (any error message), told as cause and fix."""
    m = _DUCKDB_LOCK.search(text)
    if m is None:
        return None
    pid = int(m["pid"])
    return GainsightPXError(
        f"{m['path']} is in use by another process (PID {pid}: {_program(pid, m['program'])}).\n"
        "Close that notebook or query, or wait for that load to finish, then run this command again."
    )


def _no_space(exc: OSError) -> GainsightPXError:
    where = f" writing {exc.filename}" if exc.filename else ""
    return GainsightPXError(
        f"no space left on the device{where}.\n"
        "Free some space (or point DLT_DATA_DIR and DESTINATION__DUCKDB__CREDENTIALS at a larger disk), "
        "then run the same command again: it completes the interrupted load first."
    )


def describe(exc: BaseException) -> GainsightPXError | None:
    """The known cause behind `exc`, as a readable error; None when there is none."""
    for e in chain(exc):
        if isinstance(e, KeyboardInterrupt | Interrupted):
            return e if isinstance(e, Interrupted) else Interrupted(INTERRUPTED_MESSAGE)
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            return _no_space(e)
        text = str(e)
        if found := locked_duckdb(text):
            return found
        if "database or disk is full" in text or "No space left on device" in text:
            return _no_space(OSError(errno.ENOSPC, "No space left on device"))
    return None


def check_duckdb_free(path: str) -> None:
    """Fail now, not after the whole fetch, when another process holds the DuckDB file."""
    if not os.path.exists(path):
        return
    import duckdb

    try:
        duckdb.connect(path, read_only=True).close()
    except duckdb.Error as exc:
        if found := locked_duckdb(str(exc)):
            raise found from None
        # Anything else (a corrupt file, another format): dlt's own error says more later.


@contextmanager
def pipeline_lock(pipelines_dir: str, pipeline_name: str) -> Iterator[None]:
    """Hold `<pipelines_dir>/<name>.lock` for the run; a second run of the same pipeline fails at once.

    Two loads of one pipeline would extract into the same working folder and
    overwrite each other's state. The lock is an flock: it goes away with the
    process, so a killed run never leaves it behind.
    """
    import fcntl

    os.makedirs(pipelines_dir, exist_ok=True)
    path = os.path.join(pipelines_dir, f"{pipeline_name}.lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise GainsightPXError(
                f"another load of pipeline {pipeline_name} is running (PID {holder}).\n"
                "Wait for it to finish, or schedule the runs so they do not overlap; then run this again."
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)
