-- Issue 21: the language of each post is a dimension of minutes. posts.lang already exists (0001);
-- since issue 21 the enrich stage fills it with the decided language (ISO 639-1, or 'und'), and
-- rows written before read '' (shown as 'und' here).
-- A plain view over posts FINAL, not a table fed by the stream or a materialized view: it is
-- exact under redelivery, late posts, amendments and backfill (FINAL keeps one row per (brand,
-- post) whichever run wrote it last), needs no change to the stream core, and BrandMinute keeps
-- its shape. An MV would count a redelivered post twice, or a backfilled post whose language or
-- sentiment changed under both its old and new values. Cost: it reads posts; filter on brand
-- and minute (dashboards query posts FINAL directly with their time filter: same figures).
-- The inner query groups, the outer one names (18.16 resolves aliases inside aggregates).
CREATE VIEW IF NOT EXISTS brand_lang_minutes AS
SELECT
    brand,
    minute,
    post_lang AS lang,
    n_posts AS posts,
    n_negative AS negative,
    n_backfill AS backfill_posts
FROM
(
    SELECT
        brand,
        toStartOfMinute(created_at) AS minute,
        if(lang = '', 'und', lang) AS post_lang,
        count() AS n_posts,
        countIf(sentiment_label = 'negative') AS n_negative,
        countIf(backfill = 1) AS n_backfill
    FROM posts FINAL
    GROUP BY brand, minute, post_lang
);
