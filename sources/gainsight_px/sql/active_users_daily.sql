-- active_users_daily: daily, weekly and monthly active users over time.
--
-- Answers: how many distinct users were active on each UTC day (dau), in the
-- 7 days ending that day (wau) and in the 30 days ending that day (mau).
-- On the days the loaded session events cover, the counts are exact: a user
-- is active on a day when PX recorded a session for them that day. The first
-- covered day is the first whole UTC day after the earliest session loaded
-- (the first window may start mid-day); wau and mau are exact from 6 and 29
-- days after it, and is_lower_bound is false from then on.
-- Before the covered days (or without session events), the counts come from
-- the users snapshot (first_visit_date and last_seen_date only), as lower
-- bounds.
--
-- Cannot tell: sessions PX has not processed yet (the load's lookback picks
-- them up on a later run), users who were active without a session event
-- (API-only activity), or anything after the session events' last load: if
-- session events stopped loading, recent days undercount.
-- The load day's dau covers it only up to the load.
-- dialects: duckdb postgres
WITH as_of AS (
    -- The data describes the tenant as of the last successful load.
    SELECT CAST(timezone('UTC', max(inserted_at)) AS DATE) AS as_of_day
    FROM gainsight_px._dlt_loads
    WHERE status = 0
),
session_days AS (
    -- Every (user, UTC day) with a session.
    SELECT DISTINCT identify_id, CAST(timezone('UTC', date) AS DATE) AS day
    FROM gainsight_px.session_events
),
coverage AS (
    SELECT min(day) + 1 AS first_day
    FROM session_days
),
covered_days AS (
    SELECT CAST(g.day AS DATE) AS day, c.first_day
    FROM coverage AS c
    CROSS JOIN as_of AS a
    CROSS JOIN generate_series(CAST(c.first_day AS TIMESTAMP),
                               CAST(greatest(a.as_of_day, c.first_day) AS TIMESTAMP),
                               INTERVAL '1 day') AS g(day)
    WHERE c.first_day IS NOT NULL
),
from_sessions AS (
    SELECT
        d.day,
        count(DISTINCT s.identify_id) FILTER (WHERE s.day = d.day) AS dau,
        count(DISTINCT s.identify_id) FILTER (WHERE s.day > d.day - 7) AS wau,
        count(DISTINCT s.identify_id) AS mau,
        d.day - 29 < d.first_day AS is_lower_bound
    FROM covered_days AS d
    LEFT JOIN session_days AS s
        ON s.day BETWEEN d.day - 29 AND d.day
    GROUP BY d.day, d.first_day
),
known_activity AS (
    -- Before the sessions: every (user, UTC day) the users snapshot knows of.
    SELECT aptrinsic_id, CAST(timezone('UTC', last_seen_date) AS DATE) AS day
    FROM gainsight_px.users
    WHERE last_seen_date IS NOT NULL
    UNION
    SELECT aptrinsic_id, CAST(timezone('UTC', first_visit_date) AS DATE) AS day
    FROM gainsight_px.users
    WHERE first_visit_date IS NOT NULL
),
latest_activity AS (
    -- Each known active day with the user's next one, so a user counts once per window.
    SELECT aptrinsic_id, day, lead(day) OVER (PARTITION BY aptrinsic_id ORDER BY day) AS next_day
    FROM known_activity
),
bounds AS (
    SELECT min(k.day) AS first_day, max(c.first_day) AS sessions_from
    FROM known_activity AS k
    CROSS JOIN coverage AS c
    HAVING min(k.day) IS NOT NULL
),
snapshot_days AS (
    SELECT CAST(g.day AS DATE) AS day
    FROM bounds AS b
    CROSS JOIN as_of AS a
    CROSS JOIN generate_series(CAST(b.first_day AS TIMESTAMP),
                               CAST(coalesce(b.sessions_from - 1, greatest(a.as_of_day, b.first_day)) AS TIMESTAMP),
                               INTERVAL '1 day') AS g(day)
),
from_snapshot AS (
    SELECT
        d.day,
        count(k.day) FILTER (WHERE k.day = d.day) AS dau,
        count(k.day) FILTER (WHERE k.day > d.day - 7) AS wau,
        count(k.day) AS mau,
        d.day < max(a.as_of_day) AS is_lower_bound
    FROM snapshot_days AS d
    CROSS JOIN as_of AS a
    LEFT JOIN latest_activity AS k
        ON k.day BETWEEN d.day - 29 AND d.day
        AND (k.next_day IS NULL OR k.next_day > d.day)
    GROUP BY d.day
)
SELECT day, dau, wau, mau, is_lower_bound FROM from_sessions
UNION ALL
SELECT day, dau, wau, mau, is_lower_bound FROM from_snapshot
ORDER BY day

-- fallback when session_events is not loaded: the snapshot alone (e.g. the contract dialect).
WITH as_of AS (
    -- The data describes the tenant as of the last successful load.
    SELECT CAST(timezone('UTC', max(inserted_at)) AS DATE) AS as_of_day
    FROM gainsight_px._dlt_loads
    WHERE status = 0
),
known_activity AS (
    -- Every (user, UTC day) on which we know the user was active.
    SELECT aptrinsic_id, CAST(timezone('UTC', last_seen_date) AS DATE) AS day
    FROM gainsight_px.users
    WHERE last_seen_date IS NOT NULL
    UNION
    SELECT aptrinsic_id, CAST(timezone('UTC', first_visit_date) AS DATE) AS day
    FROM gainsight_px.users
    WHERE first_visit_date IS NOT NULL
),
latest_activity AS (
    -- Each known active day with the user's next one. On day d a user is
    -- counted through their latest known active day up to d only, so once
    -- (cheaper than COUNT DISTINCT over the 30-day join below).
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
