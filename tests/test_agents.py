"""Stage logic used by the agents (streams.processing, streams.metrics), without Kafka."""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from prometheus_client import REGISTRY

from schemas.models import Author, BrandMinute, Post, ScoredPost, Severity, SignalExplanation
from streams.metrics import BrandSeries
from streams.processing import (
    AlertContext,
    alert_id,
    build_alert,
    load_brand_labels,
    load_brand_words,
    route_key,
    validate_batch,
)

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def post(i: int, text: str, author: str = "a", followers: int = 0, sec: int = 0) -> Post:
    return Post(
        platform="simulated",
        post_id=str(i),
        author=Author(id=author, followers=followers),
        text=text,
        created_at=T0 + timedelta(seconds=sec),
    )


def scored(p: Post, brand: str = "telvana", score: float = -0.8, cluster: str = "c") -> ScoredPost:
    return ScoredPost(
        post=p,
        brand=brand,
        sentiment_label="negative" if score < 0 else "positive",
        sentiment_score=score,
        cluster_id=cluster,
        is_duplicate=False,
        scored_at=T0,
    )


def test_validate_batch_splits_valid_and_dead() -> None:
    good = post(1, "telvana is down").to_json()
    posts, dead = validate_batch([good, b"{nope", b"\xff"], "posts.raw", T0)
    assert [p.key for p in posts] == ["simulated:1"]
    assert sorted(d.reason for d in dead) == ["bad_json", "bad_utf8"]
    assert all(d.source == "posts.raw" for d in dead)


def test_route_key_groups_exact_duplicates() -> None:
    a = route_key(post(1, "Telvana is DOWN again!!"))
    b = route_key(post(2, "telvana is down again"))
    c = route_key(post(3, "orbitel is fine"))
    assert a == b != c


def test_alert_context_bounded_and_explains() -> None:
    ctx = AlertContext(per_minute=20, keep_minutes=3)
    for i in range(80):  # 80 posts over 4 minutes; at most 20 kept per minute
        ctx.add(
            scored(
                post(i, f"telvana refund outage {i}", author=f"u{i % 9}", followers=i, sec=i * 3),
                cluster=f"c{i % 4}",
            )
        )
    ctx.add(scored(post(999, "pixelon launch rocks", sec=5), brand="pixelon", score=0.9))
    assert len(ctx.window("telvana", T0 + timedelta(minutes=3))) == 60  # 3 minutes kept
    assert ctx.window("telvana", T0) == []  # the oldest minute was dropped
    top_posts, terms, clusters = ctx.explain("telvana", T0 + timedelta(minutes=3))
    assert len(top_posts) == 5 and all(p.post_key.startswith("simulated:") for p in top_posts)
    assert terms[:2] == ["outage", "refund"] and "telvana" not in terms
    assert clusters and clusters[0].posts >= clusters[-1].posts and clusters[0].posts > 1
    assert {c.distinct_authors for c in clusters} <= set(range(1, 10))
    pickle.loads(pickle.dumps(ctx))  # state must be picklable


@dataclass
class Assessment:  # the documented shape of detectors.crisis assessments
    score: float
    severity: Severity
    signals: list[SignalExplanation] = field(default_factory=list)
    changed: bool = True


def test_alert_is_deterministic_and_explained() -> None:
    ctx = AlertContext()
    ctx.add(scored(post(1, "telvana outage again, no refund", followers=500)))
    minute = BrandMinute(brand="telvana", minute=T0, posts=40, negative=30)
    sig = SignalExplanation(
        signal="volume", observed=40, expected=5, score=0.97, detail="volume 40/min vs 5 expected"
    )
    a = Assessment(0.93, Severity.CRISIS, [sig])
    one = build_alert("telvana", minute, a, Severity.NONE, ctx, T0)
    two = build_alert("telvana", minute, a, Severity.NONE, ctx, T0 + timedelta(hours=1))
    assert one.alert_id == two.alert_id == alert_id("telvana", T0, Severity.CRISIS)
    assert alert_id("telvana", T0, Severity.WARNING) != one.alert_id
    assert "none -> crisis" in one.summary and "volume 40/min" in one.summary
    assert one.top_posts[0].reach == 500 and "outage" in one.top_terms


def test_brand_series_removed_on_revoke(tmp_path) -> None:
    wl = tmp_path / "w.yaml"
    wl.write_text(
        "brands:\n  - {id: zz1, group: g1, team: t1}\n  - {id: zz2, group: g2, team: t2}\n"
    )
    series = BrandSeries(load_brand_labels(wl))
    wl2 = tmp_path / "w2.yaml"
    wl2.write_text(
        "brands:\n  - {id: acme, name: Acme Corp, handles: [acmehelp], hashtags: [acmefail]}\n"
    )
    assert load_brand_words(wl2)["acme"] == {"acme", "corp", "acmehelp", "acmefail"}
    series.set(0, "zz1", volume=5, negative_share=0.5, score=0.2, severity=1)
    series.set(1, "zz2", volume=7, negative_share=0.1, score=0.1, severity=0)
    labels = {"brand": "zz1", "group": "g1", "team": "t1"}
    assert REGISTRY.get_sample_value("crisis_radar_brand_severity", labels) == 1
    assert series.revoke(0) == ["zz1"]
    assert REGISTRY.get_sample_value("crisis_radar_brand_severity", labels) is None
    assert (
        REGISTRY.get_sample_value(
            "crisis_radar_brand_volume", {"brand": "zz2", "group": "g2", "team": "t2"}
        )
        == 7
    )


def test_alert_context_keeps_minutes_until_the_scorer_releases_them() -> None:
    """Eviction follows the scorer, not arrival: a replay far ahead keeps the deciding minute."""
    from streams.processing import AlertContext

    t0 = datetime(2026, 11, 23, tzinfo=UTC)
    ctx = AlertContext(window_min=5)
    ctx._posts["acme"] = {t0 + timedelta(minutes=i): [] for i in range(600)}  # 10 h ahead
    assert len(ctx._posts["acme"]) == 600  # nothing dropped by arrival alone
    ctx.release("acme", t0 + timedelta(minutes=10))
    assert min(ctx._posts["acme"]) == t0 + timedelta(minutes=6)  # window of minute 10 intact
