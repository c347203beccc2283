"""Ready-made analyst views over the loaded dataset (filled in by the marts work)."""

from __future__ import annotations

from typing import Any


def refresh_views(pipeline: Any) -> list[str]:
    """Create or replace the analyst views; returns the names of the views created."""
    return []
