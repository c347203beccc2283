-- sessions_per_account_weekly: how much does each account use the product, week by week?
--
-- Answers: for each ISO week (Monday, UTC) and account, the sessions started
-- (session events), the distinct users who started them, and sessions per
-- active user, named from the accounts table.
--
-- Cannot tell: session length or depth (PX's session event marks the start
-- only), sessions of users without an account (account_id NULL, kept as one
-- row per week), or sessions before the first loaded window. The current
-- week is partial.
-- dialects: duckdb postgres
SELECT
    CAST(date_trunc('week', timezone('UTC', s.date)) AS DATE) AS week,
    s.account_id,
    a.name AS account_name,
    count(*) AS sessions,
    count(DISTINCT s.identify_id) AS active_users,
    CAST(count(*) AS DOUBLE PRECISION) / count(DISTINCT s.identify_id) AS sessions_per_user
FROM gainsight_px.session_events AS s
LEFT JOIN gainsight_px.accounts AS a ON a.id = s.account_id
GROUP BY 1, s.account_id, a.name
ORDER BY week, sessions DESC, s.account_id
