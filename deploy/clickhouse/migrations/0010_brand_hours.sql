-- Hourly per-brand rollup for analysts, fed by a materialized view on posts.
-- An MV sees every INSERT, including at-least-once redeliveries that FINAL would later collapse:
-- counts therefore use uniq(post_key) states (a redelivered post is the same key, so it is not
-- counted twice), while reach and sentiment sums can be inflated by redeliveries (rare, reported
-- by crisis_radar_clickhouse_insert_* metrics). For exact figures query posts FINAL or
-- brand_minutes FINAL (docs/queries.md). Read with the -Merge functions, GROUP BY brand, hour.
CREATE TABLE IF NOT EXISTS brand_hours
(
    brand String,
    hour DateTime('UTC'),
    posts AggregateFunction(uniq, String),
    unique_posts AggregateFunction(uniqIf, String, UInt8),
    negative AggregateFunction(uniqIf, String, UInt8),
    positive AggregateFunction(uniqIf, String, UInt8),
    authors AggregateFunction(uniq, String),
    clusters AggregateFunction(uniq, String),
    sentiment AggregateFunction(avg, Float32),
    reach AggregateFunction(sum, UInt64),
    top_clusters AggregateFunction(topK(10), String)
)
ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(hour)
ORDER BY (brand, hour);

CREATE MATERIALIZED VIEW IF NOT EXISTS brand_hours_mv TO brand_hours AS
SELECT
    brand,
    toStartOfHour(created_at) AS hour,
    uniqState(post_key) AS posts,
    uniqIfState(post_key, is_duplicate = 0) AS unique_posts,
    uniqIfState(post_key, sentiment_label = 'negative') AS negative,
    uniqIfState(post_key, sentiment_label = 'positive') AS positive,
    uniqState(author_id) AS authors,
    uniqState(cluster_id) AS clusters,
    avgState(sentiment_score) AS sentiment,
    sumState(followers) AS reach,
    topKState(10)(cluster_id) AS top_clusters
FROM posts
GROUP BY brand, hour;
