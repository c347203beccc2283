"""`dagster dev -m gainsight_px.dagster_definitions`: every tenant configured under
[sources.gainsight_px.tenants], into the destination named by GAINSIGHT_PX_DAGSTER_DESTINATION
(default duckdb; e.g. postgres with DESTINATION__POSTGRES__CREDENTIALS). See dagster_assets.py."""

import os

from gainsight_px.dagster_assets import definitions

defs = definitions(destination=os.environ.get("GAINSIGHT_PX_DAGSTER_DESTINATION", "duckdb"))
