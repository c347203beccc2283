"""Nightly reverse ETL: account health computed in the warehouse, pushed to PX accounts.

Run it after the nightly load (which fills `gainsight.duckdb`, dataset
`gainsight_px`), e.g. from cron:

    15 3 * * *  cd /srv/gainsight && .venv/bin/python pipelines/push_attributes_nightly.py

Config as for every command: SOURCES__GAINSIGHT_PX__API_KEY (and
SOURCES__GAINSIGHT_PX__BASE_URL for the EU/US2 hosts) in the environment or in
.dlt/secrets.toml. `--dry-run` shows what would change without writing.

What it does: one SQL query turns loaded users into per-account attributes
(`customAttributes.activeUsers30d`, `customAttributes.healthTier`, ...); the push
updates existing accounts only (`--mode update`: an account missing from PX is
reported as rejected, never created). The ledger makes the job a diff sync:
only accounts whose attributes changed since the last night are sent, and a run
that died is resumed by the next one. Exit code: 0 all delivered, 2 some rows
rejected (see accounts.rejects.csv), 1 fatal.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gainsight_px.cli import DEBUG_HELP, debug_requested, report_failure, route_library_logs
from gainsight_px.push import format_summary, push_query
from gainsight_px.settings import DEFAULT_DATASET, DEFAULT_DUCKDB_FILE

# Warehouse columns are dlt's snake_case names; the aliases are the API's field names.
ACCOUNT_HEALTH_SQL = """
WITH as_of AS (
    SELECT coalesce(max(inserted_at), now()) AS as_of FROM {dataset}._dlt_loads WHERE status = 0
),
usage AS (
    SELECT
        u.account_id,
        count(*) AS users,
        count(*) FILTER (WHERE u.last_seen_date > a.as_of - INTERVAL 30 DAY) AS active_30d,
        coalesce(sum(u.number_of_visits), 0) AS visits
    FROM {dataset}.users AS u CROSS JOIN as_of AS a
    WHERE u.account_id IS NOT NULL
    GROUP BY u.account_id
)
SELECT
    acc.id                                   AS id,
    usage.users                              AS "customAttributes.loadedUsers",
    usage.active_30d                         AS "customAttributes.activeUsers30d",
    round(usage.active_30d / usage.users, 3) AS "customAttributes.activeShare30d",
    CASE
        WHEN usage.active_30d = 0 THEN 'dormant'
        WHEN usage.active_30d::DOUBLE / usage.users < 0.25 THEN 'at risk'
        ELSE 'healthy'
    END                                      AS "customAttributes.healthTier"
FROM {dataset}.accounts AS acc
JOIN usage ON usage.account_id = acc.id
ORDER BY acc.id
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duckdb", default=DEFAULT_DUCKDB_FILE, help="the loaded warehouse file")
    parser.add_argument("--dataset", default=DEFAULT_DATASET, help="the dataset (schema) the load wrote")
    parser.add_argument("--dry-run", action="store_true", help="show what would be sent; write nothing")
    parser.add_argument("--ledger", default=None, help="the delivery ledger (default .gainsight-px/ledger.sqlite)")
    parser.add_argument("--rejects", default="accounts.rejects.csv", help="where rejected rows go")
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    args = parser.parse_args(argv)

    query = ACCOUNT_HEALTH_SQL.format(dataset='"' + args.dataset.replace('"', '""') + '"')
    route_library_logs(debug_requested(argv))
    try:
        summary = push_query(Path(args.duckdb), "accounts", query=query, mode="update", dry_run=args.dry_run,
                             ledger=args.ledger, rejects=args.rejects)
    except BaseException as exc:  # noqa: B036 - as `gainsight-px push`: one line, Ctrl-C exits 130
        partial = getattr(exc, "summary", None)
        if partial is not None:
            print(format_summary(partial))
        return report_failure(exc, debug_requested(argv))
    print(format_summary(summary))
    return summary.exit_code


if __name__ == "__main__":
    sys.exit(main())
