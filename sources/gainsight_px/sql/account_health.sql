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
-- dialect: duckdb
WITH as_of AS (
    -- The data describes the tenant as of the last successful load.
    SELECT max(inserted_at) AS as_of FROM gainsight_px._dlt_loads WHERE status = 0
),
account_users AS (
    SELECT
        u.account_id,
        count(*) AS users,
        count(*) FILTER (WHERE u.last_seen_date > a.as_of - INTERVAL 7 DAY) AS active_users_7d,
        count(*) FILTER (WHERE u.last_seen_date > a.as_of - INTERVAL 30 DAY) AS active_users_30d,
        count(*) FILTER (WHERE u.last_seen_date IS NULL) AS never_seen_users,
        max(u.last_seen_date) AS last_user_seen_date,
        sum(u.number_of_visits) AS visits
    FROM gainsight_px.users AS u
    CROSS JOIN as_of AS a
    WHERE u.account_id IS NOT NULL
    GROUP BY u.account_id
),
account_attributes AS (
    -- id plus every custom_attributes__* column, however many the tenant has.
    SELECT COLUMNS(c -> c = 'id' OR starts_with(c, 'custom_attributes__'))
    FROM gainsight_px.accounts
),
health AS (
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
        a.as_of
    FROM gainsight_px.accounts AS acc
    CROSS JOIN as_of AS a
    LEFT JOIN account_users AS au ON au.account_id = acc.id
)
SELECT
    h.* EXCLUDE (as_of),
    floor((epoch(h.as_of) - epoch(h.last_seen_date)) / 86400)::INTEGER AS days_since_last_seen,
    h.as_of,
    attrs.* EXCLUDE (id)
FROM health AS h
JOIN account_attributes AS attrs ON attrs.id = h.account_id
