"""MinuteAggregator: event-time minutes, lateness, amendments, zero minutes, determinism."""

from __future__ import annotations

import pickle
import random
from datetime import UTC, datetime, timedelta

from detectors.aggregate import MinuteAggregator
from schemas.models import Author, BrandMinute, Post, ScoredPost

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def sp(
    i: int,
    sec: float,
    brand: str = "acme",
    author: str | None = None,
    label: str = "neutral",
    dup: bool = False,
    cluster: str | None = None,
    followers: int = 10,
    campaign: bool = False,
) -> ScoredPost:
    post = Post(
        platform="simulated",
        post_id=str(i),
        author=Author(id=author or f"a{i}", followers=followers),
        text="x",
        created_at=T0 + timedelta(seconds=sec),
    )
    score = {"negative": -0.5, "positive": 0.5}.get(label, 0.0)
    return ScoredPost(
        post=post,
        brand=brand,
        sentiment_label=label,  # type: ignore[arg-type]
        sentiment_score=score,
        cluster_id=cluster or f"c{i}",
        is_duplicate=dup,
        campaign=campaign,
        scored_at=T0,
    )


def test_counts_of_one_minute() -> None:
    agg = MinuteAggregator(allowed_lateness_s=0)
    posts = [
        sp(0, 1, label="negative", followers=100),
        sp(1, 2, author="a0", label="positive"),
        sp(2, 3, dup=True, cluster="c0", campaign=True),
        sp(3, 59.9, brand="other"),
    ]
    for p in posts:
        assert agg.add(p) == "open"
    out = agg.advance(T0 + timedelta(minutes=1))
    assert [(m.brand, m.minute) for m in out] == [("acme", T0), ("other", T0)]
    m = out[0]
    assert (m.posts, m.unique_posts, m.unique_authors, m.duplicates) == (3, 2, 2, 1)
    assert (m.negative, m.positive, m.neutral, m.reach) == (1, 1, 1, 120)
    assert (m.campaign_posts, m.new_clusters, m.version, m.late_posts) == (1, 2, 1, 0)
    assert m.sentiment_sum == 0.0


def test_minute_closes_only_after_allowed_lateness() -> None:
    agg = MinuteAggregator(allowed_lateness_s=120)
    agg.add(sp(0, 10))
    assert agg.advance(T0 + timedelta(seconds=179)) == []
    assert len(agg.advance(T0 + timedelta(seconds=180))) == 1


def test_late_post_amends_and_too_late_is_counted() -> None:
    agg = MinuteAggregator(allowed_lateness_s=60, max_lateness_s=600)
    agg.add(sp(0, 5))
    first = agg.advance(T0 + timedelta(minutes=3))
    assert [m.version for m in first if m.minute == T0] == [1]
    assert agg.add(sp(1, 20)) == "amended"
    again = agg.advance(T0 + timedelta(minutes=3))
    assert [(m.minute, m.posts, m.version, m.late_posts) for m in again] == [(T0, 2, 2, 1)]
    agg.advance(T0 + timedelta(minutes=30))
    assert agg.add(sp(2, 30)) == "too_late"
    assert agg.too_late == 1


def test_zero_minutes_are_emitted_and_bounded() -> None:
    agg = MinuteAggregator(allowed_lateness_s=0, max_fill=30)
    agg.add(sp(0, 5))
    agg.advance(T0 + timedelta(minutes=1))
    out = agg.advance(T0 + timedelta(minutes=11))
    assert [m.posts for m in out] == [0] * 10
    assert [m.minute for m in out] == [T0 + timedelta(minutes=k) for k in range(1, 11)]
    # after max_fill idle minutes the brand is dropped: no unbounded zero stream
    out = agg.advance(T0 + timedelta(hours=5))
    assert len(out) <= 30
    assert agg.advance(T0 + timedelta(hours=6)) == []


def test_novelty_counts_clusters_new_to_the_brand() -> None:
    agg = MinuteAggregator(allowed_lateness_s=0)
    agg.add(sp(0, 5, cluster="k1"))
    agg.add(sp(1, 65, cluster="k1", dup=True))
    agg.add(sp(2, 66, cluster="k2"))
    out = agg.advance(T0 + timedelta(minutes=2))
    assert [m.new_clusters for m in out] == [1, 1]


def _replay(posts: list[ScoredPost]) -> list[BrandMinute]:
    agg = MinuteAggregator(allowed_lateness_s=30)
    out: list[BrandMinute] = []
    for p in posts:
        agg.add(p)
        out += agg.advance(p.post.created_at)
    return out + agg.advance(T0 + timedelta(hours=2))


def test_deterministic_and_picklable() -> None:
    rng = random.Random(0)
    # event times jitter by up to 90 s so some posts arrive late
    posts = [
        sp(
            i,
            max(0.0, i * 2 + rng.uniform(-90, 0)),
            brand=rng.choice("abc"),
            label=rng.choice(["negative", "neutral", "positive"]),
        )
        for i in range(1500)
    ]
    a, b = _replay(posts), _replay(posts)
    assert a == b
    assert any(m.version > 1 for m in a)
    total = {}
    for m in a:
        total[(m.brand, m.minute)] = m.posts  # the latest version wins
    assert sum(total.values()) == len(posts)
    agg = MinuteAggregator()
    for p in posts[:100]:
        agg.add(p)
    clone = pickle.loads(pickle.dumps(agg))
    wm = T0 + timedelta(hours=1)
    assert clone.advance(wm) == agg.advance(wm)


def test_term_author_sets_saturate_but_minute_counts_stay_exact() -> None:
    """Per-term author sets are capped (memory at thousands of posts/s); the minute's own
    counts (posts, unique authors) are not."""
    from detectors.aggregate import MAX_TERM_AUTHORS

    agg = MinuteAggregator(allowed_lateness_s=0)
    n = MAX_TERM_AUTHORS + 500
    for i in range(n):
        p = sp(i, i * 50 / n, label="negative")
        agg.add(p.model_copy(update={"terms": ["outage", f"t{i % 3}"]}))
    acc = next(iter(agg.open.values()))
    assert len(acc.term_authors["outage"]) == MAX_TERM_AUTHORS
    assert len(acc.term_neg["outage"]) == MAX_TERM_AUTHORS
    assert len(acc.term_authors["t0"]) == (n + 2) // 3  # below the cap: exact
    (m,) = agg.advance(T0 + timedelta(minutes=2))[:1]
    assert m.posts == n and m.unique_authors == n


def _with_terms(posts: list[ScoredPost]) -> list[ScoredPost]:
    rng = random.Random(1)
    words = ["outage", "refund", "order", "late", "recall"]
    return [p.model_copy(update={"terms": rng.sample(words, rng.randrange(0, 4))}) for p in posts]


def test_closed_minutes_keep_author_hashes_and_late_authors_count_once() -> None:
    """A closed minute keeps its authors as hashes (memory for max_lateness); a late post by a
    known author amends posts but not unique_authors, a new author amends both."""
    from detectors.aggregate import AuthorHashes

    agg = MinuteAggregator(allowed_lateness_s=0)
    for i in range(10):
        agg.add(sp(i, i, author=f"a{i % 4}"))
    (m,) = agg.advance(T0 + timedelta(minutes=1))
    assert (m.posts, m.unique_authors) == (10, 4)
    assert isinstance(agg.emitted[("acme", T0)].authors, AuthorHashes)
    wm = T0 + timedelta(minutes=2)
    agg.add(sp(10, 5, author="a1"), wm)
    agg.add(sp(11, 6, author="new"), wm)
    agg.add(sp(12, 7, author="new"), wm)
    amended = [r for r in agg.advance(wm) if r.minute == T0]
    assert [(r.posts, r.unique_authors, r.version) for r in amended] == [(13, 5, 2)]


def test_snapshot_of_the_old_layout_loads_and_replays_the_same() -> None:
    """Window snapshots written before PostTerms (a list of (terms, negative) per post) load,
    and the rest of the stream gives what an undisturbed run gives."""
    rng = random.Random(2)
    posts = _with_terms(
        [
            sp(
                i,
                i * 0.5 + rng.uniform(-40, 0),
                brand=rng.choice("ab"),
                label=rng.choice(["negative", "neutral"]),
            )
            for i in range(600)
        ]
    )
    whole = _replay(posts)
    agg = MinuteAggregator(allowed_lateness_s=30)
    out: list[BrandMinute] = []
    for p in posts[:300]:
        agg.add(p)
        out += agg.advance(p.post.created_at)
    assert any(acc.post_terms for acc in agg.open.values())
    for acc in agg.open.values():  # the old layout
        acc.post_terms = list(acc.post_terms)  # type: ignore[assignment]
    agg = pickle.loads(pickle.dumps(agg))
    assert all(type(acc.post_terms).__name__ == "PostTerms" for acc in agg.open.values())
    for p in posts[300:]:
        agg.add(p)
        out += agg.advance(p.post.created_at)
    assert out + agg.advance(T0 + timedelta(hours=2)) == whole
