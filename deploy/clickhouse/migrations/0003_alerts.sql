-- One row per alert. alert_id is deterministic (hash of brand, minute, severity), so a replay or
-- a redelivery writes the same key and replaces the earlier row.
-- signals/top_posts/top_clusters are JSON text: 18.16 has no JSON type and no JSONExtract.
CREATE TABLE IF NOT EXISTS alerts
(
    brand String,
    minute DateTime('UTC'),
    alert_id String,
    severity UInt8,
    severity_label String,
    previous_severity UInt8,
    score Float32,
    summary String,
    signals String,
    top_posts String,
    top_terms Array(String),
    top_clusters String,
    created_at DateTime('UTC'),
    inserted_at DateTime('UTC') DEFAULT now()
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(minute)
ORDER BY (brand, minute, alert_id);
