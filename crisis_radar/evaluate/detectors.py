"""Detectors ``evaluate nab --detector NAME`` and ``evaluate scenarios --detector NAME`` can
run: ours and River's own.

Each entry builds, for one series, a ``Model`` (score a value at a time, learn it apart);
``Entry.make`` turns it into NAB's ``Step``: score, then learn (no look-ahead). River's
detectors get what River's documentation feeds them: the value as the only feature
(``{"value": v}``), scaled as River recommends (``MinMaxScaler`` before
``HalfSpaceTrees``, whose trees assume features in [0, 1]; ``StandardScaler`` before the
one-class SVM and LODA), or the value as the target ``y`` for the supervised ones
(``GaussianScorer``, ``StandardAbsoluteDeviation``, ``PredictiveAnomalyDetection`` over a
forecaster). Settings are fixed for every series (no per-file configuration); randomness is
seeded. Their scores are on their own scales; NAB's sweep only needs them ordered.

The crisis scorer needs more than an order: it reads a score as a tail probability and adds
up ``-log10(1 - score)`` over minutes. :class:`RankCalibrated` is the one place a registry
detector's raw score becomes that (``evaluate scenarios --detector``, :func:`crisis_scorer`).

>>> step = REGISTRY["hst"].make()
>>> from datetime import datetime, UTC
>>> t = datetime(2026, 1, 1, tzinfo=UTC)
>>> [round(step(float(v), t), 3) for v in (1, 2, 3)]
[0.0, 0.0, 0.0]
"""

from __future__ import annotations

import bisect
import contextlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from river import anomaly, base, compose, linear_model, optim, preprocessing, time_series

from detectors.anomaly import Features, SeasonalDetector, SeriesDetector
from detectors.count import CountDetector
from detectors.crisis import CrisisScorer
from detectors.value import ValueDetector

Step = Callable[[float, datetime], float]
SEED = 42
DAY_AT_5_MIN = 288  # NAB's usual interval; a fixed season length for every series
DAY_AT_MINUTES = 1440  # brand minutes (evaluate scenarios)


class Model(Protocol):
    """One series' detector with scoring and learning apart: ``evaluate nab`` scores then
    learns each point; the crisis scorer (``evaluate scenarios --detector``) scores a minute
    first and learns it at the end, or not at all (an announced launch, an amendment)."""

    def score(self, v: float, t: datetime) -> float: ...

    def learn(self, v: float, t: datetime) -> None: ...


@dataclass(frozen=True)
class Entry:
    name: str
    description: str
    build: Callable[..., Model]  # build(**setting) -> a fresh Model for one series
    grid: tuple[dict[str, Any], ...] = field(default=({},))  # --loco chooses among these
    # the setting for per-minute brand series (evaluate scenarios): a season is 1440 points
    per_minute: dict[str, Any] = field(default_factory=dict)

    def make(self, **setting: Any) -> Step:
        """A fresh Step for one series: score a point, then learn it (no look-ahead)."""
        model = self.build(**setting)
        score, learn = model.score, model.learn

        def step(v: float, t: datetime) -> float:
            s = score(v, t)
            learn(v, t)
            return s

        return step


class _Ours:
    def __init__(self, det: ValueDetector | SeasonalDetector | CountDetector) -> None:
        self.det = det

    def score(self, v: float, t: datetime) -> float:
        return self.det.score_one({"value": v, "t": t})

    def learn(self, v: float, t: datetime) -> None:
        self.det.learn_one({"value": v, "t": t})


def _ours(
    cls: type[ValueDetector] | type[SeasonalDetector] | type[CountDetector],
) -> Callable[..., Model]:
    def build(**params: Any) -> Model:
        return _Ours(cls(**params))

    return build


class _Unsupervised:
    def __init__(self, model: Any) -> None:
        self.model = model

    def score(self, v: float, t: datetime) -> float:
        return float(self.model.score_one({"value": v}))

    def learn(self, v: float, t: datetime) -> None:
        self.model.learn_one({"value": v})


def _unsupervised(build: Callable[..., base.Estimator]) -> Callable[..., Model]:
    def make(**params: Any) -> Model:
        return _Unsupervised(build(**params))

    return make


class _Supervised:
    def __init__(self, model: Any) -> None:
        self.model = model
        self.fc = getattr(model, "predictive_model", None)
        self.skip = False  # scoring failed: do not learn this point either

    def score(self, v: float, t: datetime) -> float:
        if self.fc is not None and not getattr(self.fc, "_initialized", True):
            return 0.0  # HoltWinters cannot forecast before a season is seen; PAD asks it anyway
        try:
            return float(self.model.score_one(None, v))  # PAD updates its error statistics
        except ZeroDivisionError:
            self.skip = True
            return 0.0

    def learn(self, v: float, t: datetime) -> None:
        if self.skip:
            self.skip = False
            return
        # River's HoltWinters seeds even additive seasons by dividing by the first season's
        # mean level: a series that starts at zero cannot start it
        with contextlib.suppress(ZeroDivisionError):
            self.model.learn_one(None, v)


def _supervised(build: Callable[..., base.Estimator]) -> Callable[..., Model]:
    def make(**params: Any) -> Model:
        return _Supervised(build(**params))

    return make


def _snarimax() -> base.Estimator:
    # River's documented set-up for PAD (a scaled linear regression inside SNARIMAX), with a
    # short non-seasonal order: a daily season at 5 minutes (m=288) costs ~300 terms per point.
    return anomaly.PredictiveAnomalyDetection(
        time_series.SNARIMAX(
            p=6,
            d=1,
            q=3,
            regressor=preprocessing.StandardScaler()
            | linear_model.LinearRegression(optimizer=optim.SGD(0.005), intercept_lr=0.1),
        ),
        horizon=1,
        n_std=3.5,
        warmup_period=50,
    )


def _holtwinters(season: int = DAY_AT_5_MIN) -> base.Estimator:
    return anomaly.PredictiveAnomalyDetection(
        time_series.HoltWinters(  # type: ignore[no-untyped-call]
            alpha=0.3, beta=0.01, gamma=0.2, seasonality=season
        ),
        horizon=1,
        n_std=3.5,
        warmup_period=season + 1,
    )


REGISTRY: dict[str, Entry] = {
    e.name: e
    for e in (
        Entry(
            "value",
            "ours: ValueDetector (detectors/value.py), the default",
            _ours(ValueDetector),
            ValueDetector.LOCO_GRID,
        ),
        Entry(
            "seasonal",
            "ours: SeasonalDetector alone (the product's volume detector, both directions)",
            lambda: _ours(SeasonalDetector)(direction="both"),
        ),
        Entry(
            "value-counts",
            "ours: ValueDetector with the count path (CountDetector "
            "forecast while the series is non-negative integers)",
            lambda: _ours(ValueDetector)(counts=True),
        ),
        Entry(
            "count",
            "ours: CountDetector alone (the product's volume/authors detector, "
            "seasonality chosen online, both directions)",
            lambda: _ours(CountDetector)(direction="both"),
        ),
        Entry(
            "hst",
            "River HalfSpaceTrees (MinMaxScaler first)",
            _unsupervised(
                lambda: compose.Pipeline(
                    preprocessing.MinMaxScaler(), anomaly.HalfSpaceTrees(seed=SEED)
                )
            ),
        ),
        Entry(
            "gaussian", "River GaussianScorer (whole history)", _supervised(anomaly.GaussianScorer)
        ),
        Entry(
            "gaussian-window",
            "River GaussianScorer over the last 1000 points",
            _supervised(
                lambda: anomaly.GaussianScorer(  # type: ignore[no-untyped-call]
                    window_size=1000
                )
            ),
        ),
        Entry(
            "sad", "River StandardAbsoluteDeviation", _supervised(anomaly.StandardAbsoluteDeviation)
        ),
        Entry(
            "pad-snarimax",
            "River PredictiveAnomalyDetection over SNARIMAX(6,1,3)",
            _supervised(_snarimax),
        ),
        Entry(
            "pad-holtwinters",
            "River PredictiveAnomalyDetection over additive HoltWinters "
            f"(season {DAY_AT_5_MIN} points; a day, 1440, on per-minute series)",
            _supervised(_holtwinters),
            per_minute={"season": DAY_AT_MINUTES},
        ),
        Entry(
            "oneclasssvm",
            "River OneClassSVM (StandardScaler first)",
            _unsupervised(
                lambda: compose.Pipeline(
                    preprocessing.StandardScaler(), anomaly.OneClassSVM(nu=0.2)
                )
            ),
        ),
        Entry(
            "loda",
            "River LODA (StandardScaler first)",
            _unsupervised(
                lambda: compose.Pipeline(preprocessing.StandardScaler(), anomaly.LODA(seed=SEED))
            ),
        ),
        Entry(
            "lof",
            "River LocalOutlierFactor (incremental LOF over the last 1000 points)",
            _unsupervised(lambda: anomaly.LocalOutlierFactor(n_neighbors=10)),
        ),
    )
}


# --- evaluate scenarios --detector: a registry detector in the crisis scorer's volume slot ---

# The crisis scorer's own volume models (``CrisisScorer(volume_model=...)``): their scores are
# tail probabilities already. In scenarios these names mean the product's configuration
# (counts, upward only), not the NAB entries' (both directions).
PRODUCT_VOLUME = {"seasonal": "seasonal", "count": "count"}
SCENARIO_DEFAULT = "seasonal"  # what CrisisScorer() runs


class RankCalibrated(SeriesDetector):
    """A registry detector as the crisis scorer's volume (or unique-authors) detector.

    The raw score (HST's mass, SAD's z, PAD's clipped error ratio, a Gaussian's two-sided
    CDF: each on its own scale) becomes a tail probability by its **rank among this series'
    own past raw scores** (the last ``window`` learned minutes, a week by default): p = (1 +
    #past scores >= this one) / (1 + #past scores), a conformal p-value, and the score handed
    to the scorer is ``1 - p``. No scale is assumed, ties (a saturated 1.0) share their p, and
    the smallest p is 1 / (window + 1): ~1e-4, 4 units of evidence a minute at most, where
    a calibrated count tail can give 12; a cold series has no evidence at all.

    Direction: the product's volume detectors are one-sided (a drop in posts is not a crisis)
    while River's score both ways, so a minute at or below the series' recent level (EW mean,
    half-life ``gate_halflife`` minutes) scores 0. ``expected(t)``: the product's own volume
    expectation (a ``SeasonalDetector`` learning alongside), because the scorer also uses it
    for the negative-count CUSUM and the explanations: only the anomaly score is replaced.
    """

    __slots__ = (
        "_last",
        "builder",
        "expect",
        "gate_halflife",
        "level",
        "model",
        "n",
        "pending",
        "recent",
        "sorted_ref",
        "window",
    )

    def __init__(
        self,
        builder: Callable[[], Model],
        window: int = 7 * DAY_AT_MINUTES,
        gate_halflife: float = 60.0,
        season_alpha: float = 0.002,
    ) -> None:
        self.builder = builder
        self.window = window
        self.gate_halflife = gate_halflife
        self.model = builder()
        self.expect = SeasonalDetector(kind="poisson", direction="up", season_alpha=season_alpha)
        self.recent: deque[float] = deque()  # learned raw scores, oldest first
        self.sorted_ref: list[float] = []  # the same, sorted (rank by bisection)
        self.level = 0.0
        self.n = 0
        self.pending: tuple[float, datetime, float] | None = None  # (v, t, raw) scored
        self._last: tuple[float, datetime, float] | None = None

    def _raw(self, v: float, t: datetime) -> float:
        # score once per point: PAD updates its error statistics when it scores
        if self.pending is None or self.pending[0] != v or self.pending[1] != t:
            self.pending = (v, t, float(self.model.score(v, t)))
        return self.pending[2]

    def score_one(self, x: Features) -> float:
        v, t = float(x["value"]), x["t"]
        raw = self._raw(v, t)
        if self.n == 0 or v <= self.level:
            return 0.0
        ref = self.sorted_ref
        at_least = len(ref) - bisect.bisect_left(ref, raw)
        return 1.0 - (1.0 + at_least) / (1.0 + len(ref))

    def learn_one(self, x: Features) -> None:
        v, t = float(x["value"]), x["t"]
        raw = self._raw(v, t)
        self.pending = None
        self.model.learn(v, t)
        self.expect.learn_one(x)
        self.recent.append(raw)
        bisect.insort(self.sorted_ref, raw)
        if len(self.recent) > self.window:
            old = self.recent.popleft()
            del self.sorted_ref[bisect.bisect_left(self.sorted_ref, old)]
        a = max(1.0 - 0.5 ** (1.0 / self.gate_halflife), 1.0 / (self.n + 1))
        self.level += a * (v - self.level)
        self.n += 1

    def expected(self, t: datetime) -> float:
        return self.expect.expected(t)

    def describe(self) -> str:
        """The detector inside, by class (``PredictiveAnomalyDetection(HoltWinters)``)."""
        return describe(self)


def describe(det: object) -> str:
    """A volume detector by what actually runs: its class, or for a wrapper the class inside
    (the last step of a River pipeline, a PAD's forecaster)."""
    if isinstance(det, RankCalibrated | _Unsupervised | _Supervised):
        return describe(det.model)
    if isinstance(det, _Ours):
        return describe(det.det)
    if isinstance(det, compose.Pipeline):
        return describe(list(det.steps.values())[-1])
    fc = getattr(det, "predictive_model", None)
    name = type(det).__name__
    return f"{name}({type(fc).__name__})" if fc is not None else name


def scenario_description(name: str) -> str:
    """What ``evaluate scenarios --detector name`` puts in the volume slot."""
    if name in PRODUCT_VOLUME:
        default = ", the default" if name == SCENARIO_DEFAULT else ""
        return f"ours: CrisisScorer(volume_model={PRODUCT_VOLUME[name]!r}), upward{default}"
    return f"{REGISTRY[name].description}, rank-calibrated (RankCalibrated)"


def crisis_scorer(name: str) -> Callable[[], CrisisScorer]:
    """A factory of the crisis scorer with ``name``'s detector for volume and unique authors
    (one per brand); KeyError for a name not in the registry."""
    entry = REGISTRY[name]
    if name in PRODUCT_VOLUME:
        model = PRODUCT_VOLUME[name]
        return lambda: CrisisScorer(volume_model=model)

    def volume() -> SeriesDetector:
        return RankCalibrated(lambda: entry.build(**entry.per_minute))

    return lambda: CrisisScorer(volume_factory=volume)
