"""Table formats on dlt's `filesystem` destination: a lake that merges.

Plain parquet files cannot merge: dlt appends every changed row again, and
readers must deduplicate. With the `delta` table format dlt upserts on the
primary key and overwrites on a reconcile, so the files hold one row per key
and deleted records disappear; any Delta reader (DuckDB's `delta_scan`,
Spark, Trino, Polars, the `deltalake` package) reads the tables.

Why delta and not iceberg: dlt's delta support writes a table straight to a
folder or bucket, with merge, through the one `deltalake` wheel. Its iceberg
support needs a catalog (a SQL database, REST or Glue) beside the bucket, and
`pyiceberg`'s upsert has narrower merge support in dlt. For a lake that
Spark, Trino and DuckDB read, delta needs nothing but the bucket.

Chosen with `gainsight-px load --destination filesystem --table-format delta`
or, for scripts, `[destination.filesystem] table_format = "delta"` in
`.dlt/config.toml` (`DESTINATION__FILESYSTEM__TABLE_FORMAT=delta`).
"""

from __future__ import annotations

from typing import Any

import dlt

from gainsight_px.errors import ConfigError, InputError

TABLE_FORMATS = ("delta",)
TABLE_FORMAT_KEY = "destination.filesystem.table_format"
TABLE_FORMAT_ENV = "DESTINATION__FILESYSTEM__TABLE_FORMAT"


def configured_table_format() -> str | None:
    value = dlt.config.get(TABLE_FORMAT_KEY)
    return str(value).strip().lower() or None if value else None


def resolve_table_format(table_format: str | None, destination_name: str | None) -> str | None:
    """The table format for this load: the argument, else config; checked against the destination."""
    explicit = table_format is not None
    chosen = (table_format.strip().lower() or None) if explicit else configured_table_format()
    if chosen is None:
        return None
    where = "--table-format" if explicit else f"{TABLE_FORMAT_KEY} ({TABLE_FORMAT_ENV})"
    if chosen not in TABLE_FORMATS:
        raise InputError(f"{where}: unknown table format {chosen!r}; expected one of: {', '.join(TABLE_FORMATS)}.")
    if destination_name != "filesystem":
        if not explicit:
            return None  # configured for the lake; another destination of the same project ignores it
        raise InputError(f"{where}: a table format applies to --destination filesystem only, "
                         f"not {destination_name}.")
    try:
        import deltalake  # noqa: F401
    except ImportError:
        raise ConfigError("the delta table format needs the deltalake package: "
                          "pip install 'gainsight-px[delta]'.") from None
    return chosen


def apply_table_format(source: Any, table_format: str) -> None:
    """Every selected resource of `source` writes `table_format` tables."""
    for resource in source.selected_resources.values():
        resource.apply_hints(table_format=table_format)
