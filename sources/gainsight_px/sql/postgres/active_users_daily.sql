-- active_users_daily: daily, weekly and monthly active users over time.
--
-- Answers: how many users were active on each UTC day (dau), in the 7 days
-- ending that day (wau) and in the 30 days ending that day (mau), from the
-- first day any activity is known up to the day of the last load (as_of).
--
-- Cannot tell: the users table is a snapshot. It keeps each user's FIRST
-- visit (first_visit_date) and LAST visit (last_seen_date) and nothing in
-- between, so a user active every day counts only on those two days. Hence:
--   * the row of the load day (is_lower_bound = false) is exact as of the
--     load: its wau/mau are precisely the users seen in the 7/30 UTC days up
--     to the load. Its dau covers the load day only up to the load time;
--   * every earlier row is a lower bound (is_lower_bound = true). The curve
--     falls off into the past because older visits were overwritten by newer
--     ones, not because usage was lower.
-- Users never seen (last_seen_date NULL) are not counted.
-- dialect: postgres
-- The PostgreSQL variant of ../active_users_daily.sql (same columns and meaning).
WITH as_of AS (
    -- The data describes the tenant as of the last successful load.
    SELECT (max(inserted_at) AT TIME ZONE 'UTC')::DATE AS as_of_day
    FROM gainsight_px._dlt_loads
    WHERE status = 0
),
known_activity AS (
    -- Every (user, UTC day) on which we know the user was active.
    SELECT aptrinsic_id, (last_seen_date AT TIME ZONE 'UTC')::DATE AS day
    FROM gainsight_px.users
    WHERE last_seen_date IS NOT NULL
    UNION
    SELECT aptrinsic_id, (first_visit_date AT TIME ZONE 'UTC')::DATE AS day
    FROM gainsight_px.users
    WHERE first_visit_date IS NOT NULL
),
latest_activity AS (
    -- Each known active day with the user's next one. On day d a user is
    -- counted through their latest known active day up to d only, so once.
    SELECT aptrinsic_id, day, lead(day) OVER (PARTITION BY aptrinsic_id ORDER BY day) AS next_day
    FROM known_activity
),
bounds AS (
    SELECT min(k.day) AS first_day, greatest(max(k.day), max(a.as_of_day)) AS last_day,
           max(a.as_of_day) AS as_of_day
    FROM known_activity AS k
    CROSS JOIN as_of AS a
    HAVING min(k.day) IS NOT NULL
),
days AS (
    -- timestamps without time zone: every step is one calendar day
    SELECT g.day::DATE AS day, b.as_of_day
    FROM bounds AS b
    CROSS JOIN generate_series(b.first_day::TIMESTAMP, b.last_day::TIMESTAMP, INTERVAL '1 day') AS g(day)
)
SELECT
    d.day,
    count(k.day) FILTER (WHERE k.day = d.day) AS dau,
    count(k.day) FILTER (WHERE k.day > d.day - 7) AS wau,
    count(k.day) AS mau,
    d.day < d.as_of_day AS is_lower_bound
FROM days AS d
LEFT JOIN latest_activity AS k
    ON k.day BETWEEN d.day - 29 AND d.day
    AND (k.next_day IS NULL OR k.next_day > d.day)
GROUP BY d.day, d.as_of_day
ORDER BY d.day
