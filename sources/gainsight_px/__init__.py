"""gainsight-px: a two-way sync between Gainsight PX and your warehouse, built on dlt."""

from __future__ import annotations

__version__ = "0.1.0"

from gainsight_px.endpoints import CONTRACT, DEFAULT_DIALECT, PUBLISHED, Dialect, Endpoint, Field  # noqa: E402
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
    "PUBLISHED",
    "APIError",
    "AuthError",
    "ConfigError",
    "Dialect",
    "Endpoint",
    "Field",
    "GainsightPXError",
    "InputError",
    "__version__",
    "gainsight_px_source",
    "run_load",
]


def __getattr__(name: str) -> object:
    # Lazy: importing dlt costs ~1 s, and the emulator and push paths do not need the source.
    if name == "gainsight_px_source":
        from gainsight_px.source import gainsight_px_source

        return gainsight_px_source
    if name == "run_load":
        from gainsight_px.load import run_load

        return run_load
    raise AttributeError(f"module 'gainsight_px' has no attribute {name!r}")
