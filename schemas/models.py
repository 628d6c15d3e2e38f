"""Pydantic v2 models for every record crisis-radar produces or consumes.

>>> from datetime import datetime, timezone
>>> p = Post(platform="bluesky", post_id="3k1", author=Author(id="did:plc:x", handle="ann"),
...          text="@acme my order never came", created_at="2026-11-23T10:00:05Z")
>>> p.created_at.tzinfo is not None, p.minute.isoformat()
(True, '2026-11-23T10:00:00+00:00')
>>> Post.model_validate_json(p.model_dump_json()) == p
True
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import IntEnum
from typing import Annotated, Any, Literal, TypeVar, get_args

from annotated_types import Ge
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
)
from pydantic_core import TzInfo

SCHEMA_VERSION = 1

# Size limits: a post beyond them is rejected with a clear error (and dead-lettered).
MAX_TEXT_CHARS = 10_000
MAX_ID_CHARS = 256
MAX_URL_CHARS = 2_048
MAX_LIST_ITEMS = 100

Platform = Literal["bluesky", "mastodon", "x", "reddit", "csv", "jsonl", "simulated", "other"]
# "unknown": the post's language has no sentiment model; no evidence either way (not neutral).
SentimentLabel = Literal["negative", "neutral", "positive", "unknown"]


def _utc(value: datetime) -> datetime:
    """Require an aware datetime and normalise it to UTC."""
    tz = value.tzinfo
    # a parsed offset (pydantic's TzInfo) always has a utcoffset: skip that call per record
    if tz is None or (type(tz) is not TzInfo and value.utcoffset() is None):
        raise ValueError("timestamp must be timezone-aware (e.g. end with Z or +00:00)")
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]
ShortStr = Annotated[str, Field(max_length=MAX_ID_CHARS)]


class Severity(IntEnum):
    """Crisis severity; ordered, so ``max()`` and comparisons work."""

    NONE = 0
    WATCH = 1
    WARNING = 2
    CRISIS = 3

    @property
    def label(self) -> str:
        return self.name.lower()


_M = TypeVar("_M", bound=BaseModel)


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)

    schema_version: int = SCHEMA_VERSION

    def to_json(self) -> bytes:
        # the serializer's own bytes (model_dump_json() decodes them to str: ~20% of the cost)
        return self.__pydantic_serializer__.to_json(self)

    @classmethod
    def from_json(cls, data: bytes | str) -> _Record:
        return cls.model_validate_json(data)


class Author(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: ShortStr = Field(min_length=1)
    handle: ShortStr | None = None
    followers: NonNegativeInt = 0
    verified: bool = False


class Engagement(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    likes: NonNegativeInt = 0
    reposts: NonNegativeInt = 0
    replies: NonNegativeInt = 0
    quotes: NonNegativeInt = 0


_NO_ENGAGEMENT = Engagement()


class Post(_Record):
    """One social-media post in the shape every normaliser produces."""

    platform: Platform
    post_id: ShortStr = Field(min_length=1)
    author: Author
    text: str = Field(max_length=MAX_TEXT_CHARS)
    lang: Annotated[str, Field(max_length=16)] | None = None
    created_at: UtcDatetime
    url: Annotated[str, Field(max_length=MAX_URL_CHARS)] | None = None
    reply_to: ShortStr | None = None
    repost_of: ShortStr | None = None
    quote_of: ShortStr | None = None
    hashtags: Annotated[list[ShortStr], Field(max_length=MAX_LIST_ITEMS)] = Field(
        default_factory=list
    )
    mentions: Annotated[list[ShortStr], Field(max_length=MAX_LIST_ITEMS)] = Field(
        default_factory=list
    )
    # one shared instance for posts without engagement (it is frozen): Engagement() is a Python
    # call with a validation, per post decoded and per line screened
    engagement: Engagement = Field(default_factory=lambda: _NO_ENGAGEMENT)
    source: ShortStr | None = None  # where it came from: a file, a live source name

    @property
    def key(self) -> str:
        """Globally unique id: platform + post id."""
        return f"{self.platform}:{self.post_id}"

    @property
    def minute(self) -> datetime:
        return self.created_at.replace(second=0, microsecond=0)


class ScoredPost(_Record):
    """A post after dedup, brand matching and sentiment: one record per (post, brand)."""

    post: Post
    brand: ShortStr
    sentiment_label: SentimentLabel
    sentiment_score: float = Field(ge=-1.0, le=1.0)
    cluster_id: ShortStr
    is_duplicate: bool  # not the first post of its cluster
    cluster_size: NonNegativeInt = 1
    cluster_authors: NonNegativeInt = 1
    campaign: bool = False  # the cluster looks like a coordinated copy-paste campaign
    scored_at: UtcDatetime
    # <= 8 content words (detectors.terms.content_terms): the new-narrative signal's input
    terms: Annotated[list[ShortStr], Field(max_length=MAX_LIST_ITEMS)] = []
    # the post's language as decided by the enrich stage (detectors.language: the platform's
    # tag, else the text): ISO 639-1 or "und"; post.lang keeps what the platform said
    lang: Annotated[str, Field(max_length=16)] = "und"
    # written by one of the brand's official accounts (watchlist ``official``): its reply, not
    # a crowd post (never counted in volume, sentiment or detection; docs/response.md)
    brand_reply: bool = False
    # addresses the brand explicitly (@handle or official account mentioned)
    addressed: bool = False

    @classmethod
    def checked(
        cls,
        post: Post,
        brand: str,
        sentiment_label: str,
        sentiment_score: float,
        cluster_id: str,
        is_duplicate: bool,
        cluster_size: int,
        cluster_authors: int,
        campaign: bool,
        scored_at: datetime,
        terms: list[str],
        lang: str,
        addressed: bool,
    ) -> ScoredPost:
        """``ScoredPost(...)`` with these keywords, ~4x cheaper (the enrich stage makes one per
        post and brand): values that plainly pass the schema as they are (exact types, within
        bounds, ``scored_at`` already in UTC) skip pydantic's validation; anything else goes
        through it, so the result, or the error, is the same either way."""
        if (
            type(post) is Post
            and type(brand) is str
            and len(brand) <= MAX_ID_CHARS
            and sentiment_label in _LABELS
            and type(sentiment_score) is float
            and -1.0 <= sentiment_score <= 1.0
            and type(cluster_id) is str
            and len(cluster_id) <= MAX_ID_CHARS
            and type(is_duplicate) is bool
            and type(cluster_size) is int
            and cluster_size >= 0
            and type(cluster_authors) is int
            and cluster_authors >= 0
            and type(campaign) is bool
            and type(scored_at) is datetime
            and scored_at.tzinfo is UTC
            and type(terms) is list
            and len(terms) <= MAX_LIST_ITEMS
            and all(type(t) is str and len(t) <= MAX_ID_CHARS for t in terms)
            and type(lang) is str
            and len(lang) <= 16
            and type(addressed) is bool
        ):
            return _assemble(cls, {  # the fields in the order validation leaves them
                "schema_version": SCHEMA_VERSION, "post": post, "brand": brand,
                "sentiment_label": sentiment_label, "sentiment_score": sentiment_score,
                "cluster_id": cluster_id, "is_duplicate": is_duplicate,
                "cluster_size": cluster_size, "cluster_authors": cluster_authors,
                "campaign": campaign, "scored_at": scored_at, "terms": list(terms),
                "lang": lang, "brand_reply": False, "addressed": addressed,
            }, _CHECKED_SET)  # fmt: skip
        return cls(
            post=post, brand=brand, sentiment_label=sentiment_label,  # type: ignore[arg-type]
            sentiment_score=sentiment_score, cluster_id=cluster_id, is_duplicate=is_duplicate,
            cluster_size=cluster_size, cluster_authors=cluster_authors, campaign=campaign,
            scored_at=scored_at, terms=terms, lang=lang, addressed=addressed,
        )  # fmt: skip


_new = object.__new__
_set = object.__setattr__  # the models are frozen: their own __setattr__ refuses


def _assemble(cls: type[_M], values: dict[str, Any], fields_set: frozenset[str]) -> _M:
    """An instance of ``cls`` holding ``values`` (every field, in declaration order) as
    validation would leave them: for values a caller has checked to pass as they are."""
    obj = _new(cls)
    _set(obj, "__dict__", values)
    _set(obj, "__pydantic_fields_set__", set(fields_set))
    _set(obj, "__pydantic_extra__", None)
    _set(obj, "__pydantic_private__", None)
    return obj


_LABELS = frozenset(get_args(SentimentLabel))
# the fields ScoredPost.checked sets (model_fields_set, as after validation with its keywords)
_CHECKED_SET = frozenset(
    ("post", "brand", "sentiment_label", "sentiment_score", "cluster_id", "is_duplicate",
     "cluster_size", "cluster_authors", "campaign", "scored_at", "terms", "lang", "addressed")
)  # fmt: skip


class _View(BaseModel):
    """A narrower read of a record's JSON: the fields a hot consumer needs, the rest skipped."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class AuthorRef(_View):
    id: str
    followers: NonNegativeInt = 0


class PostTime(_View):
    author: AuthorRef
    created_at: UtcDatetime
    platform: str = "other"
    post_id: str = ""
    reply_to: str | None = None


class ScoredPostCounts(_View):
    """What minute aggregation reads of a ``ScoredPost`` JSON (same field paths), parsed in
    about half the time of the whole record: the worker's aggregate stage parses one per post."""

    post: PostTime
    brand: str
    sentiment_label: SentimentLabel
    sentiment_score: float
    cluster_id: str
    is_duplicate: bool
    campaign: bool = False
    terms: list[str] = []
    brand_reply: bool = False
    addressed: bool = False


class BrandMinute(_Record):
    """Per-brand per-minute aggregate, on event time."""

    brand: ShortStr
    minute: UtcDatetime
    posts: NonNegativeInt = 0
    unique_posts: NonNegativeInt = 0  # after dedup
    unique_authors: NonNegativeInt = 0
    negative: NonNegativeInt = 0
    neutral: NonNegativeInt = 0
    positive: NonNegativeInt = 0
    unknown: NonNegativeInt = 0  # language without a sentiment model: counted, no evidence
    sentiment_sum: float = 0.0
    reach: NonNegativeInt = 0  # sum of author followers
    duplicates: NonNegativeInt = 0
    campaign_posts: NonNegativeInt = 0
    new_clusters: NonNegativeInt = 0
    late_posts: NonNegativeInt = 0  # arrived after the minute had been emitted once
    version: NonNegativeInt = 1  # bumps when late posts amend an emitted minute
    # new narrative: posts carrying a term far above its usual rate (>= 2 authors in a few
    # minutes), and those of them labelled negative in terms mostly carried by negatives
    burst_term_posts: NonNegativeInt = 0
    burst_term_negative: NonNegativeInt = 0
    burst_terms: Annotated[list[ShortStr], Field(max_length=MAX_LIST_ITEMS)] = []  # top, explains
    # Response (docs/response.md). complaints: negative crowd posts of this minute addressed to
    # the brand (@handle/official account, or a reply to one of its posts); brand_replies: posts
    # of its official accounts. due_15m/due_1h: complaints whose 15 min / 1 h deadline fell in
    # this minute (posted 15 / 60 min earlier), answered_*: those of them the brand had replied
    # to by then (a reply whose reply_to is the complaint): final when the minute closes.
    complaints: NonNegativeInt = 0
    brand_replies: NonNegativeInt = 0
    due_15m: NonNegativeInt = 0
    answered_15m: NonNegativeInt = 0
    due_1h: NonNegativeInt = 0
    answered_1h: NonNegativeInt = 0
    # first responses given in the last hour (up to this minute) and their median delay
    responses_1h: NonNegativeInt = 0
    response_median_s: float = Field(default=0.0, ge=0.0)
    unanswered_1h: NonNegativeInt = 0  # complaints of the last hour still unanswered at its end
    silent_min: NonNegativeInt = 0  # minutes since the brand's last reply (capped: a day)

    @classmethod
    def checked(cls, values: dict[str, Any]) -> BrandMinute:
        """``BrandMinute(**values)``, ~4x cheaper (one per brand and minute): ``values`` (every
        field but schema_version, in declaration order: the aggregator's record) skip pydantic
        when they plainly pass as they are; anything else goes through it, so the record, or
        the error, is the same either way."""
        minute, terms = values.get("minute"), values.get("burst_terms")
        if (
            values.keys() == _MINUTE_KEYS
            and type(values["brand"]) is str
            and len(values["brand"]) <= MAX_ID_CHARS
            and type(minute) is datetime
            and minute.tzinfo is UTC
            and all(type(values[k]) is int and values[k] >= 0 for k in _MINUTE_INTS)
            and type(values["sentiment_sum"]) is float
            and type(values["response_median_s"]) is float
            and values["response_median_s"] >= 0.0
            and type(terms) is list
            and len(terms) <= MAX_LIST_ITEMS
            and all(type(t) is str and len(t) <= MAX_ID_CHARS for t in terms)
        ):
            return _assemble(cls, {"schema_version": SCHEMA_VERSION, **values,
                                   "burst_terms": list(terms)}, _MINUTE_SET)  # fmt: skip
        return cls(**values)

    @property
    def sentiment_posts(self) -> int:
        """Posts with sentiment evidence: every post but those of a language without a model."""
        return self.posts - self.unknown

    @property
    def negative_share(self) -> float:
        n = self.posts - self.unknown
        return self.negative / n if n > 0 else 0.0

    @property
    def mean_sentiment(self) -> float:
        n = self.posts - self.unknown
        return self.sentiment_sum / n if n > 0 else 0.0


class SignalExplanation(BaseModel):
    """One signal that drove an alert: what was expected and what was observed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    signal: ShortStr  # e.g. "volume", "negative_share"
    observed: float
    expected: float
    score: float = Field(ge=0.0, le=1.0)  # this signal's anomaly score
    detail: str = ""

    @classmethod
    def checked(
        cls, signal: str, observed: float, expected: float, score: float, detail: str
    ) -> SignalExplanation:
        """``SignalExplanation(signal=..., ...)``, ~3x cheaper (ten per scored minute); values
        that do not plainly pass as they are go through validation."""
        if (
            type(signal) is str
            and len(signal) <= MAX_ID_CHARS
            and type(observed) is float
            and type(expected) is float
            and type(score) is float
            and 0.0 <= score <= 1.0
            and type(detail) is str
        ):
            return _assemble(cls, {"signal": signal, "observed": observed, "expected": expected,
                                   "score": score, "detail": detail}, _SIGNAL_SET)  # fmt: skip
        return cls(signal=signal, observed=observed, expected=expected, score=score, detail=detail)


class TopPost(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    post_key: ShortStr
    text: str = Field(max_length=MAX_TEXT_CHARS)
    author: ShortStr
    reach: NonNegativeInt = 0
    sentiment_score: float = 0.0


class TopCluster(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    cluster_id: ShortStr
    example_text: str = Field(max_length=MAX_TEXT_CHARS)
    posts: NonNegativeInt
    distinct_authors: NonNegativeInt
    campaign: bool = False


class CrisisAlert(_Record):
    """A severity change for one brand, with the reason it fired."""

    alert_id: ShortStr = Field(default_factory=lambda: uuid.uuid4().hex)
    brand: ShortStr
    minute: UtcDatetime  # the deciding minute (event time)
    severity: Severity
    previous_severity: Severity
    score: float = Field(ge=0.0, le=1.0)
    summary: str = Field(max_length=2_000)
    signals: Annotated[list[SignalExplanation], Field(max_length=MAX_LIST_ITEMS)] = []
    top_posts: Annotated[list[TopPost], Field(max_length=MAX_LIST_ITEMS)] = []
    top_terms: Annotated[list[ShortStr], Field(max_length=MAX_LIST_ITEMS)] = []
    top_clusters: Annotated[list[TopCluster], Field(max_length=MAX_LIST_ITEMS)] = []
    created_at: UtcDatetime  # wall-clock time the alert was raised
    # the announced event (``crisis-radar expect``) the deciding minute fell in, if any
    expected_event: Annotated[str, Field(max_length=500)] = ""


class DeadLetter(_Record):
    """A message that could not be processed, kept with the reason so it can be replayed."""

    reason: ShortStr  # short machine-readable reason, the metric label
    error: str = Field(max_length=4_000)  # human-readable detail
    source: ShortStr  # stage or source that rejected it
    original: str  # original bytes, base64 (bytes may not be valid UTF-8)
    received_at: UtcDatetime


# BrandMinute.checked: its keys, the ints >= 0 (NonNegativeInt), the fields set. Its test
# covers each field the schema has now; a field of another kind added later turns it off
# (every record validated) until it tests that field too.
_MINUTE_FIELDS = BrandMinute.model_fields
_MINUTE_INTS = tuple(
    k for k, f in _MINUTE_FIELDS.items() if f.annotation is int and k != "schema_version"
)
_MINUTE_KEYS = (
    _MINUTE_FIELDS.keys() - {"schema_version"}
    if all(_MINUTE_FIELDS[k].metadata == [Ge(ge=0)] for k in _MINUTE_INTS)
    and set(_MINUTE_FIELDS) - set(_MINUTE_INTS)
    == {"schema_version", "brand", "minute", "sentiment_sum", "response_median_s", "burst_terms"}
    else frozenset({"(a field checked() does not know)"})
)
_MINUTE_SET = frozenset(_MINUTE_KEYS)
_SIGNAL_SET = frozenset(SignalExplanation.model_fields)
