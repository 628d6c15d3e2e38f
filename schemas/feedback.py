"""What the crisis team tells the detectors: alert labels, sentiment corrections, planned events.

Each is stored in ClickHouse (append-only, migration 0018) and produced to the
``crisis.feedback`` topic, where the worker's crisis and enrich stages learn it
(``detectors.feedback``). ``parse_feedback`` reads any of the three from that topic.

>>> from datetime import datetime, UTC
>>> t = datetime(2026, 11, 23, 10, tzinfo=UTC)
>>> e = ExpectedEvent(event_id="e1", brand="acme", start=t, end=t.replace(hour=12),
...                   kind="launch", by="ann", at=t)
>>> parse_feedback(e.to_json()) == e
True
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, TypeAdapter, model_validator

from schemas.models import MAX_TEXT_CHARS, SentimentLabel, ShortStr, UtcDatetime, _Record

AlertLabel = Literal["real", "false_alarm", "expected"]
EventKind = Literal["launch", "campaign", "tv_spot", "maintenance"]
ALERT_LABELS: tuple[str, ...] = ("real", "false_alarm", "expected")
EVENT_KINDS: tuple[str, ...] = ("launch", "campaign", "tv_spot", "maintenance")
Note = Annotated[str, Field(max_length=2_000)]


class AlertFeedback(_Record):
    """An analyst's label on one alert. Never overwritten: a later label supersedes."""

    type: Literal["alert"] = "alert"
    feedback_id: ShortStr
    alert_id: ShortStr
    brand: ShortStr
    minute: UtcDatetime  # the alert's deciding minute
    severity: int = Field(ge=0, le=3)  # the alert's severity
    score: float = Field(ge=0.0, le=1.0)  # the alert's score
    negative_share: float = Field(0.0, ge=0.0, le=1.0)  # at the alert's deciding minute
    # its mean sentiment (what the false alarm looked like; -1: not recorded, migration 0021)
    mean_sentiment: float = Field(-1.0, ge=-1.0, le=1.0)
    # its posts over expected posts (the false alarm's volume shape; 0: not recorded, 0022)
    volume_ratio: float = Field(0.0, ge=0.0)
    label: AlertLabel
    note: Note = ""
    by: ShortStr
    at: UtcDatetime  # when the label was given


class PostFeedback(_Record):
    """An analyst's sentiment for one post (the text travels along: the model learns words)."""

    type: Literal["post"] = "post"
    feedback_id: ShortStr
    post_key: ShortStr
    brand: ShortStr  # a brand the post was matched to (explain shows it there)
    text: Annotated[str, Field(max_length=MAX_TEXT_CHARS)]
    sentiment: SentimentLabel
    previous: ShortStr = ""  # the label the pipeline had given
    note: Note = ""
    by: ShortStr
    at: UtcDatetime


class ExpectedEvent(_Record):
    """A planned event of a brand: ``start`` <= minute < ``end`` (event time)."""

    type: Literal["expected"] = "expected"
    event_id: ShortStr
    brand: ShortStr
    start: UtcDatetime
    end: UtcDatetime
    kind: EventKind
    note: Note = ""
    by: ShortStr
    at: UtcDatetime

    @model_validator(mode="after")
    def _ordered(self) -> ExpectedEvent:
        if self.end <= self.start:
            raise ValueError(f"event ends ({self.end}) before it starts ({self.start})")
        return self

    def describe(self) -> str:
        what = f"{self.kind} {self.note!r}" if self.note else self.kind
        return f"announced {what} {self.start:%Y-%m-%d %H:%M}-{self.end:%H:%M} UTC"


Feedback = AlertFeedback | PostFeedback | ExpectedEvent
_ADAPTER: TypeAdapter[Feedback] = TypeAdapter(Annotated[Feedback, Field(discriminator="type")])


def parse_feedback(data: bytes | str) -> Feedback:
    """One ``crisis.feedback`` record (raises pydantic's ValidationError if malformed)."""
    return _ADAPTER.validate_json(data)
