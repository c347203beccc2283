"""One exception hierarchy for the whole package.

The CLI maps each class to an exit code and prints `str(exc)`; messages name
what to fix (a config key, a file and row, a parameter) and never a secret.
"""

from __future__ import annotations


class GainsightPXError(Exception):
    """Base class for every error this package raises on purpose."""

    exit_code: int = 1


class ConfigError(GainsightPXError):
    """Missing or invalid configuration (API key, base URL, destination...)."""


class Interrupted(GainsightPXError):
    """Ctrl-C (SIGINT): the run stopped cleanly; running the same command again continues."""

    exit_code = 130


class InputError(GainsightPXError):
    """Bad user input: an unreadable or malformed file, a bad argument."""


class APIError(GainsightPXError):
    """The API answered with an error we cannot (or may no longer) retry."""

    def __init__(self, message: str, *, status: int | None = None, api_status: str | None = None,
                 method: str | None = None, path: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.api_status = api_status
        self.method = method
        self.path = path


class AuthError(APIError):
    """401/403: the key is missing, unknown, revoked or read-only."""


class NotFoundError(APIError):
    """404 for a record (not a scroll)."""


class ScrollExpiredError(APIError):
    """The scroll was idle too long (404 SCROLL_EXPIRED); start a new scan."""


class PagingError(APIError):
    """The server's paging went wrong (a scrollId that repeats the same page forever)."""
