"""Load Gainsight PX into the warehouse: the scheduled job, as a plain dlt script.

    python pipelines/load_gainsight_px.py                  # incremental (e.g. hourly)
    python pipelines/load_gainsight_px.py --full-refresh   # reconcile (e.g. weekly)

Configuration comes the dlt way (.dlt/config.toml, .dlt/secrets.toml or the
environment): SOURCES__GAINSIGHT_PX__API_KEY, SOURCES__GAINSIGHT_PX__BASE_URL,
DESTINATION__DUCKDB__CREDENTIALS (default ./gainsight.duckdb), DLT_DATA_DIR.
`dlt deploy pipelines/load_gainsight_px.py github-action --schedule "0 * * * *"`
turns it into a scheduled workflow. It does what `gainsight-px load` does.
"""

from __future__ import annotations

import sys

import dlt
from gainsight_px import gainsight_px_source
from gainsight_px.load import default_destination

if __name__ == "__main__":
    full_refresh = "--full-refresh" in sys.argv[1:]
    pipeline = dlt.pipeline(
        pipeline_name="gainsight_px",
        destination=default_destination("duckdb"),
        dataset_name="gainsight_px",
        progress="log",
    )
    if pipeline.has_pending_data:
        # Finish a load an earlier run left behind (dlt's run() would stop after it).
        pipeline.run()
    info = pipeline.run(gainsight_px_source(), refresh="drop_data" if full_refresh else None)
    print(info)
