-- Exact hourly rollup without materialization: brand_minutes FINAL keeps only the latest version
-- of each minute, so late amendments and redeliveries never double count. Cheap enough for
-- dashboards (one row per brand per minute underneath). Prefer it to brand_hours for reports.
-- The inner query sums, the outer one derives shares (18.16 resolves aliases inside aggregates).
CREATE VIEW IF NOT EXISTS brand_hours_exact AS
SELECT
    brand,
    hour,
    posts,
    unique_posts,
    negative,
    neutral,
    positive,
    if(posts = 0, 0, negative / posts) AS negative_share,
    if(posts = 0, 0, sentiment_total / posts) AS mean_sentiment,
    reach,
    duplicates,
    campaign_posts,
    peak_minute_authors
FROM
(
    SELECT
        brand,
        toStartOfHour(minute) AS hour,
        sum(posts) AS posts,
        sum(unique_posts) AS unique_posts,
        sum(negative) AS negative,
        sum(neutral) AS neutral,
        sum(positive) AS positive,
        sum(sentiment_sum) AS sentiment_total,
        sum(reach) AS reach,
        sum(duplicates) AS duplicates,
        sum(campaign_posts) AS campaign_posts,
        max(unique_authors) AS peak_minute_authors
    FROM brand_minutes FINAL
    GROUP BY brand, hour
);
