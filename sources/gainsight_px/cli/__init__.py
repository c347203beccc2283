"""The `gainsight-px` command: a thin layer over the library.

Each command lives in its own module with `add_parser(subparsers)` and
`run(args) -> int`. This module only dispatches and maps errors to exit codes:
0 success, 1 fatal error (message names the cause), 2 finished with rejected
rows (push), 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import NoReturn

from gainsight_px import __version__
from gainsight_px.errors import GainsightPXError

# command name -> module under gainsight_px.cli
COMMANDS = ("demo", "load", "push", "emulator")


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
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except GainsightPXError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr, flush=True)
        return 130


if __name__ == "__main__":
    sys.exit(main())
