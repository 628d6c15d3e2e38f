"""New-narrative signal: content terms, the decaying term table, burst terms per minute."""

from __future__ import annotations

import pickle
import random
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from detectors.aggregate import MinuteAggregator
from detectors.terms import (
    MAX_TERMS,
    NarrativeTracker,
    TermTable,
    brand_words,
    content_terms,
    poisson_sf,
)
from schemas.models import Author, BrandMinute, Post, ScoredPost, ScoredPostCounts, Severity

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
USUAL = ["order", "late", "delivery", "support", "refund", "app", "price", "store", "shipping"]


def test_content_terms_drop_noise_and_are_bounded() -> None:
    t = content_terms(
        "RT @acme_help: @Acme recall!! 12 salmonella cases https://t.co/x #AcmeFail",
        frozenset({"acme"}),
    )
    assert t == ["salmonella", "recall", "cases"]  # no handle, url, number, brand, stopword
    long = " ".join(f"word{i}" for i in range(12))  # letters+digits: dropped
    assert content_terms(long) == []
    many = content_terms("alpha bravo charlie delta echoes foxtrot golfer hotel india juliet kilo")
    assert len(many) == MAX_TERMS and many[0] == "charlie"  # longest first, ties by position


def test_brand_words_cover_every_watched_brand() -> None:
    class B:
        id, name, keywords, hashtags, handles = "acme", "Acme Corp", ("acme",), ("#AcmeFail",), ()

    assert brand_words([B()]) >= {"acme", "corp", "acmefail"}


@given(st.integers(0, 12), st.floats(0.0, 5.0))
def test_poisson_sf_is_a_tail(k: int, lam: float) -> None:
    p = poisson_sf(k, lam)
    assert 0.0 <= p <= 1.0
    assert poisson_sf(k + 1, lam) <= p + 1e-12


def test_term_table_decays_is_bounded_and_pickles() -> None:
    tt = TermTable(half_life_min=60.0, max_terms=100)
    tt.learn({"recall": 4}, minute=1000)
    assert abs(tt.count("recall", 1060) - 2.0) < 1e-9  # one half-life later
    for m in range(1000, 1300):
        tt.learn({f"t{m}": 1, "order": 1}, minute=m)
        assert len(tt.values) <= 100
    assert tt.count("order", 1299) > 50  # a steady term survives eviction
    tt.learn({"late": 1}, minute=1000 + 60 * 50)  # long gap: rebased, no overflow
    clone = pickle.loads(pickle.dumps(tt))
    assert clone.count("late", 4000) == tt.count("late", 4000) == 1.0


def _quiet(nt: NarrativeTracker, minutes: range, rng: random.Random) -> list[tuple[int, int]]:
    out = []
    for m in minutes:
        ta: dict[str, set[str]] = {}
        posts = []
        for _ in range(rng.randint(2, 8)):
            words = rng.sample(USUAL, 3)
            a = f"r{rng.randrange(300)}"
            for w in words:
                ta.setdefault(w, set()).add(a)
            posts.append((words, rng.random() < 0.2))
        bp, bn, _ = nt.close(m, ta, {}, posts, len(posts))
        out.append((bp, bn))
    return out


def test_usual_vocabulary_never_bursts_and_a_new_narrative_does() -> None:
    rng = random.Random(1)
    nt = NarrativeTracker()
    quiet = _quiet(nt, range(0, 1440), rng)
    assert sum(bp for bp, _ in quiet[120:]) == 0  # after two hours the usual words are known
    # minute 1440: one author says "salmonella"; minute 1442 another one: within the window
    assert nt.close(
        1440, {"salmonella": {"u1"}}, {"salmonella": {"u1"}}, [(["salmonella"], True)], 1
    ) == (0, 0, [])
    got = nt.close(
        1442,
        {"salmonella": {"u2"}, "order": {"u3"}},
        {"salmonella": {"u2"}},
        [(["salmonella"], True), (["order"], False)],
        2,
    )
    assert got == (1, 1, ["salmonella"])


def test_one_author_repeating_or_a_positive_launch_is_no_negative_narrative() -> None:
    nt = NarrativeTracker()
    _quiet(nt, range(0, 600), random.Random(2))
    assert nt.close(
        600, {"giveaway": {"bot"}}, {"giveaway": {"bot"}}, [(["giveaway"], True)] * 5, 1
    ) == (0, 0, [])
    fans = {f"f{i}" for i in range(12)}
    bp, bn, top = nt.close(
        601, {"zphone": fans}, {"zphone": {"f0"}}, [(["zphone"], i == 0) for i in range(12)], 12
    )
    assert (bp, bn, top) == (12, 0, ["zphone"])  # a burst, but carried by positive posts


def test_narrative_becomes_usual_after_hours() -> None:
    nt = NarrativeTracker(half_life_min=120.0)
    _quiet(nt, range(0, 600), random.Random(3))
    burst = []
    for m in range(600, 1200):
        authors = {f"u{m}a", f"u{m}b"}
        burst.append(
            nt.close(
                m,
                {"outage": authors},
                {"outage": authors},
                [(["outage"], True), (["outage"], True)],
                2,
            )[1]
        )
    assert burst[0] == 2 and burst[-1] == 0  # two a minute for 10 hours is the new normal


def _sp(i: int, minute: int, text_terms: list[str], author: str, neg: bool) -> ScoredPost:
    post = Post(
        platform="simulated",
        post_id=str(i),
        author=Author(id=author),
        text="x",
        created_at=T0 + timedelta(minutes=minute, seconds=i % 50),
    )
    return ScoredPost(
        post=post,
        brand="acme",
        sentiment_label="negative" if neg else "neutral",
        sentiment_score=-0.5 if neg else 0.0,
        cluster_id=f"c{i}",
        is_duplicate=False,
        scored_at=T0,
        terms=text_terms,
    )


def test_aggregator_emits_burst_fields_and_the_counts_view_gives_the_same() -> None:
    rng = random.Random(4)
    posts = []
    for m in range(300):
        for _ in range(rng.randint(3, 6)):
            posts.append(
                _sp(
                    len(posts),
                    m,
                    rng.sample(USUAL, 3),
                    f"r{rng.randrange(200)}",
                    rng.random() < 0.2,
                )
            )
    for j in range(4):  # minute 300: four authors, a new narrative
        posts.append(_sp(len(posts), 300, ["recall", "listeria", "order"], f"n{j}", True))
    full, view = MinuteAggregator(allowed_lateness_s=0), MinuteAggregator(allowed_lateness_s=0)
    for p in posts:
        full.add(p)
        view.add(ScoredPostCounts.model_validate_json(p.model_dump_json()))  # type: ignore[arg-type]
    end = T0 + timedelta(minutes=302)
    a, b = full.advance(end), view.advance(end)
    assert a == b
    last = next(m for m in a if m.minute == T0 + timedelta(minutes=300))
    assert (last.burst_term_posts, last.burst_term_negative) == (4, 4)
    assert set(last.burst_terms) == {"recall", "listeria"}
    assert sum(m.burst_term_posts for m in a[60:-2]) == 0
    assert 0 < full.narrative_bytes("acme") < 64_000
    assert (
        pickle.loads(pickle.dumps(full)).narratives["acme"].table.values
        == full.narratives["acme"].table.values
    )


def test_old_brand_minute_json_still_parses() -> None:
    old = '{"brand": "acme", "minute": "2026-11-23T10:00:00Z", "posts": 3, "version": 1}'
    m = BrandMinute.model_validate_json(old)
    assert (m.burst_term_posts, m.burst_term_negative, m.burst_terms) == (0, 0, [])


def test_enricher_puts_terms_on_scored_posts() -> None:
    """The worker's Enricher (also the offline core's: backtest, evaluate scenarios) puts terms
    on ScoredPost; a post naming two watched brands (a comparison) carries none."""
    from crisis_radar.settings import get_settings
    from detectors.brands import Watchlist
    from streams.processing import Enricher

    path = get_settings().watchlist_path
    ids = [b.id for b in Watchlist.from_yaml(path).brands]
    a, b = ids[0], ids[1]
    posts = [
        Post(
            platform="simulated",
            post_id=str(i),
            author=Author(id=f"u{i}"),
            text=text,
            created_at=T0,
        )
        for i, text in enumerate(
            [
                f"{a} recall: salmonella found in my snack bar https://t.co/x",
                f"glad I'm with {a} and not {b} right now",
            ]
        )
    ]
    worker = Enricher(path, dedup_horizon_s=3600).process(posts, T0)
    first = [s for s in worker if s.post.post_id == "0"]
    assert first and {"salmonella", "recall"} <= set(first[0].terms)
    assert all(s.terms == [] for s in worker if s.post.post_id == "1")


def test_alert_lists_burst_terms_first() -> None:
    from streams.processing import AlertContext, build_alert

    ctx = AlertContext()
    ctx.add(
        _sp(1, 0, [], "u1", True).model_copy(
            update={
                "post": Post(
                    platform="simulated",
                    post_id="1",
                    author=Author(id="u1"),
                    text="order late again",
                    created_at=T0,
                )
            }
        )
    )
    minute = BrandMinute(
        brand="acme",
        minute=T0,
        posts=9,
        negative=6,
        burst_term_negative=4,
        burst_terms=["salmonella", "recall"],
    )

    class A:
        severity, score, signals = 2, 0.6, []

    alert = build_alert("acme", minute, A(), Severity.NONE, ctx, T0)
    assert alert.top_terms[:2] == ["salmonella", "recall"] and "order" in alert.top_terms
