-- Issue 18: what the crisis team tells the detectors (`crisis-radar feedback`, `expect`).
-- Append-only: MergeTree, never Replacing; a later label on the same alert or post supersedes the
-- earlier one in queries (argMax(label, given_at)), and every earlier one stays as the audit trail.
CREATE TABLE IF NOT EXISTS alert_feedback
(
    feedback_id String,
    alert_id String,
    brand String,
    minute DateTime('UTC'),
    severity UInt8,
    score Float32,
    negative_share Float32,
    label String,
    note String,
    given_by String,
    given_at DateTime('UTC'),
    inserted_at DateTime('UTC') DEFAULT now()
)
ENGINE = MergeTree()
PARTITION BY toYYYYMM(given_at)
ORDER BY (brand, given_at, feedback_id);
CREATE TABLE IF NOT EXISTS post_feedback
(
    feedback_id String,
    post_key String,
    brand String,
    text String,
    sentiment String,
    previous String,
    note String,
    given_by String,
    given_at DateTime('UTC'),
    inserted_at DateTime('UTC') DEFAULT now()
)
ENGINE = MergeTree()
PARTITION BY toYYYYMM(given_at)
ORDER BY (brand, given_at, feedback_id);
-- Planned events; `starts`/`ends` are event time. Grafana draws them as annotations.
CREATE TABLE IF NOT EXISTS expected_events
(
    event_id String,
    brand String,
    starts DateTime('UTC'),
    ends DateTime('UTC'),
    kind String,
    note String,
    given_by String,
    given_at DateTime('UTC'),
    inserted_at DateTime('UTC') DEFAULT now()
)
ENGINE = MergeTree()
PARTITION BY toYYYYMM(starts)
ORDER BY (brand, starts, event_id);
-- The announced event an alert's deciding minute fell in ('' if none).
ALTER TABLE alerts ADD COLUMN expected_event String DEFAULT '' AFTER created_at;
