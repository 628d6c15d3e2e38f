"""The ``unknown`` sentiment label (a language without a model) is counted, but it is no
sentiment evidence: it neither dilutes the negative share nor pulls the mean to neutral."""

from __future__ import annotations

import pickle
from datetime import timedelta

import numpy as np

from detectors.aggregate import MinuteAggregator, _Acc
from detectors.crisis import CrisisScorer
from schemas.models import BrandMinute, Severity
from tests.test_aggregate import T0 as A0
from tests.test_aggregate import sp
from tests.test_crisis import minute, normal_stream, rate, run


def test_aggregation_counts_unknown_apart_from_neutral() -> None:
    agg = MinuteAggregator(allowed_lateness_s=0)
    for i, label in enumerate(["negative", "positive", "neutral", "unknown", "unknown"]):
        agg.add(sp(i, i, label=label))
    (m,) = agg.advance(A0 + timedelta(minutes=1))
    assert (m.posts, m.negative, m.neutral, m.positive, m.unknown) == (5, 1, 1, 1, 2)
    assert m.sentiment_posts == 3
    assert m.negative_share == 1 / 3 and m.mean_sentiment == 0.0  # not 1/5


def test_minute_of_only_unknown_posts_has_no_sentiment() -> None:
    m = BrandMinute(brand="b", minute=A0, posts=40, unknown=40)
    assert (m.sentiment_posts, m.negative_share, m.mean_sentiment) == (0, 0.0, 0.0)
    assert BrandMinute(brand="b", minute=A0).unknown == 0  # old records read 0


def test_accumulator_pickled_before_unknown_still_counts() -> None:
    acc = _Acc()
    acc.add(sp(0, 1, label="negative"), True)
    state = acc.__reduce_ex__(2)[2]
    del state[1]["unknown"]  # a snapshot of before the field
    old = pickle.loads(pickle.dumps(acc))
    old.__setstate__(state)
    old.add(sp(1, 2, label="unknown"), True)
    assert (old.unknown, old.negative, old.posts) == (1, 1, 2)


def _with_unknown(m: BrandMinute, unknown: int) -> BrandMinute:
    return m.model_copy(
        update={
            "posts": m.posts + unknown,
            "unique_posts": m.unique_posts + unknown,
            "unique_authors": m.unique_authors + unknown,
            "unknown": unknown,
            "reach": m.reach + 100 * unknown,
        }
    )


def test_burst_of_unknown_language_posts_is_no_neutral_drop() -> None:
    """Hours of heavy traffic in a language without a model: the negative-share baseline and
    the share signal stay what the judged posts say (counted as neutral, the share would fall
    from 0.2 to 0.05 and the baseline with it), so a later negative turn is caught as before."""
    rng = np.random.default_rng(7)
    start = 2 * 1440 + 10 * 60
    base = normal_stream(rng, 0, start)
    burst = normal_stream(rng, start, start + 180)
    turn = []
    for k in range(20):
        i = start + 180 + k
        n = int(rng.poisson(rate(i) * 3))
        turn.append(minute(i, n, int(n * 0.6)))

    plain, mixed = CrisisScorer(), CrisisScorer()
    run(plain, base)
    run(mixed, base)
    a_plain = [plain.process_one(m) for m in burst]
    a_mixed = [mixed.process_one(_with_unknown(m, 3 * m.posts)) for m in burst]
    for x, y in zip(a_plain, a_mixed, strict=True):
        sx = {s.signal: s for s in x.signals}
        sy = {s.signal: s for s in y.signals}
        for sig in ("negative_share", "mean_sentiment"):
            assert sy[sig].observed == sx[sig].observed
            assert sy[sig].expected == sx[sig].expected
            assert sy[sig].score == sx[sig].score
        assert y.evidence["negativity"] == x.evidence["negativity"]
    assert max(a.severity for a in a_mixed) < Severity.WARNING
    share_base = mixed.brands["acme"].neg_share.expected(T_END := turn[0].minute)
    assert abs(share_base - plain.brands["acme"].neg_share.expected(T_END)) < 1e-12
    assert share_base > 0.15  # not diluted towards 0.05

    # the negative turn (with the unknown-language traffic still flowing) is detected
    sev = run(mixed, [_with_unknown(m, 3 * int(rate(j) * 1)) for j, m in
                      enumerate(turn, start + 180)])  # fmt: skip
    assert max(sev) >= Severity.WARNING


def test_report_timeline_minutes_use_posts_with_evidence() -> None:
    from crisis_radar.report.timeline import Minute, pooled_baseline

    m = Minute(A0, posts=50, negative=4, sentiment_sum=-2.0, unknown=40)
    assert (m.negative_share, m.mean_sentiment) == (0.4, -0.2)
    assert Minute(A0, 30, 0, 0.0, 30).negative_share == 0.0
    plain = [Minute(A0 + timedelta(minutes=i), 10, 2, -1.0) for i in range(30)]
    flooded = [Minute(x.minute, 40, 2, -1.0, 30) for x in plain]
    a, b = pooled_baseline(plain), pooled_baseline(flooded)
    assert (a.posts, a.share, a.mean) == (b.posts, b.share, b.mean) == (300, 0.2, -0.1)
