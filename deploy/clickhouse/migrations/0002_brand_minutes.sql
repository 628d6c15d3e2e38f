-- One row per (brand, minute); late posts re-emit the minute with version+1 and the highest
-- version wins (read with FINAL or argMax(col, version)).
CREATE TABLE IF NOT EXISTS brand_minutes
(
    brand String,
    minute DateTime('UTC'),
    posts UInt32,
    unique_posts UInt32,
    unique_authors UInt32,
    negative UInt32,
    neutral UInt32,
    positive UInt32,
    sentiment_sum Float64,
    reach UInt64,
    duplicates UInt32,
    campaign_posts UInt32,
    new_clusters UInt32,
    late_posts UInt32,
    version UInt32,
    inserted_at DateTime('UTC') DEFAULT now()
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(minute)
ORDER BY (brand, minute);
