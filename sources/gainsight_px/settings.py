"""Constants shared by the source, the push engine and the CLI."""

from __future__ import annotations

import os
import warnings

from gainsight_px.endpoints import DEFAULT_DIALECT, DIALECTS

DEFAULT_BASE_URL = DEFAULT_DIALECT.regions["us"]
# The largest page any dialect allows; each endpoint's own limit caps it (endpoints/).
MAX_PAGE_SIZE = max(d.max_page_size for d in DIALECTS.values())
DEFAULT_DIALECT_SETTING = "auto"

# dlt names
SOURCE_NAME = "gainsight_px"
DEFAULT_DATASET = "gainsight_px"
DEFAULT_PIPELINE_NAME = "gainsight_px"
# Not named after the dataset: DuckDB cannot tell catalog `gainsight_px` from
# schema `gainsight_px` ("Ambiguous reference to catalog or schema").
DEFAULT_DUCKDB_FILE = "gainsight.duckdb"

# Config keys, for messages that tell a user what to fix.
API_KEY_ENV = "SOURCES__GAINSIGHT_PX__API_KEY"
BASE_URL_ENV = "SOURCES__GAINSIGHT_PX__BASE_URL"
DIALECT_ENV = "SOURCES__GAINSIGHT_PX__DIALECT"
# The product (tag) key, AP-XXXX-N: published writes need it (propertyKeys / propertyKey).
PROPERTY_KEY_ENV = "SOURCES__GAINSIGHT_PX__PROPERTY_KEY"

# PX publishes ~200 requests/s per tenant; stay below it by default.
PUBLISHED_RATE_LIMIT = 200.0
# ... and about 1M requests a day (each page of up to 1,000 events is one).
DAILY_REQUEST_QUOTA = 1_000_000
# 95% of the published limit: the server's bucket and ours do not share a clock, and
# the sender halves its rate on a 429 and climbs back (ratelimit.TokenBucket).
DEFAULT_PUSH_RATE = 190.0
DEFAULT_PUSH_CONCURRENCY = 16

# HTTP behaviour
REQUEST_TIMEOUT_ENV = "GAINSIGHT_PX_REQUEST_TIMEOUT_S"


def _timeout_from_env(default: float) -> float:
    """Seconds to wait for an answer; $GAINSIGHT_PX_REQUEST_TIMEOUT_S overrides the default
    (the fault tests lower it to provoke read timeouts in `load` subprocesses)."""
    raw = os.environ.get(REQUEST_TIMEOUT_ENV, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        warnings.warn(f"{REQUEST_TIMEOUT_ENV}={raw!r} is not a positive number of seconds; "
                      f"using {default:g}", stacklevel=2)
        return default
    return value


REQUEST_TIMEOUT_S = _timeout_from_env(60.0)
MAX_ATTEMPTS = 8
BACKOFF_FACTOR = 0.5
MAX_RETRY_DELAY_S = 30.0

# The emulator and tests use these keys unless told otherwise.
EMULATOR_API_KEY = "px-emulator-key"
EMULATOR_READ_ONLY_KEY = "px-emulator-read-only-key"
