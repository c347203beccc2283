-- engagement_performance: how did each guide, dialog, carousel or survey perform?
--
-- Answers: for each engagement with view events, its views (ENGAGEMENT_VIEW
-- events), clicks (ENGAGEMENT_CLICK), distinct viewers, completions (events
-- whose guide, carousel or survey state is COMPLETED), completion_rate =
-- completions / views, and the first and last view, named from the
-- engagements table.
--
-- Cannot tell: completions of dialogs and notifications (PX records no state
-- for them), why users dismissed an engagement, or views before the first
-- loaded window. Email engagements are in email_events, not here.
-- dialects: duckdb postgres
WITH stats AS (
    SELECT
        engagement_id,
        count(*) FILTER (WHERE engagement_track_type = 'ENGAGEMENT_VIEW') AS views,
        count(*) FILTER (WHERE engagement_track_type = 'ENGAGEMENT_CLICK') AS clicks,
        count(DISTINCT identify_id) AS viewers,
        count(*) FILTER (WHERE coalesce(guide_state, carousel_state, survey_state) = 'COMPLETED') AS completions,
        min(date) AS first_view,
        max(date) AS last_view
    FROM gainsight_px.engagement_view_events
    GROUP BY engagement_id
)
SELECT
    s.engagement_id,
    g.name AS engagement_name,
    g.type AS engagement_type,
    s.views,
    s.clicks,
    s.viewers,
    s.completions,
    CAST(s.completions AS DOUBLE PRECISION) / nullif(s.views, 0) AS completion_rate,
    s.first_view,
    s.last_view
FROM stats AS s
LEFT JOIN gainsight_px.engagements AS g ON g.id = s.engagement_id
ORDER BY s.views DESC, s.engagement_id
