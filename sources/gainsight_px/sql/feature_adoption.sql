-- feature_adoption: which features are adopted? One row per feature with its
-- users, events and share of users, most adopted first.
--
-- Answers: users (PX's totalUserCount), events (totalEventCount),
-- events_per_user, and share_of_users = users / users ever seen in the
-- loaded users table (a fraction, 0.25 = 25%), ranked by users.
--
-- Cannot tell: WHO adopted a feature (the features endpoint only gives
-- totals, not users or accounts), or when. PX counts over the feature's
-- whole history, so users deleted since may still be counted and
-- share_of_users can exceed 1 on tenants with many deletions.
-- dialects: duckdb postgres
WITH seen_users AS (
    SELECT count(*) AS users_ever_seen
    FROM gainsight_px.users
    WHERE last_seen_date IS NOT NULL
)
SELECT
    f.id AS feature_id,
    f.name,
    f.type,
    f.url,
    f.total_user_count AS users,
    f.total_event_count AS events,
    -- PostgreSQL divides integers as integers
    CAST(f.total_event_count AS DOUBLE PRECISION) / nullif(f.total_user_count, 0) AS events_per_user,
    CAST(f.total_user_count AS DOUBLE PRECISION) / nullif(s.users_ever_seen, 0) AS share_of_users,
    s.users_ever_seen,
    rank() OVER (ORDER BY f.total_user_count DESC NULLS LAST) AS adoption_rank
FROM gainsight_px.features AS f
CROSS JOIN seen_users AS s
ORDER BY adoption_rank, f.id

-- fallback when features.total_user_count is not loaded: the published API's features carry no
-- counts, so users and events come from the loaded feature match events (the windows loaded so far).
WITH seen_users AS (
    SELECT count(*) AS users_ever_seen
    FROM gainsight_px.users
    WHERE last_seen_date IS NOT NULL
),
usage AS (
    SELECT feature_id, count(DISTINCT identify_id) AS users, count(*) AS events
    FROM gainsight_px.feature_match_events
    GROUP BY feature_id
)
SELECT
    f.id AS feature_id,
    f.name,
    f.type,
    CAST(NULL AS VARCHAR) AS url,
    coalesce(u.users, 0) AS users,
    coalesce(u.events, 0) AS events,
    CAST(u.events AS DOUBLE PRECISION) / nullif(u.users, 0) AS events_per_user,
    CAST(coalesce(u.users, 0) AS DOUBLE PRECISION) / nullif(s.users_ever_seen, 0) AS share_of_users,
    s.users_ever_seen,
    rank() OVER (ORDER BY coalesce(u.users, 0) DESC) AS adoption_rank
FROM gainsight_px.features AS f
CROSS JOIN seen_users AS s
LEFT JOIN usage AS u ON u.feature_id = f.id
ORDER BY adoption_rank, f.id
