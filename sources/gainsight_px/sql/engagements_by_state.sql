-- engagements_by_state: what state are the in-app engagements in? One row
-- per (type, state) pair that has engagements.
--
-- Answers: how many engagements of each type (Dialog, Guide, ...) are in
-- each state (DRAFT, LIVE, PAUSED, STAGED), with the oldest and newest
-- creation date in the group.
--
-- Cannot tell: views, clicks or completion of engagements (not in the
-- engagements endpoint), or when an engagement changed state.
-- dialects: duckdb postgres
SELECT
    type,
    state,
    count(*) AS engagements,
    min(created_date) AS first_created_date,
    max(created_date) AS last_created_date
FROM gainsight_px.engagements
GROUP BY type, state
ORDER BY type, state

-- fallback when engagements.created_date is not loaded: the published API's engagements have no creation date.
SELECT
    type,
    state,
    count(*) AS engagements,
    CAST(NULL AS TIMESTAMP WITH TIME ZONE) AS first_created_date,
    CAST(NULL AS TIMESTAMP WITH TIME ZONE) AS last_created_date
FROM gainsight_px.engagements
GROUP BY type, state
ORDER BY type, state
