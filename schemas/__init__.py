"""Record shapes: the one source of truth for what flows through crisis-radar."""

from schemas.models import (
    SCHEMA_VERSION,
    Author,
    BrandMinute,
    CrisisAlert,
    DeadLetter,
    Engagement,
    Platform,
    Post,
    ScoredPost,
    Severity,
    SignalExplanation,
)

__all__ = [
    "SCHEMA_VERSION",
    "Author",
    "BrandMinute",
    "CrisisAlert",
    "DeadLetter",
    "Engagement",
    "Platform",
    "Post",
    "ScoredPost",
    "Severity",
    "SignalExplanation",
]
