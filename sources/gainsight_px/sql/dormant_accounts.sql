-- dormant_accounts: which accounts are going quiet? One row per account,
-- quietest first, with who was seen last.
--
-- Answers: days_since_last_seen (whole elapsed days between the account's
-- last activity and the last load, as_of), a quiet_for bucket for charts
-- ('0-6 days', '7-29 days', '30-89 days', '90+ days', 'never seen'), and the
-- user seen most recently (the person to ask). Accounts with no activity for
-- N days: WHERE days_since_last_seen >= N OR never_seen.
--
-- Cannot tell: why an account is quiet, or activity after the last load.
-- Last activity is the later of the account's own lastSeenDate and its
-- users' latest visit.
-- dialects: duckdb postgres
WITH as_of AS (
    -- The data describes the tenant as of the last successful load.
    SELECT max(inserted_at) AS as_of FROM gainsight_px._dlt_loads WHERE status = 0
),
account_users AS (
    SELECT account_id, count(*) AS users, max(last_seen_date) AS last_user_seen_date
    FROM gainsight_px.users
    WHERE account_id IS NOT NULL
    GROUP BY account_id
),
last_seen_user AS (
    -- The user of each account seen most recently (ties: the lowest aptrinsic_id).
    SELECT DISTINCT ON (account_id)
        account_id, identify_id AS last_seen_identify_id, email AS last_seen_email
    FROM gainsight_px.users
    WHERE account_id IS NOT NULL AND last_seen_date IS NOT NULL
    ORDER BY account_id, last_seen_date DESC, aptrinsic_id
),
account_activity AS (
    SELECT
        acc.id AS account_id,
        acc.name,
        acc.plan,
        coalesce(au.users, 0) AS users,
        greatest(acc.last_seen_date, au.last_user_seen_date) AS last_seen_date,
        lu.last_seen_identify_id,
        lu.last_seen_email,
        floor((extract(epoch FROM a.as_of)
               - extract(epoch FROM greatest(acc.last_seen_date, au.last_user_seen_date))) / 86400)::INTEGER
            AS days_since_last_seen,
        a.as_of
    FROM gainsight_px.accounts AS acc
    CROSS JOIN as_of AS a
    LEFT JOIN account_users AS au ON au.account_id = acc.id
    LEFT JOIN last_seen_user AS lu ON lu.account_id = acc.id
)
SELECT
    account_id,
    name,
    plan,
    users,
    last_seen_date,
    days_since_last_seen,
    last_seen_date IS NULL AS never_seen,
    CASE
        WHEN last_seen_date IS NULL THEN 'never seen'
        WHEN days_since_last_seen < 7 THEN '0-6 days'
        WHEN days_since_last_seen < 30 THEN '7-29 days'
        WHEN days_since_last_seen < 90 THEN '30-89 days'
        ELSE '90+ days'
    END AS quiet_for,
    last_seen_identify_id,
    last_seen_email,
    as_of
FROM account_activity
ORDER BY last_seen_date ASC NULLS FIRST, account_id
