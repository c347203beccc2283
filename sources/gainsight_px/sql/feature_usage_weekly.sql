-- feature_usage_weekly: which features are used, week over week.
--
-- Answers: for each ISO week (starting Monday, UTC) and feature, the distinct
-- users and the feature match events PX recorded, named from the features
-- table, with the feature's share of that week's users of any feature.
--
-- Cannot tell: usage PX does not match to a feature (unmapped clicks and
-- pages), usage before the first loaded window, or features deleted from PX
-- (their events remain; name is NULL once the feature is gone from the
-- features table). The current week is partial.
-- dialects: duckdb postgres
WITH weekly AS (
    SELECT
        CAST(date_trunc('week', timezone('UTC', e.date)) AS DATE) AS week,
        e.feature_id,
        count(DISTINCT e.identify_id) AS users,
        count(*) AS events
    FROM gainsight_px.feature_match_events AS e
    GROUP BY 1, 2
),
week_users AS (
    SELECT
        CAST(date_trunc('week', timezone('UTC', date)) AS DATE) AS week,
        count(DISTINCT identify_id) AS users_any_feature
    FROM gainsight_px.feature_match_events
    GROUP BY 1
)
SELECT
    w.week,
    w.feature_id,
    f.name AS feature_name,
    w.users,
    w.events,
    CAST(w.users AS DOUBLE PRECISION) / nullif(u.users_any_feature, 0) AS share_of_users
FROM weekly AS w
JOIN week_users AS u ON u.week = w.week
LEFT JOIN gainsight_px.features AS f ON f.id = w.feature_id
ORDER BY w.week, w.users DESC, w.feature_id
