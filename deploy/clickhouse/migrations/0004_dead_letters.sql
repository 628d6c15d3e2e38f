-- One row per rejected message; letter_id = hash of (source, original bytes, received_at) so a
-- redelivered dead letter replaces itself. original is base64 of the bytes received.
CREATE TABLE IF NOT EXISTS dead_letters
(
    received_at DateTime('UTC'),
    reason String,
    letter_id String,
    source String,
    error String,
    original String,
    inserted_at DateTime('UTC') DEFAULT now()
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(received_at)
ORDER BY (received_at, reason, letter_id);
