-- survey_results: what do users answer, and what is the NPS of each survey?
--
-- Answers: for each survey engagement, its responses (survey response events
-- with a score), distinct respondents, average score, promoters (score 9-10),
-- passives (7-8), detractors (0-6), nps = 100 * (promoters - detractors) /
-- responses (-100..100), responses with a comment, and the count of each
-- score 0..10 (the score distribution), named from the engagements table.
--
-- Cannot tell: which answer was given to which question of a multi-question
-- survey beyond question_type, responses before the first loaded window, or
-- who chose not to answer. NPS is meaningful for NPS surveys (0-10 scale);
-- for rating or CES surveys read average_score and the distribution instead.
-- dialects: duckdb postgres
SELECT
    r.engagement_id,
    g.name AS engagement_name,
    max(r.question_type) AS question_type,
    count(*) AS responses,
    count(DISTINCT r.identify_id) AS respondents,
    round(CAST(avg(r.score) AS NUMERIC), 2) AS average_score,
    count(*) FILTER (WHERE r.score >= 9) AS promoters,
    count(*) FILTER (WHERE r.score BETWEEN 7 AND 8) AS passives,
    count(*) FILTER (WHERE r.score <= 6) AS detractors,
    round(CAST(100.0 * (count(*) FILTER (WHERE r.score >= 9) - count(*) FILTER (WHERE r.score <= 6))
               / count(*) AS NUMERIC), 1) AS nps,
    count(*) FILTER (WHERE r.comment IS NOT NULL AND r.comment <> '') AS with_comment,
    count(*) FILTER (WHERE r.score = 0) AS score_0,
    count(*) FILTER (WHERE r.score = 1) AS score_1,
    count(*) FILTER (WHERE r.score = 2) AS score_2,
    count(*) FILTER (WHERE r.score = 3) AS score_3,
    count(*) FILTER (WHERE r.score = 4) AS score_4,
    count(*) FILTER (WHERE r.score = 5) AS score_5,
    count(*) FILTER (WHERE r.score = 6) AS score_6,
    count(*) FILTER (WHERE r.score = 7) AS score_7,
    count(*) FILTER (WHERE r.score = 8) AS score_8,
    count(*) FILTER (WHERE r.score = 9) AS score_9,
    count(*) FILTER (WHERE r.score = 10) AS score_10
FROM gainsight_px.survey_responses AS r
LEFT JOIN gainsight_px.engagements AS g ON g.id = r.engagement_id
WHERE r.score IS NOT NULL
GROUP BY r.engagement_id, g.name
ORDER BY responses DESC, r.engagement_id
