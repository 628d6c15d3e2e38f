"""Worker hot-path shortcuts give the same results as the plain path (issue 6): the aggregate
stage's narrow ScoredPostCounts parse, the alert context's skip test, int timestamps in post
rows, and the fast path's raw-topic test."""

from __future__ import annotations

import pickle
import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import faust
from pydantic import ValidationError

from detectors.aggregate import MinuteAggregator
from schemas.models import (
    Author,
    BrandMinute,
    Engagement,
    Post,
    ScoredPost,
    ScoredPostCounts,
    SignalExplanation,
)
from streams import sinks
from streams.faust_runtime.raw_topic_handler import is_raw
from streams.processing import AlertContext, PartitionWindow

T0 = datetime(2026, 11, 23, 10, 0, 7, 654321, tzinfo=UTC)


def _scored(i: int, rng: random.Random) -> ScoredPost:
    label = rng.choice(["negative", "neutral", "positive"])
    return ScoredPost(
        post=Post(
            platform="simulated",
            post_id=f"p{i}",
            author=Author(id=f"u{rng.randrange(20)}", handle="h", followers=rng.randrange(999)),
            text=f"acme thing {i}",
            created_at=T0 + timedelta(seconds=rng.randrange(600)),
            hashtags=["acme"],
            engagement=Engagement(likes=3),
        ),
        brand=rng.choice(["acme", "globex"]),
        sentiment_label=label,
        sentiment_score={"negative": -0.7, "neutral": 0.0, "positive": 0.4}[label],
        cluster_id=f"c{rng.randrange(30)}",
        is_duplicate=rng.random() < 0.3,
        cluster_size=2,
        cluster_authors=2,
        campaign=rng.random() < 0.1,
        scored_at=T0,
    )


def test_counts_view_reads_the_same_fields_as_the_record() -> None:
    sp = _scored(1, random.Random(1))
    view = ScoredPostCounts.model_validate_json(sp.to_json())
    assert view.post.created_at == sp.post.created_at
    assert view.post.author.id == sp.post.author.id
    assert view.post.author.followers == sp.post.author.followers
    fields = ("brand", "sentiment_label", "sentiment_score", "cluster_id", "is_duplicate")
    assert [getattr(view, f) for f in (*fields, "campaign")] == [
        getattr(sp, f) for f in (*fields, "campaign")
    ]


def test_minutes_from_views_equal_minutes_from_whole_records() -> None:
    rng = random.Random(7)
    posts = [_scored(i, rng) for i in range(400)]
    whole, narrow = MinuteAggregator(allowed_lateness_s=60), MinuteAggregator(allowed_lateness_s=60)
    out_whole, out_narrow = [], []
    for k, sp in enumerate(posts):
        whole.add(sp)
        narrow.add(ScoredPostCounts.model_validate_json(sp.to_json()))  # type: ignore[arg-type]
        if k % 50 == 49:  # close minutes mid-stream too, so late posts amend (version 2)
            wm = T0 + timedelta(seconds=60 * (k // 50))
            out_whole += whole.advance(wm)
            out_narrow += narrow.advance(wm)
    end = T0 + timedelta(hours=1)
    out_whole += whole.advance(end)
    out_narrow += narrow.advance(end)
    assert len(out_whole) > 10
    assert out_narrow == out_whole


def test_partition_window_accepts_the_view() -> None:
    sp = _scored(3, random.Random(3))
    win = PartitionWindow(lateness_s=0)
    assert win.add(ScoredPostCounts.model_validate_json(sp.to_json()), T0) is False
    closed = win.advance(T0 + timedelta(hours=1))
    assert [(m.brand, m.posts) for m in closed if m.posts] == [(sp.brand, 1)]


def test_alert_context_wants_until_the_minute_is_full() -> None:
    ctx = AlertContext(per_minute=3)
    rng = random.Random(5)
    sp = _scored(0, rng)
    minute = sp.post.minute
    assert ctx.wants(sp.brand, minute)
    for i in range(3):
        ctx.add(sp.model_copy(update={"cluster_id": f"x{i}"}))
    assert not ctx.wants(sp.brand, minute)
    assert ctx.wants(sp.brand, minute + timedelta(minutes=1))
    assert ctx.wants("other-brand", minute)


def test_post_row_timestamps_are_whole_utc_seconds() -> None:
    sp = _scored(2, random.Random(2))
    row = dict(zip(sinks.POSTS_COLUMNS, sinks.post_row(sp), strict=True))
    assert datetime.fromtimestamp(row["created_at"], UTC) == sp.post.created_at.replace(
        microsecond=0
    )
    assert row["scored_at"] == int(T0.timestamp())


def test_fast_path_takes_only_raw_bytes_topics() -> None:
    app = faust.App("hot-path-test", broker="kafka://127.0.0.1:1", autodiscover=False)
    raw = app.topic("r", key_type=bytes, value_type=bytes, key_serializer="raw",
                    value_serializer="raw")  # fmt: skip
    json_topic = app.topic("j", value_serializer="json")
    untyped = app.topic("u")
    assert is_raw(raw)
    assert not is_raw(json_topic)
    assert not is_raw(untyped)


def _same(kw: dict[str, object]) -> None:
    """ScoredPost.checked(**kw) gives ScoredPost(**kw): the same record, or the same error."""
    try:
        want: ScoredPost | str = ScoredPost(**kw)  # type: ignore[arg-type]
    except ValidationError as exc:
        want = str(exc)
    try:
        got: ScoredPost | str = ScoredPost.checked(**kw)  # type: ignore[arg-type]
    except ValidationError as exc:
        got = str(exc)
    assert got == want
    if isinstance(got, ScoredPost) and isinstance(want, ScoredPost):
        assert got.to_json() == want.to_json()
        assert got.model_fields_set == want.model_fields_set
        assert list(got.__dict__) == list(want.__dict__)
        assert pickle.loads(pickle.dumps(got)) == want


def test_checked_scored_post_equals_the_validated_one() -> None:
    sp = _scored(3, random.Random(3))
    base: dict[str, object] = {
        "post": sp.post, "brand": "acme", "sentiment_label": "negative",
        "sentiment_score": -0.5, "cluster_id": "c1", "is_duplicate": False, "cluster_size": 3,
        "cluster_authors": 2, "campaign": True, "scored_at": T0, "terms": ["refund", "late"],
        "lang": "en", "addressed": True,
    }  # fmt: skip
    _same(base)
    terms = ["refund"]
    got = ScoredPost.checked(**base | {"terms": terms})  # type: ignore[arg-type]
    terms.append("later")
    assert got.terms == ["refund"]  # its own list, as validation copies it
    # each value the shortcut does not take as it is: the schema decides, as before
    odd: list[tuple[str, object]] = [
        ("sentiment_score", 1), ("sentiment_score", 1.5), ("sentiment_score", float("nan")),
        ("sentiment_label", "angry"), ("brand", "b" * 257), ("cluster_id", "c" * 300),
        ("terms", ["t" * 257]), ("terms", ["x"] * 101), ("terms", ("a", "b")), ("lang", "x" * 17),
        ("cluster_size", -1), ("cluster_authors", True), ("is_duplicate", 1),
        ("scored_at", T0.astimezone(timezone(timedelta(hours=2)))),
        ("scored_at", T0.replace(tzinfo=None)), ("campaign", "yes"), ("addressed", 0),
        ("post", sp.post.model_dump()),
    ]  # fmt: skip
    for field, value in odd:
        _same(base | {field: value})


def _same_as(cls: Any, checked: Any, kw: dict[str, object]) -> None:
    """``checked`` gives ``cls(**kw)``: the same record, or the same error."""
    try:
        want = cls(**kw)
    except ValidationError as exc:
        want = str(exc)
    try:
        got = checked(kw)
    except ValidationError as exc:
        got = str(exc)
    if isinstance(want, str) or isinstance(got, str):
        assert got == want
        return
    assert got == want
    assert got.model_dump_json() == want.model_dump_json()
    assert got.model_fields_set == want.model_fields_set
    assert list(got.__dict__) == list(want.__dict__)
    # (JSON: a NaN field is equal only to its very own object)
    assert pickle.loads(pickle.dumps(got)).model_dump_json() == want.model_dump_json()


def test_checked_brand_minute_equals_the_validated_one() -> None:
    agg = MinuteAggregator(allowed_lateness_s=60)
    rng = random.Random(5)
    for i in range(60):
        agg.add(_scored(i, rng))
    minutes = agg.advance(T0 + timedelta(hours=1))
    assert minutes
    for m in minutes:  # what the aggregator builds equals validating its fields
        kw = {k: v for k, v in m.__dict__.items() if k != "schema_version"}
        assert BrandMinute(**kw) == m
        assert BrandMinute(**kw).to_json() == m.to_json()
    base = {k: v for k, v in minutes[0].__dict__.items() if k != "schema_version"}
    base["burst_terms"] = ["recall"]
    _same_as(BrandMinute, BrandMinute.checked, base)
    terms = ["recall"]
    got = BrandMinute.checked(base | {"burst_terms": terms})
    terms.append("x")
    assert got.burst_terms == ["recall"]
    odd: list[tuple[str, object]] = [
        ("posts", -1), ("posts", 2.0), ("posts", True), ("reach", "3"), ("brand", "b" * 257),
        ("minute", T0.astimezone(timezone(timedelta(hours=2)))),
        ("minute", T0.replace(tzinfo=None)),
        ("sentiment_sum", 1), ("response_median_s", -1.0), ("response_median_s", float("nan")),
        ("response_median_s", 3), ("burst_terms", ["t" * 257]), ("burst_terms", ["x"] * 101),
        ("burst_terms", ("a",)), ("silent_min", -5), ("version", 0),
    ]  # fmt: skip
    for field, value in odd:
        _same_as(BrandMinute, BrandMinute.checked, base | {field: value})
    _same_as(BrandMinute, BrandMinute.checked, {k: v for k, v in base.items() if k != "posts"})
    _same_as(BrandMinute, BrandMinute.checked, base | {"extra": 1})


def test_checked_signal_equals_the_validated_one() -> None:
    def checked(kw: dict[str, Any]) -> SignalExplanation:
        return SignalExplanation.checked(**kw)

    base = {"signal": "volume", "observed": 12.0, "expected": 3.5, "score": 0.7, "detail": ""}
    _same_as(SignalExplanation, checked, base)
    odd: list[tuple[str, object]] = [
        ("observed", float("inf")), ("observed", float("nan")), ("observed", 3),
        ("expected", -2.0), ("score", 1.0), ("score", 0.0), ("score", 1.5), ("score", -0.1),
        ("score", 1), ("score", float("nan")), ("signal", "s" * 257), ("detail", None),
        ("detail", "new terms: recall"),
    ]  # fmt: skip
    for field, value in odd:
        _same_as(SignalExplanation, checked, base | {field: value})
