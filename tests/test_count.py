"""CountDetector: counts per interval, seasonality none / daily / weekly chosen online."""

from __future__ import annotations

import math
import pickle
import random
from datetime import UTC, datetime, timedelta

import pytest

from detectors.count import CountDetector, count_logpmf
from detectors.crisis import BrandState, CrisisScorer
from detectors.value import ValueDetector
from schemas.models import BrandMinute

T0 = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday


def _poisson(rng: random.Random, lam: float) -> int:
    k, p, u = 0, math.exp(-lam), rng.random()
    c = p
    while u > c and k < 1000:
        k += 1
        p *= lam / k
        c += p
    return k


def _feed(det: CountDetector, rate, days: int, step_min: int = 5, seed: int = 1) -> datetime:
    rng = random.Random(seed)
    t = T0
    for i in range(days * 1440 // step_min):
        t = T0 + timedelta(minutes=step_min * i)
        det.learn_one({"value": float(_poisson(rng, rate(t))), "t": t})
    return t + timedelta(minutes=step_min)


def _daily(t: datetime) -> float:
    return 2.0 + 20.0 * math.sin(math.pi * (t.hour + t.minute / 60) / 24) ** 2


def _weekly(t: datetime) -> float:
    return _daily(t) * (0.25 if t.weekday() >= 5 else 1.0)


def test_logpmf_sums_to_one() -> None:
    for mu, disp in ((0.3, 1.0), (4.0, 1.0), (4.0, 3.0), (30.0, 1.5)):
        total = sum(math.exp(count_logpmf(k, mu, disp)) for k in range(400))
        assert total == pytest.approx(1.0, abs=1e-6)
        mean = sum(k * math.exp(count_logpmf(k, mu, disp)) for k in range(400))
        assert mean == pytest.approx(mu, rel=1e-4)


@pytest.mark.parametrize(
    ("rate", "days", "model"),
    [
        (lambda t: 6.0, 10, "none"),
        (_daily, 10, "daily"),
        (_weekly, 28, "weekly"),
    ],
)
def test_the_shape_chooses_the_seasonality(rate, days: int, model: str) -> None:
    det = CountDetector()
    _feed(det, rate, days)
    assert det.model == model
    assert det.seasonality == "auto"  # the setting did not change, only the choice


def test_the_choice_does_not_depend_on_the_interval() -> None:
    # Slots learn per cycle (day), not per point: 1-minute and 15-minute data agree.
    for step in (1, 15):
        det = CountDetector()
        _feed(det, lambda t, s=step: _daily(t) * s / 5, 6, step_min=step)
        assert det.model == "daily", step


def test_night_spike_is_anomalous_day_level_is_not() -> None:
    det = CountDetector()
    t = _feed(det, _daily, 7)
    night = t.replace(hour=1, minute=0) + timedelta(days=1)
    noon = night.replace(hour=12)
    assert det.expected(night) < 4.0 < 15.0 < det.expected(noon)
    assert det.score_one({"value": 12.0, "t": night}) > 0.999
    assert det.score_one({"value": 12.0, "t": noon}) < 0.5
    # the old model's trap: a fixed-seasonality "none" detector misses the night spike
    flat = CountDetector(seasonality="none")
    _feed(flat, _daily, 7)
    assert flat.score_one({"value": 12.0, "t": night}) < det.score_one({"value": 12.0, "t": night})


def test_a_long_crisis_stays_anomalous_and_does_not_change_the_choice() -> None:
    det = CountDetector()
    t = _feed(det, _daily, 7)
    rng = random.Random(9)
    scores = []
    for i in range(150):  # 2.5 hours at 4x the usual volume (below the re-baseline length)
        ti = t + timedelta(hours=10, minutes=5 * i)  # from 10 am
        x = {"value": float(_poisson(rng, 4.0 * _daily(ti))), "t": ti}
        scores.append(det.score_one(x))
        det.learn_one(x)
    assert min(scores[:5]) > 0.99
    assert sum(s > 0.99 for s in scores) > 0.75 * len(scores)  # 118 of 150
    assert det.model == "daily"


def test_deterministic_and_pickles_mid_stream() -> None:
    a, b = CountDetector(), CountDetector()
    t = _feed(a, _weekly, 9)
    _feed(b, _weekly, 9)
    c = pickle.loads(pickle.dumps(a))
    x = {"value": 30.0, "t": t}
    assert a.score_one(x) == b.score_one(x) == c.score_one(x)
    assert a.model == c.model and a.expected(t) == c.expected(t)


def test_crisis_scorer_count_path_is_selectable() -> None:
    st = BrandState(volume_model="count")
    assert isinstance(st.volume, CountDetector) and isinstance(st.authors, CountDetector)
    assert type(BrandState().volume).__name__ == "SeasonalDetector"  # the default
    # a brand state pickled with the count path keeps it (__setstate__ starts from defaults)
    st2 = pickle.loads(pickle.dumps(st))
    assert isinstance(st2.volume, CountDetector)
    cs = CrisisScorer(volume_model="count")
    t = T0
    for i in range(3 * 1440):
        t = T0 + timedelta(minutes=i)
        n = 2 + (i // 7) % 5
        cs.process_one(
            BrandMinute(
                brand="acme",
                minute=t,
                posts=n,
                unique_posts=n,
                unique_authors=n,
                negative=i % 2,
                neutral=n - i % 2,
                sentiment_sum=-0.5 * (i % 2),
            )
        )
    vol = cs.brands["acme"].volume
    assert isinstance(vol, CountDetector) and vol.n == 3 * 1440


def test_value_detector_count_path_only_for_counts() -> None:
    det = ValueDetector(counts=True)
    rng = random.Random(3)
    for i in range(500):
        t = T0 + timedelta(minutes=5 * i)
        det.learn_one({"value": float(_poisson(rng, _daily(t))), "t": t})
    assert det.count is not None and det.count.n == 500
    det.learn_one({"value": 2.5, "t": T0 + timedelta(minutes=5 * 500)})
    assert det.count is None  # a non-integer: not a count series, the path is dropped
