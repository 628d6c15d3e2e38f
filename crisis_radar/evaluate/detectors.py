"""Detectors ``evaluate nab --detector NAME`` can run: ours and River's own.

Each entry builds, for one series, a ``Step``: score a value at a time, then learn it (no
look-ahead). River's detectors get what River's documentation feeds them: the value as the only
feature (``{"value": v}``), scaled as River recommends (``MinMaxScaler`` before
``HalfSpaceTrees``, whose trees assume features in [0, 1]; ``StandardScaler`` before the
one-class SVM and LODA), or the value as the target ``y`` for the supervised ones
(``GaussianScorer``, ``StandardAbsoluteDeviation``, ``PredictiveAnomalyDetection`` over a
forecaster). Settings are fixed for every series (no per-file configuration); randomness is
seeded. Their scores are on their own scales; NAB's sweep only needs them ordered.

>>> step = REGISTRY["hst"].make()
>>> from datetime import datetime, UTC
>>> t = datetime(2026, 1, 1, tzinfo=UTC)
>>> [round(step(float(v), t), 3) for v in (1, 2, 3)]
[0.0, 0.0, 0.0]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from river import anomaly, base, compose, linear_model, optim, preprocessing, time_series

from detectors.anomaly import SeasonalDetector
from detectors.count import CountDetector
from detectors.value import ValueDetector

Step = Callable[[float, datetime], float]
SEED = 42
DAY_AT_5_MIN = 288  # NAB's usual interval; a fixed season length for every series


@dataclass(frozen=True)
class Entry:
    name: str
    description: str
    make: Callable[..., Step]  # make(**setting) -> a fresh Step for one series
    grid: tuple[dict[str, Any], ...] = field(default=({},))  # --loco chooses among these


def _ours(cls: type[ValueDetector] | type[SeasonalDetector] | type[CountDetector],
          ) -> Callable[..., Step]:
    def make(**params: Any) -> Step:
        det = cls(**params)
        process = det.process_one

        def step(v: float, t: datetime) -> float:
            return process({"value": v, "t": t})

        return step

    return make


def _unsupervised(build: Callable[[], base.Estimator]) -> Callable[..., Step]:
    def make() -> Step:
        model: Any = build()

        def step(v: float, t: datetime) -> float:
            x = {"value": v}
            s = model.score_one(x)
            model.learn_one(x)
            return float(s)

        return step

    return make


def _supervised(build: Callable[[], base.Estimator]) -> Callable[..., Step]:
    def make() -> Step:
        model: Any = build()

        fc = getattr(model, "predictive_model", None)

        def step(v: float, t: datetime) -> float:
            try:
                if fc is not None and not getattr(fc, "_initialized", True):
                    # HoltWinters cannot forecast before a season is seen; PAD asks it anyway
                    model.learn_one(None, v)
                    return 0.0
                s = model.score_one(None, v)  # PAD updates its error statistics: once a point
                model.learn_one(None, v)
            except ZeroDivisionError:
                # River's HoltWinters seeds even additive seasons by dividing by the first
                # season's mean level: a series that starts at zero cannot start it
                return 0.0
            return float(s)

        return step

    return make


def _snarimax() -> base.Estimator:
    # River's documented set-up for PAD (a scaled linear regression inside SNARIMAX), with a
    # short non-seasonal order: a daily season at 5 minutes (m=288) costs ~300 terms per point.
    return anomaly.PredictiveAnomalyDetection(
        time_series.SNARIMAX(
            p=6, d=1, q=3,
            regressor=preprocessing.StandardScaler()
            | linear_model.LinearRegression(optimizer=optim.SGD(0.005), intercept_lr=0.1),
        ),
        horizon=1, n_std=3.5, warmup_period=50,
    )


def _holtwinters() -> base.Estimator:
    return anomaly.PredictiveAnomalyDetection(
        time_series.HoltWinters(  # type: ignore[no-untyped-call]
            alpha=0.3, beta=0.01, gamma=0.2, seasonality=DAY_AT_5_MIN),
        horizon=1, n_std=3.5, warmup_period=DAY_AT_5_MIN + 1,
    )


REGISTRY: dict[str, Entry] = {
    e.name: e
    for e in (
        Entry("value", "ours: ValueDetector (detectors/value.py), the default",
              _ours(ValueDetector), ValueDetector.LOCO_GRID),
        Entry("seasonal", "ours: SeasonalDetector alone (the product's volume detector, "
              "both directions)", lambda: _ours(SeasonalDetector)(direction="both")),
        Entry("value-counts", "ours: ValueDetector with the count path (CountDetector "
              "forecast while the series is non-negative integers)",
              lambda: _ours(ValueDetector)(counts=True)),
        Entry("count", "ours: CountDetector alone (the product's volume/authors detector, "
              "seasonality chosen online, both directions)",
              lambda: _ours(CountDetector)(direction="both")),
        Entry("hst", "River HalfSpaceTrees (MinMaxScaler first)", _unsupervised(
            lambda: compose.Pipeline(preprocessing.MinMaxScaler(),
                                     anomaly.HalfSpaceTrees(seed=SEED)))),
        Entry("gaussian", "River GaussianScorer (whole history)",
              _supervised(anomaly.GaussianScorer)),
        Entry("gaussian-window", "River GaussianScorer over the last 1000 points",
              _supervised(lambda: anomaly.GaussianScorer(  # type: ignore[no-untyped-call]
                  window_size=1000))),
        Entry("sad", "River StandardAbsoluteDeviation",
              _supervised(anomaly.StandardAbsoluteDeviation)),
        Entry("pad-snarimax", "River PredictiveAnomalyDetection over SNARIMAX(6,1,3)",
              _supervised(_snarimax)),
        Entry("pad-holtwinters", "River PredictiveAnomalyDetection over additive HoltWinters "
              f"(season {DAY_AT_5_MIN} points)", _supervised(_holtwinters)),
        Entry("oneclasssvm", "River OneClassSVM (StandardScaler first)", _unsupervised(
            lambda: compose.Pipeline(preprocessing.StandardScaler(),
                                     anomaly.OneClassSVM(nu=0.2)))),
        Entry("loda", "River LODA (StandardScaler first)", _unsupervised(
            lambda: compose.Pipeline(preprocessing.StandardScaler(), anomaly.LODA(seed=SEED)))),
        Entry("lof", "River LocalOutlierFactor (incremental LOF over the last 1000 points)",
              _unsupervised(lambda: anomaly.LocalOutlierFactor(n_neighbors=10))),
    )
}
