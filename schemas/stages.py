"""Stage names. A stage's name is its output topic's name and the ``stage`` label of its metrics."""

from __future__ import annotations

from typing import Final

POSTS_RAW: Final = "posts.raw"  # ingest output: raw JSON as received
POSTS_DLQ: Final = "posts.dlq"  # dead letters: original bytes + reason
POSTS_VALID: Final = "posts.valid"  # validated Post records
POSTS_SCORED: Final = "posts.scored"  # dedup + brand match + sentiment, keyed by brand
BRAND_MINUTES: Final = "brand.minutes"  # per-brand per-minute aggregates (event time)
CRISIS_ALERTS: Final = "crisis.alerts"  # severity changes with their explanation
CRISIS_FEEDBACK: Final = "crisis.feedback"  # analysts' labels, corrections, planned events

ALL_STAGES: Final = (
    POSTS_RAW,
    POSTS_DLQ,
    POSTS_VALID,
    POSTS_SCORED,
    BRAND_MINUTES,
    CRISIS_ALERTS,
    CRISIS_FEEDBACK,
)
