"""gainsight-px: a two-way sync between Gainsight PX and your warehouse, built on dlt."""

from __future__ import annotations

__version__ = "0.1.0"

from gainsight_px.endpoints import CONTRACT, DEFAULT_DIALECT, Dialect, Endpoint, Field  # noqa: E402
from gainsight_px.errors import (  # noqa: E402
    APIError,
    AuthError,
    ConfigError,
    GainsightPXError,
    InputError,
)

__all__ = [
    "CONTRACT",
    "DEFAULT_DIALECT",
    "APIError",
    "AuthError",
    "ConfigError",
    "Dialect",
    "Endpoint",
    "Field",
    "GainsightPXError",
    "InputError",
    "__version__",
]
