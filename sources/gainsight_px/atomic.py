"""Write dispositions that make every load atomic and idempotent.

dlt loads a table in two steps on SQL destinations: copy jobs fill the
staging dataset, then one SQL follow-up job moves staging into the table in a
single transaction. A `kill -9` between a copy job's commit and dlt marking
the job done makes the rerun copy that file again, so the staging table can
hold every row twice; a plain `replace` (truncate-and-insert) or dlt's
`insert-from-staging` copies those duplicates into the table. The merge
follow-up, though, deduplicates staging on the primary key (newest
`dedup_sort` first) and is itself safe to rerun. So every load here is a
`delete-insert` merge, and only its *destination scope* differs:

- a full read (first load, reconcile, endpoints without a cursor) deletes
  the whole table and inserts the deduplicated scan, in one transaction:
  an atomic replace that readers never see half-done, and that drops
  records PX no longer has;
- an incremental read deletes only the keys it brings, then inserts them:
  the usual merge.

Both are stated explicitly on the first item of every run, so a source
object reused for a second run, or a table whose stored schema still holds
the other scope, never carries one run's scope into the next.

Destinations without staging merges (plain `filesystem`) keep dlt's own
`replace` and `merge`: there a load is a set of files, not a transaction.
"""

from __future__ import annotations

from typing import Any

import dlt

# Every destination row is in scope: the merge replaces the table.
REPLACE_SCOPE = "1 = 1"


def atomic_merge_supported() -> bool:
    """Whether the running pipeline's destination merges through staging with delete-insert."""
    try:
        destination = dlt.current.pipeline().destination
    except Exception:  # outside a pipeline (e.g. iterating a resource directly)
        return True
    if destination is None:
        return True
    try:
        caps = destination.capabilities()
    except Exception:
        return False
    strategies = caps.supported_merge_strategies
    if callable(strategies):  # some destinations answer per table format
        try:
            strategies = strategies(None, {})
        except Exception:
            return False
    return "delete-insert" in (strategies or ()) and destination.destination_name != "filesystem"


def replace_disposition() -> Any:
    """The write disposition of a load that replaces its table (see the module docstring)."""
    if not atomic_merge_supported():
        return "replace"
    return {"disposition": "merge", "strategy": "delete-insert", "destination_scope": REPLACE_SCOPE}


def merge_disposition(key_column: str) -> Any:
    """The write disposition of an incremental load: delete the keys it brings, insert them."""
    if not atomic_merge_supported():
        return "merge"
    scope = f"{key_column} IN (SELECT {key_column} FROM {{staging_table}})"
    return {"disposition": "merge", "strategy": "delete-insert", "destination_scope": scope}


def replace_hints(cursor_column: str | None) -> Any:
    """Hints for the first item of a replacing load."""
    disposition = replace_disposition()
    # Merge deduplicates on the key, keeping the newest cursor; plain replace would warn.
    dedup = "desc" if disposition != "replace" else None
    columns = {cursor_column: {"dedup_sort": dedup}} if cursor_column else None
    return dlt.mark.make_hints(write_disposition=disposition, columns=columns)


def merge_hints(key_column: str, cursor_column: str | None) -> Any:
    """Hints for the first item of an incremental load."""
    columns = {cursor_column: {"dedup_sort": "desc"}} if cursor_column else None
    return dlt.mark.make_hints(write_disposition=merge_disposition(key_column), columns=columns)


def replaces(hints: Any) -> bool:
    """Whether item hints (from `replace_hints` or `merge_hints`) replace the whole table."""
    disposition = hints.get("write_disposition") if isinstance(hints, dict) else None
    if disposition == "replace":
        return True
    return isinstance(disposition, dict) and disposition.get("destination_scope") == REPLACE_SCOPE
