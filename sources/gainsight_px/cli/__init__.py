"""The `gainsight-px` command: a thin layer over the library.

Each command lives in its own module with `add_parser(subparsers)` and
`run(args) -> int`. This module only dispatches and maps errors to exit codes:
0 success, 1 fatal error (message names the cause), 2 finished with rejected
rows (push), 130 interrupted (Ctrl-C; the run stopped cleanly, and running the
same command again continues).

A failure prints one or two lines, cause and fix, and no traceback;
`--debug` (or GAINSIGHT_PX_DEBUG=1) adds the full traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from typing import Any, NoReturn

from gainsight_px import __version__
from gainsight_px.errors import GainsightPXError, Interrupted

# command name -> module under gainsight_px.cli
COMMANDS = ("demo", "load", "push", "emulator")
DEBUG_ENV = "GAINSIGHT_PX_DEBUG"
DEBUG_HELP = f"on failure, also print the full traceback (or set {DEBUG_ENV}=1)"
# dlt's own log lines; beside the push ledger, in the working directory.
LOG_ENV = "GAINSIGHT_PX_LOG"
LOG_FILE = os.path.join(".gainsight-px", "gainsight-px.log")


class _Parser(argparse.ArgumentParser):
    """Usage errors exit 1: exit 2 means "finished with rejected rows" for push."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(1, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="gainsight-px",
        description="Two-way sync between Gainsight PX and your warehouse (built on dlt).",
    )
    parser.add_argument("--version", action="version", version=f"gainsight-px {__version__}")
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    subparsers = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=_Parser
    )
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"gainsight_px.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"gainsight_px.cli.{name}":
                raise
            continue  # command not built yet
        module.add_parser(subparsers)
    for sub in subparsers.choices.values():  # `gainsight-px load --debug` works too
        sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
    return parser


def debug_requested(argv: list[str] | None = None) -> bool:
    """--debug anywhere on the command line, or GAINSIGHT_PX_DEBUG set to anything but 0/false/no."""
    args = sys.argv[1:] if argv is None else argv
    flag = os.environ.get(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no")
    return flag or "--debug" in args[: args.index("--") if "--" in args else len(args)]


def route_library_logs(debug: bool) -> str | None:
    """dlt's own log lines (and Python warnings) go to LOG_FILE, not between our output lines.

    dlt logs its warnings and worker tracebacks to stderr in its own format; what
    matters to the user reaches them as our summary or a one-line error instead.
    dlt reuses the first handler it finds on its logger, so this works before or
    after dlt starts. With --debug they stay on stderr. Returns the log path.
    """
    import logging
    import logging.handlers

    logging.raiseExceptions = False  # a full disk must not turn a log write into a traceback
    if debug:
        return None
    class _LazyLog(logging.handlers.RotatingFileHandler):
        def _open(self) -> Any:  # the folder only when there is something to write
            os.makedirs(os.path.dirname(self.baseFilename), exist_ok=True)
            return super()._open()

    path = os.environ.get(LOG_ENV) or LOG_FILE
    # Bounded: an hourly job must not grow it forever (one 5 MB file and one previous).
    handler: logging.Handler = _LazyLog(path, maxBytes=5_000_000, backupCount=1, delay=True, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    dlt_logger = logging.getLogger("dlt")
    for old in list(dlt_logger.handlers):
        dlt_logger.removeHandler(old)
    dlt_logger.addHandler(handler)
    dlt_logger.propagate = False
    logging.captureWarnings(True)
    warnings_logger = logging.getLogger("py.warnings")
    warnings_logger.addHandler(handler)
    warnings_logger.propagate = False
    return path


def report_failure(exc: BaseException, debug: bool) -> int:
    """Print `exc` as cause and fix (and the traceback when debugging); return the exit code."""
    from gainsight_px.failures import INTERRUPTED_MESSAGE, describe

    if debug:
        traceback.print_exception(exc, file=sys.stderr)
    if isinstance(exc, GainsightPXError) and not isinstance(exc, Interrupted):
        error: GainsightPXError = exc
    else:
        error = describe(exc) or GainsightPXError(
            f"unexpected {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no message'}\n"
            f"Rerun with --debug (or {DEBUG_ENV}=1) for the traceback, and report it with the command you ran."
        )
    if isinstance(error, Interrupted):
        print(str(error) or INTERRUPTED_MESSAGE, file=sys.stderr, flush=True)
    else:
        print(f"error: {error}", file=sys.stderr, flush=True)
    return error.exit_code


def main(argv: list[str] | None = None) -> int:
    debug = debug_requested(argv)
    route_library_logs(debug)
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        return int(args.run(args) or 0)
    except SystemExit:
        raise  # --help, --version and usage errors exit on their own terms
    except BaseException as exc:  # noqa: B036 - Ctrl-C included: it exits 130 with a message
        return report_failure(exc, debug)


if __name__ == "__main__":
    sys.exit(main())
