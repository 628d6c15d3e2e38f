"""floor_minute's integer path equals the plain definition, for any aware time and offset."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from detectors import aggregate
from detectors.aggregate import floor_minute


def _plain(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(second=0, microsecond=0)


offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))


@settings(max_examples=500, deadline=None)
@given(
    st.datetimes(
        min_value=datetime(1900, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.just(UTC) | offsets,
    )
)
def test_floor_minute_equals_astimezone_replace(t: datetime) -> None:
    got = floor_minute(t)
    assert got == _plain(t) and got.tzinfo is UTC
    assert (got.second, got.microsecond, got.fold) == (0, 0, 0)


def test_floor_minute_edges_and_naive_input() -> None:
    last = datetime(2026, 11, 23, 10, 0, 59, 999999, tzinfo=UTC)
    assert floor_minute(last) == datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    assert floor_minute(last + timedelta(microseconds=1)) == datetime(
        2026, 11, 23, 10, 1, tzinfo=UTC
    )
    naive = datetime(2026, 11, 23, 10, 0, 30)
    assert floor_minute(naive) == _plain(naive)  # local time, as before


def test_minute_cache_is_shared_and_bounded() -> None:
    t0 = datetime(2026, 11, 23, tzinfo=UTC)
    a = floor_minute(t0 + timedelta(seconds=5))
    assert floor_minute(t0 + timedelta(seconds=50)) is a  # one object per minute: hash cached
    for m in range(20_000):
        floor_minute(t0 + timedelta(minutes=m))
    assert len(aggregate._MINUTES) <= 8192


def test_to_json_is_the_model_dump_json_bytes() -> None:
    from schemas.models import Author, BrandMinute, Post, ScoredPost

    t0 = datetime(2026, 11, 23, 10, 0, 7, 123456, tzinfo=UTC)
    post = Post(
        platform="x",
        post_id="1",
        author=Author(id="a", followers=3),
        text='Crème "brûlée" 😀 \\ recall',
        created_at=t0,
        hashtags=["acme"],
    )
    sp = ScoredPost(
        post=post,
        brand="acme",
        sentiment_label="negative",
        sentiment_score=-0.25,
        cluster_id="c",
        is_duplicate=False,
        scored_at=t0,
        terms=["recall"],
    )
    bm = BrandMinute(
        brand="acme", minute=floor_minute(t0), posts=2, sentiment_sum=-0.5, burst_terms=["recall"]
    )
    for rec in (post, sp, bm):
        assert rec.to_json() == rec.model_dump_json().encode()
        assert type(rec).model_validate_json(rec.to_json()) == rec
