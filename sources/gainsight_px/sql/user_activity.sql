-- user_activity: who is active? One row per user, with how long ago they were
-- last seen and their custom attributes.
--
-- Answers: each user's last and first visit, visit count, account, and whole
-- days since last seen (elapsed 24-hour days before the last load, as_of);
-- active_7d / active_30d say whether the user was seen in the 7 / 30 days
-- before the load. Filter with e.g. WHERE days_since_last_seen < 14.
--
-- Cannot tell: what a user did between first and last visit, or any activity
-- after the last load. Never-seen users have last_seen_date and
-- days_since_last_seen NULL and both active flags false.
-- dialect: duckdb
WITH as_of AS (
    -- The data describes the tenant as of the last successful load.
    SELECT max(inserted_at) AS as_of FROM gainsight_px._dlt_loads WHERE status = 0
),
user_attributes AS (
    -- aptrinsic_id plus every custom_attributes__* column, however many the tenant has.
    SELECT COLUMNS(c -> c = 'aptrinsic_id' OR starts_with(c, 'custom_attributes__'))
    FROM gainsight_px.users
)
SELECT
    u.aptrinsic_id,
    u.identify_id,
    u.email,
    u.first_name,
    u.last_name,
    u.role,
    u.account_id,
    acc.name AS account_name,
    u.number_of_visits,
    u.first_visit_date,
    u.last_seen_date,
    floor((epoch(a.as_of) - epoch(u.last_seen_date)) / 86400)::INTEGER AS days_since_last_seen,
    coalesce(u.last_seen_date > a.as_of - INTERVAL 7 DAY, false) AS active_7d,
    coalesce(u.last_seen_date > a.as_of - INTERVAL 30 DAY, false) AS active_30d,
    a.as_of,
    attrs.* EXCLUDE (aptrinsic_id)
FROM gainsight_px.users AS u
CROSS JOIN as_of AS a
LEFT JOIN gainsight_px.accounts AS acc ON acc.id = u.account_id
JOIN user_attributes AS attrs ON attrs.aptrinsic_id = u.aptrinsic_id
