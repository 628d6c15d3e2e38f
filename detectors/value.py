"""Continuous-value detector for NAB-style series (moved here from ``detectors.anomaly``).

>>> from datetime import datetime, timedelta, UTC
>>> det = ValueDetector()
>>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
>>> calm = [det.process_one(10.0 + (i % 5) * 0.1, t0 + timedelta(minutes=5 * i))
...         for i in range(800)]
>>> spike = det.process_one(30.0, t0 + timedelta(minutes=5 * 800))
>>> max(calm[400:]) < 0.5 < spike
True
"""

from __future__ import annotations

import math
from datetime import datetime

from detectors.anomaly import AnomalyDetector, SeasonalDetector, _alpha, normal_sf


class ValueDetector(AnomalyDetector):
    """Detector for continuous values (NAB-style series).

    A ``SeasonalDetector`` gives a raw surprise (|z|, capped) per point; like HTM's anomaly
    likelihood, the final score compares a short average of raw surprise with its long-run
    distribution, so a series that is always noisy does not fire all the time while a
    sustained change does. Continuous vs count tails are chosen by ``kind`` (auto by default).
    """

    __slots__ = ("base", "damp", "long_alpha", "long_mean", "long_var", "n", "peak",
                 "peak_decay", "short", "short_alpha")

    def __init__(self, short_halflife: float = 0.3, long_halflife: float = 1000.0,
                 peak_halflife: float = 100.0, damp: float = 0.5, **kwargs: object) -> None:
        kwargs.setdefault("kind", "auto")
        kwargs.setdefault("direction", "both")
        kwargs.setdefault("learn_threshold", 1.01)
        self.base = SeasonalDetector(**kwargs)  # type: ignore[arg-type]
        self.short_alpha = _alpha(short_halflife)
        self.long_alpha = _alpha(long_halflife)
        self.short = 0.0
        self.long_mean = 0.0
        self.long_var = 1.0
        self.n = 0
        self.peak = 0.0  # decaying max of recent scores: repeats of one event are damped
        self.peak_decay = 0.5 ** (1.0 / peak_halflife)
        self.damp = damp

    def expected(self, t: datetime) -> float:
        return self.base.expected(t)

    def _raw(self, x: float, t: datetime) -> float:
        s = self.base.score_one(x, t)
        p = max(1.0 - s, 1e-12)
        return min(-math.log10(p), 12.0)

    def score_one(self, x: float, t: datetime) -> float:
        s = self._score(x, t)
        return s if s > self.peak else s * self.damp

    def _score(self, x: float, t: datetime) -> float:
        if self.n < self.base.min_points:
            return 0.0
        short = self.short + self.short_alpha * (self._raw(x, t) - self.short)
        z = (short - self.long_mean) / math.sqrt(max(self.long_var, 1e-6))
        # Log scale keeps the extreme tail resolvable (1 - p would round to 1.0).
        return math.pow(min(1.0, -math.log10(max(normal_sf(z), 1e-300)) / 300.0), 0.25)

    def learn_one(self, x: float, t: datetime) -> None:
        self.peak = max(self.peak * self.peak_decay, self._score(x, t))
        r = self._raw(x, t)
        self.short += self.short_alpha * (r - self.short)
        a = max(self.long_alpha, 1.0 / (self.n + 1))
        d = r - self.long_mean
        self.long_mean += a * d
        self.long_var = (1 - a) * (self.long_var + a * d * d)
        self.base.learn_one(x, t)
        self.n += 1



