"""Per-signal detectors: tails, rhythm, level shifts, cold start, pickling."""

from __future__ import annotations

import math
import pickle
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from detectors.anomaly import (
    MeanDetector,
    SeasonalDetector,
    ShareDetector,
    ValueDetector,
    count_sf,
)

T0 = datetime(2026, 11, 16, tzinfo=UTC)


def poisson_sf(k: int, mu: float) -> float:
    return 1.0 - sum(math.exp(-mu) * mu**i / math.factorial(i) for i in range(k))


@pytest.mark.parametrize(("k", "mu"), [(1, 0.3), (3, 0.5), (10, 4.0), (30, 20.0)])
def test_count_sf_matches_poisson(k: int, mu: float) -> None:
    assert count_sf(k, mu, mu) == pytest.approx(poisson_sf(k, mu), rel=1e-6, abs=1e-12)


def test_overdispersion_widens_the_tail() -> None:
    assert count_sf(15, 5.0, 20.0) > 10 * count_sf(15, 5.0, 5.0)


def rhythm(i: int) -> float:
    h = (i / 60.0) % 24
    return 8.0 * (0.1 + 0.9 * math.exp(-((h - 14) ** 2) / 12))


def test_rhythmic_counts_rarely_flag_and_nights_use_count_tails() -> None:
    rng = np.random.default_rng(0)
    det = SeasonalDetector(kind="poisson", direction="up")
    scores = []
    for i in range(5 * 1440):
        t = T0 + timedelta(minutes=i)
        x = float(rng.poisson(rhythm(i)))
        s = det.process_one({"value": x, "t": t})
        if i > 2 * 1440:
            scores.append(s)
    assert np.mean(np.array(scores) > 0.9999) < 0.002
    night = T0 + timedelta(days=5, hours=3)
    day = T0 + timedelta(days=5, hours=14)
    assert det.expected(night) < 0.4 * det.expected(day)  # learned the daily profile
    # 6 posts at night is anomalous, 6 at the afternoon peak is not
    assert (
        det.score_one({"value": 6.0, "t": night})
        > 0.999
        > 0.5
        > det.score_one({"value": 6.0, "t": day})
    )


def test_level_shift_is_noticed_then_accepted() -> None:
    det = SeasonalDetector(kind="gaussian", direction="both", rebaseline_after=120)
    rng = np.random.default_rng(1)
    for i in range(2000):
        det.learn_one({"value": float(rng.normal(10, 1)), "t": T0 + timedelta(minutes=i)})
    early, late = [], []
    for i in range(2000, 2600):
        t = T0 + timedelta(minutes=i)
        s = det.process_one({"value": float(rng.normal(20, 1)), "t": t})
        (early if i < 2030 else late).append(s)
    assert min(early) > 0.999  # a crisis-length shift is not learned away in minutes
    assert np.mean(np.array(late[-200:]) > 0.99) < 0.05  # hours later it is the new normal


def test_cold_start_scores_low() -> None:
    det = SeasonalDetector(kind="poisson", direction="up")
    first = [
        det.process_one({"value": x, "t": T0 + timedelta(minutes=i)})
        for i, x in enumerate([3, 5, 2, 4] * 3)
    ]
    assert max(first[:10]) == 0.0
    # wide uncertainty early
    assert det.score_one({"value": 9.0, "t": T0 + timedelta(minutes=13)}) < 0.99


def test_share_detector_uses_counts() -> None:
    d = ShareDetector(prior=0.2)
    for _ in range(200):
        d.learn_one({"value": 0.2, "n": 10, "t": T0})
    assert d.score_one({"value": 1.0, "n": 2, "t": T0}) < 0.99  # 2 of 2 negative: weak evidence
    assert d.score_one({"value": 0.6, "n": 200, "t": T0}) > 0.9999


def test_mean_detector_direction() -> None:
    d = MeanDetector(prior=0.1)
    assert d.score_one({"value": -0.5, "n": 50, "t": T0}) > 0.999
    assert d.score_one({"value": 0.6, "n": 50, "t": T0}) < 0.01


def test_value_detector_flags_spike_in_continuous_series() -> None:
    rng = np.random.default_rng(2)
    det = ValueDetector()
    xs = rng.normal(50.0, 2.0, 1500)
    xs[1200] = 80.0
    s = [
        det.process_one({"value": float(x), "t": T0 + timedelta(minutes=5 * i)})
        for i, x in enumerate(xs)
    ]
    assert s[1200] > max(s[300:1200])


def test_pickle_roundtrip_continues_identically() -> None:
    rng = np.random.default_rng(3)
    xs = rng.poisson(5, 400).astype(float)
    for cls in (SeasonalDetector, ValueDetector):
        a = cls()
        for i, x in enumerate(xs[:200]):
            a.learn_one({"value": float(x), "t": T0 + timedelta(minutes=i)})
        b = pickle.loads(pickle.dumps(a))
        ra = [
            a.process_one({"value": float(x), "t": T0 + timedelta(minutes=200 + i)})
            for i, x in enumerate(xs[200:])
        ]
        rb = [
            b.process_one({"value": float(x), "t": T0 + timedelta(minutes=200 + i)})
            for i, x in enumerate(xs[200:])
        ]
        assert ra == rb
