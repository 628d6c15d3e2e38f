"""ValueDetector (NAB-style continuous series): behaviour on small generated series."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta

import numpy as np

from detectors.anomaly import ValueDetector as ReExported
from detectors.value import ValueDetector

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _run(det: ValueDetector, xs: np.ndarray, start: int = 0) -> list[float]:
    return [
        det.process_one({"value": float(x), "t": T0 + timedelta(minutes=5 * (start + i))})
        for i, x in enumerate(xs)
    ]


def test_reexported_from_anomaly() -> None:
    assert ReExported is ValueDetector


def test_spike_beats_every_normal_point() -> None:
    rng = np.random.default_rng(5)
    xs = rng.normal(50.0, 2.0, 1500)
    xs[1200] = 75.0
    s = _run(ValueDetector(), xs)
    assert s[1200] > 0.8 > max(s[300:1200])
    # New extremes of pure noise are lifted to >= 0.5 (range check), but only a few.
    assert sum(v > 0.5 for v in s[300:1200]) <= 5


def test_level_shift_detected_once_not_repeatedly() -> None:
    # A lasting jump: the first points after it fire, the new level then stops firing.
    rng = np.random.default_rng(6)
    xs = np.concatenate([rng.normal(10.0, 0.5, 1200), rng.normal(16.0, 0.5, 800)])
    s = _run(ValueDetector(), xs)
    assert max(s[1200:1210]) > 0.85 > max(s[300:1200])
    assert sum(v > 0.5 for v in s[1300:]) < 20


def test_drift_out_of_usual_range_is_caught() -> None:
    # Slow ramp to a level never seen: the slow level Gaussian catches what the fast
    # forecast adapts to.
    rng = np.random.default_rng(7)
    xs = rng.normal(20.0, 1.0, 2000)
    xs[1500:1600] += np.linspace(0.0, 15.0, 100)
    xs[1600:] += 15.0
    s = _run(ValueDetector(), xs)
    assert max(s[1500:1700]) > 0.8 > 0.7 > max(s[400:1500])


def test_one_glitch_does_not_hide_the_next_shift() -> None:
    # The residual scale is a mean absolute residual: a single 100-sd glitch barely widens
    # it, so a 6-sd step 150 points later (inside the range the glitch stretched, so the
    # range check cannot help) still scores high. A squared-residual variance scored it 0.14.
    rng = np.random.default_rng(13)
    xs = rng.normal(10.0, 1.0, 1400)
    xs[1000] += 100.0
    xs[1150:] += 6.0
    s = _run(ValueDetector(), xs)
    assert max(s[1150:1160]) > 0.45 > 0.3 > max(s[1001:1150])


def _office_hours(holiday: bool) -> tuple[list[datetime], list[float]]:
    # 10-minute series, 6 weeks from a Monday: +8 on weekdays 08-18 h, noise sd 1; the
    # Monday of week 6 is a holiday (no office peak).
    rng = np.random.default_rng(14)
    t0 = datetime(2026, 1, 5, tzinfo=UTC)
    ts = [t0 + timedelta(minutes=10 * i) for i in range(144 * 7 * 6)]
    xs = [10.0 + (8.0 if t.weekday() < 5 and 8 <= t.hour < 18 else 0.0) + rng.normal() for t in ts]
    if holiday:
        for i in range(144 * 35 + 48, 144 * 35 + 108):
            xs[i] -= 8.0
    return ts, xs


def test_weekly_rhythm_makes_a_holiday_stand_out() -> None:
    # Hour-of-day + day-of-week offsets are additive: they cannot say "no peak on weekends",
    # so every weekday morning is a little surprising and a holiday looks ordinary. The
    # hour-of-week correction learns the weekday profile.
    ts, xs = _office_hours(holiday=True)
    start = 144 * 35 + 48  # the holiday's 08:00

    def run(det: ValueDetector) -> list[float]:
        return [det.process_one({"value": x, "t": t}) for x, t in zip(xs, ts, strict=True)]

    s = run(ValueDetector())
    normal = sorted(s[144 * 21 : 144 * 35])
    assert s[start] > 0.45 > 0.35 > normal[int(0.995 * len(normal))]
    assert run(ValueDetector(week_alpha=0.0))[start] < 0.35  # without it: missed


def test_no_weekly_correction_without_weekly_rhythm() -> None:
    # Pure noise: the per-slot means are noise, and the shrinkage keeps every one of them
    # out of the forecast.
    rng = np.random.default_rng(15)
    det = ValueDetector()
    t0 = datetime(2026, 1, 5, tzinfo=UTC)
    for i in range(144 * 7 * 4):
        det.process_one({"value": 10.0 + rng.normal(), "t": t0 + timedelta(minutes=10 * i)})
    t1 = t0 + timedelta(days=28)
    assert max(abs(w) for w in det.week) > 0.05  # slot means did move...
    assert all(
        det.expected(t1 + timedelta(hours=h)) == det.base.expected(t1 + timedelta(hours=h))
        for h in range(168)
    )  # ...but none is used


def test_flat_series_with_float_noise_stays_quiet() -> None:
    # Every value is a "new extreme" of a 1e-9 range: the raw-surprise gate keeps it quiet.
    xs = 5.0 + np.random.default_rng(8).normal(0.0, 1e-9, 1500)
    assert max(_run(ValueDetector(), xs)) < 0.3


def test_scores_in_unit_interval_and_cold_start_silent() -> None:
    rng = np.random.default_rng(9)
    det = ValueDetector()
    s = _run(det, rng.lognormal(0.0, 1.5, 1000))
    assert all(0.0 <= v <= 1.0 for v in s)
    assert max(s[: det.base.min_points]) == 0.0


def test_pickle_roundtrip_and_determinism() -> None:
    rng = np.random.default_rng(10)
    xs = rng.normal(3.0, 1.0, 600)
    a = ValueDetector()
    _run(a, xs[:300])
    b = pickle.loads(pickle.dumps(a))
    assert _run(a, xs[300:], 300) == _run(b, xs[300:], 300)
    assert _run(ValueDetector(), xs) == _run(ValueDetector(), xs)
