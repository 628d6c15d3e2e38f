-- One row per (post, brand). ReplacingMergeTree: a redelivered (post, brand) replaces itself;
-- analysts read with FINAL (or argMax by scored_at) so at-least-once delivery never double counts.
-- Works on ClickHouse 18.16 (no TTL/CODEC/DateTime64, no Nullable in the key) and current releases.
CREATE TABLE IF NOT EXISTS posts
(
    brand String,
    created_at DateTime('UTC'),
    post_key String,
    platform String,
    post_id String,
    author_id String,
    author_handle String,
    followers UInt64,
    text String,
    lang String,
    url String,
    reply_to String,
    repost_of String,
    hashtags Array(String),
    mentions Array(String),
    likes UInt64,
    reposts UInt64,
    replies UInt64,
    quotes UInt64,
    sentiment_label String,
    sentiment_score Float32,
    cluster_id String,
    is_duplicate UInt8,
    cluster_size UInt32,
    cluster_authors UInt32,
    campaign UInt8,
    scored_at DateTime('UTC'),
    inserted_at DateTime('UTC') DEFAULT now()
)
ENGINE = ReplacingMergeTree(scored_at)
PARTITION BY toYYYYMM(created_at)
ORDER BY (brand, created_at, post_key);
