-- account_health: one row per account with its users, how many of them are
-- active, when the account was last active, its plan and custom attributes.
--
-- Answers: users (loaded users linked to the account), active_users_7d /
-- active_users_30d (users seen in the 7 / 30 days before the last load,
-- as_of), never_seen_users, last_seen_date (the later of the account's own
-- lastSeenDate and its users' latest visit) and days_since_last_seen (whole
-- elapsed days before the load; NULL if never seen). px_number_of_users is
-- PX's own count, which may include users not loaded here. visits is the sum
-- of the loaded users' numberOfVisits (the published API's accounts have none).
--
-- Cannot tell: activity trends (see active_users_daily) or anything after the
-- last load. Users without an account are not in this view.
-- dialects: duckdb postgres
-- The custom_attributes__* columns are listed by the load when it creates the
-- view (the marker comment below); pasted as written, the view runs without them.
WITH as_of AS (
    -- The data describes the tenant as of the last successful load.
    SELECT max(inserted_at) AS as_of FROM gainsight_px._dlt_loads WHERE status = 0
),
account_users AS (
    -- hours, not days: a day interval would follow the session's daylight saving time
    SELECT
        u.account_id,
        count(*) AS users,
        count(*) FILTER (WHERE u.last_seen_date > a.as_of - INTERVAL '168 hours') AS active_users_7d,
        count(*) FILTER (WHERE u.last_seen_date > a.as_of - INTERVAL '720 hours') AS active_users_30d,
        count(*) FILTER (WHERE u.last_seen_date IS NULL) AS never_seen_users,
        max(u.last_seen_date) AS last_user_seen_date,
        sum(u.number_of_visits) AS visits
    FROM gainsight_px.users AS u
    CROSS JOIN as_of AS a
    WHERE u.account_id IS NOT NULL
    GROUP BY u.account_id
)
SELECT
    acc.id AS account_id,
    acc.name,
    acc.plan,
    coalesce(au.users, 0) AS users,
    coalesce(au.active_users_7d, 0) AS active_users_7d,
    coalesce(au.active_users_30d, 0) AS active_users_30d,
    coalesce(au.never_seen_users, 0) AS never_seen_users,
    acc.number_of_users AS px_number_of_users,
    coalesce(au.visits, 0) AS visits,
    greatest(acc.last_seen_date, au.last_user_seen_date) AS last_seen_date,
    floor((extract(epoch FROM a.as_of)
           - extract(epoch FROM greatest(acc.last_seen_date, au.last_user_seen_date))) / 86400)::INTEGER
        AS days_since_last_seen,
    a.as_of
    /* custom_attributes: accounts AS acc */
FROM gainsight_px.accounts AS acc
CROSS JOIN as_of AS a
LEFT JOIN account_users AS au ON au.account_id = acc.id
