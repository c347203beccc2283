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
-- dialects: duckdb postgres
-- The custom_attributes__* columns are listed by the load when it creates the
-- view (the marker comment below); pasted as written, the view runs without them.
WITH as_of AS (
    -- The data describes the tenant as of the last successful load.
    SELECT max(inserted_at) AS as_of FROM gainsight_px._dlt_loads WHERE status = 0
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
    floor((extract(epoch FROM a.as_of) - extract(epoch FROM u.last_seen_date)) / 86400)::INTEGER
        AS days_since_last_seen,
    -- hours, not days: a day interval would follow the session's daylight saving time
    coalesce(u.last_seen_date > a.as_of - INTERVAL '168 hours', false) AS active_7d,
    coalesce(u.last_seen_date > a.as_of - INTERVAL '720 hours', false) AS active_30d,
    a.as_of
    /* custom_attributes: users AS u */
FROM gainsight_px.users AS u
CROSS JOIN as_of AS a
LEFT JOIN gainsight_px.accounts AS acc ON acc.id = u.account_id
