"""Load Gainsight PX into the warehouse: the scheduled job, as a plain Python script.

    python pipelines/load_gainsight_px.py                  # incremental (e.g. hourly)
    python pipelines/load_gainsight_px.py --full-refresh   # reconcile (e.g. weekly)

It is `gainsight-px load --progress log` written out: the same `run_load` (the
views refresh and the DuckDB naming guard included), the same summary, the same
one-line errors and exit codes (0 loaded, 1 failed, 130 interrupted; --debug or
GAINSIGHT_PX_DEBUG=1 adds the traceback). Copy it to adapt the job.

Configuration comes the dlt way (.dlt/config.toml, .dlt/secrets.toml or the
environment): SOURCES__GAINSIGHT_PX__API_KEY, SOURCES__GAINSIGHT_PX__BASE_URL,
DESTINATION__DUCKDB__CREDENTIALS (default ./gainsight.duckdb), DLT_DATA_DIR.
"""

from __future__ import annotations

import argparse
import sys

from gainsight_px import run_load
from gainsight_px.cli import DEBUG_HELP, debug_requested, report_failure, route_library_logs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full-refresh", action="store_true", help="reconcile: rescan everything")
    parser.add_argument("--resources", metavar="NAMES", help="comma-separated subset (default: all)")
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    args = parser.parse_args(argv)
    route_library_logs(debug_requested(argv))
    try:
        summary = run_load(resources=args.resources, full_refresh=args.full_refresh, progress="log")
    except BaseException as exc:  # noqa: B036 - Ctrl-C included: it exits 130 with a message
        return report_failure(exc, debug_requested(argv))
    print("\n".join(summary.lines()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
