"""Online per-signal anomaly detectors: River ``AnomalyDetector``s on one timed value.

Every detector is a :class:`river.base.AnomalyDetector`: ``learn_one(x)`` / ``score_one(x)``
on a dict ``x = {"value": float, "t": datetime}`` (plus ``"n"``, the number of posts behind a
share or mean, for :class:`ShareDetector` / :class:`MeanDetector`), River's ``clone()``,
``repr`` and parameter conventions (every constructor parameter is an attribute of the same
name). Time is always passed in, never read from a clock. ``process_one(x)`` (score, then
learn) and ``expected(t)`` are our helpers on top.

Each seasonal detector learns an expectation (hour-of-day and day-of-week offsets learned
online with EW means, on top of a slow level and a short-term EW correction), scores how
surprising a value is against it, and does not let anomalies become normal: points judged
anomalous are learned with a much smaller weight, until a shift has lasted
``rebaseline_after`` points, when the detector accepts the new level.

Why the running means are inline arithmetic rather than ``river.stats.EWMean``/``EWVar``:
River's have one fixed fading factor, while ours start as a plain mean
(``max(alpha, 1/(n+1))``, so the first points are not dominated by the first value) and take a
per-update weight (anomalous points learned with ``slow_learn``); both shape the scores. The
inline update also costs no more (0.36 vs 0.28-0.36 us per update measured through a call),
and ``normal_sf`` is 7x cheaper than ``river.proba.Gaussian.cdf`` (0.34 vs 2.4 us).

>>> from datetime import datetime, timedelta, UTC
>>> det = SeasonalDetector(kind="poisson", direction="up")
>>> t0 = datetime(2026, 11, 23, tzinfo=UTC)
>>> for i in range(600):
...     det.learn_one({"value": 5.0 + (i % 3), "t": t0 + timedelta(minutes=i)})
>>> t = t0 + timedelta(minutes=600)
>>> round(det.expected(t))
6
>>> det.score_one({"value": 6.0, "t": t}) < 0.9 < det.score_one({"value": 40.0, "t": t})
True
>>> det
SeasonalDetector (
  kind="poisson"
  direction="up"
  level_halflife=1440.
  fast_halflife=30.
  season_alpha=0.02
  var_halflife=360.
  learn_threshold=0.99
  slow_learn=0.05
  rebaseline_after=180
  warmup=60
  min_points=10
  prior_mean=None
  prior_var=None
)
"""

from __future__ import annotations

import inspect
import math
from abc import abstractmethod
from array import array
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from river import base

if TYPE_CHECKING:
    from detectors.value import ValueDetector as ValueDetector

Kind = Literal["poisson", "gaussian", "auto"]
Direction = Literal["up", "down", "both"]
# River's feature dict: {"value": float, "t": datetime[, "n": int]}
Features = dict[base.typing.FeatureName, Any]

_SQRT2 = math.sqrt(2.0)


def normal_sf(z: float) -> float:
    """P(Z >= z) for a standard normal."""
    return 0.5 * math.erfc(z / _SQRT2)


def count_sf(x: float, mu: float, var: float) -> float:
    """P(X >= x) for a count with mean ``mu`` and variance ``var`` (Poisson or negative binomial).

    Exact sums for small counts (where a Gaussian z is badly wrong), a normal approximation
    with continuity correction beyond.

    >>> round(count_sf(3, 0.5, 0.5), 4)   # Poisson(0.5): 3 posts at night is rare
    0.0144
    >>> count_sf(0, 2.0, 2.0)
    1.0
    """
    k = math.ceil(x - 1e-9)
    if k <= 0:
        return 1.0
    mu = max(mu, 1e-3)
    var = max(var, mu)
    if k > 400 or mu > 200:
        return normal_sf((k - 0.5 - mu) / math.sqrt(var))
    if var <= mu * 1.02:  # Poisson
        log_p = -mu
        cdf = 0.0
        for i in range(k):
            if i:
                log_p += math.log(mu / i)
            cdf += math.exp(log_p)
    else:  # negative binomial with the same mean and variance
        r = mu * mu / (var - mu)
        p = r / (r + mu)
        log_p = r * math.log(p)
        cdf = 0.0
        for i in range(k):
            if i:
                log_p += math.log((i - 1 + r) / i * (1.0 - p))
            cdf += math.exp(log_p)
    return min(1.0, max(0.0, 1.0 - cdf))


def _halflife(alpha: float) -> float:
    """Inverse of :func:`_alpha`: the half-life (points) of an EW smoothing factor."""
    return math.log(0.5) / math.log1p(-alpha) if 0.0 < alpha < 1.0 else 0.0


class SeriesDetector(base.AnomalyDetector):
    """Our detectors' common part: a River anomaly detector of one value at a given time.

    ``x`` carries ``"value"`` and ``"t"`` (a datetime). Scores are in [0, 1] (1 = certainly
    anomalous), a tail probability, so one threshold means the same on every series.
    """

    __slots__ = ()

    # halflife parameter -> the smoothing-factor attribute it is stored as (old pickles
    # carry only the factor: the parameter is derived back from it when they load)
    _HALFLIVES: ClassVar[dict[str, str]] = {}

    def __getstate__(self) -> dict[str, object]:
        # Slotted classes: gather every slot along the MRO; drop caches.
        keys = {k for c in type(self).__mro__ for k in getattr(c, "__slots__", ())}
        return {k: getattr(self, k) for k in keys if k != "_last" and hasattr(self, k)}

    def __setstate__(self, state: dict[str, object]) -> None:
        if "_last" in {k for c in type(self).__mro__ for k in getattr(c, "__slots__", ())}:
            setattr(self, "_last", None)  # noqa: B010 - slot declared by subclasses
        for k, v in state.items():
            setattr(self, k, v)
        # Pickles from before the River API lack the parameter attributes: derive or default.
        for name, p in inspect.signature(type(self).__init__).parameters.items():
            if name == "self" or p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL) or hasattr(self, name):
                continue
            alpha = self._HALFLIVES.get(name)
            setattr(self, name, _halflife(getattr(self, alpha)) if alpha else p.default)

    @abstractmethod
    def learn_one(self, x: Features) -> None:
        """Update the state with ``x["value"]`` observed at ``x["t"]``."""

    @abstractmethod
    def score_one(self, x: Features) -> float:
        """Anomaly score in [0, 1] of ``x["value"]`` at ``x["t"]`` (1 = certainly anomalous)."""

    @abstractmethod
    def expected(self, t: datetime) -> float:
        """The value the detector expected at ``t`` (for explanations)."""

    def process_one(self, x: Features) -> float:
        """Score then learn (no look-ahead)."""
        s = self.score_one(x)
        self.learn_one(x)
        return s


class SeasonalDetector(SeriesDetector):
    """Seasonal EW baseline + Poisson/negative-binomial or Gaussian tail scoring.

    kind: ``poisson`` for counts (tail probability of a count, exact at low counts),
    ``gaussian`` for continuous values, ``auto`` picks poisson while every value seen is a
    non-negative integer. direction: which side is anomalous. ``x``: ``{"value", "t"}``.
    State is 31 seasonal floats plus a few scalars (a few hundred bytes pickled).
    """

    _HALFLIVES: ClassVar[dict[str, str]] = {
        "level_halflife": "alpha",
        "fast_halflife": "fast_alpha",
        "var_halflife": "var_alpha",
    }

    __slots__ = (
        "_last",
        "alpha",
        "anomalous_run",
        "direction",
        "dow",
        "fast",
        "fast_alpha",
        "fast_halflife",
        "hod",
        "integer_only",
        "kind",
        "learn_threshold",
        "level",
        "level_halflife",
        "min_points",
        "n",
        "prior_mean",
        "prior_var",
        "rebaseline_after",
        "recent",
        "season_alpha",
        "slow_learn",
        "var",
        "var_alpha",
        "var_halflife",
        "warmup",
    )

    def __init__(
        self,
        kind: Kind = "auto",
        direction: Direction = "both",
        level_halflife: float = 1440.0,
        fast_halflife: float = 30.0,
        season_alpha: float = 0.02,
        var_halflife: float = 360.0,
        learn_threshold: float = 0.99,
        slow_learn: float = 0.05,
        rebaseline_after: int = 180,
        warmup: int = 60,
        min_points: int = 10,
        prior_mean: float | None = None,
        prior_var: float | None = None,
    ) -> None:
        self.kind: Kind = kind
        self.direction: Direction = direction
        self.level_halflife = level_halflife
        self.fast_halflife = fast_halflife
        self.var_halflife = var_halflife
        self.alpha = _alpha(level_halflife)
        self.fast_alpha = _alpha(fast_halflife)
        self.season_alpha = season_alpha
        self.var_alpha = _alpha(var_halflife)
        self.learn_threshold = learn_threshold
        self.slow_learn = slow_learn
        self.rebaseline_after = rebaseline_after
        self.warmup = warmup
        self.min_points = min_points
        self.prior_mean = prior_mean
        self.prior_var = prior_var
        self.n = 0
        self.level = prior_mean or 0.0
        self.fast = 0.0  # short-term EW correction of the seasonal expectation
        self.var = prior_var if prior_var is not None else 0.0
        self.recent = 0.0  # EW mean of raw values that always learns: the re-baseline target
        self.hod = array("d", [0.0] * 24)
        self.dow = array("d", [0.0] * 7)
        self.anomalous_run = 0
        self.integer_only = True
        self._last: tuple[float, datetime, float] | None = None

    # -- expectation -------------------------------------------------------------
    def _seasonal(self, t: datetime) -> float:
        return self.level + self.hod[t.hour] + self.dow[t.weekday()]

    def expected(self, t: datetime) -> float:
        e = self._seasonal(t) + self.fast
        return max(e, 0.0) if self._is_count() else e

    def _is_count(self) -> bool:
        # auto: low non-negative integers are counts; big integers behave like continuous values
        return self.kind == "poisson" or (
            self.kind == "auto" and self.integer_only and self.level < 50.0
        )

    @classmethod
    def _unit_test_params(cls) -> Iterator[dict[str, Any]]:
        yield {}
        yield {"kind": "poisson", "direction": "up", "season_alpha": 0.002}

    # -- scoring -----------------------------------------------------------------
    def score_one(self, x: Features) -> float:
        return self._score_at(x["value"], x["t"])

    def _score_at(self, x: float, t: datetime) -> float:
        if self._last is not None and self._last[0] == x and self._last[1] == t:
            return self._last[2]
        s = self._score(x, t)
        self._last = (x, t, s)
        return s

    def _score(self, x: float, t: datetime) -> float:
        if self.n < self.min_points and self.prior_mean is None:
            return 0.0
        mu = self.expected(t)
        # Cold start: inflate the variance while few points are known.
        inflate = 1.0 + self.warmup / (self.n + 1.0)
        is_count = self._is_count() and (x == int(x) and x >= 0)
        if is_count:
            # Counts: var is a dispersion index (1 = Poisson), so nights get narrow tails.
            var = max(self.var, 1.0) * max(mu, 0.05) * inflate
            up = count_sf(x, mu, var)
            down = 1.0 - count_sf(x + 1, mu, var)
        else:
            sd = math.sqrt(max(self.var, 1e-12 + 1e-6 * abs(mu)) * inflate)
            z = (x - mu) / sd
            up, down = normal_sf(z), normal_sf(-z)
        if self.direction == "up":
            p = up
        elif self.direction == "down":
            p = down
        else:
            p = min(1.0, 2.0 * min(up, down))
        return min(1.0, max(0.0, 1.0 - p))

    # -- learning ----------------------------------------------------------------
    def learn_one(self, x: Features) -> None:
        self._learn_at(x["value"], x["t"])

    def _learn_at(self, x: float, t: datetime) -> None:
        if self.integer_only and (x != int(x) or x < 0):
            self.integer_only = False
        if self.n == 0:
            self._first(x)
            self.n = 1
            return
        s = self._score_at(x, t) if self.n >= self.min_points else 0.0
        self._last = None
        w = 1.0
        if s > self.learn_threshold:
            self.anomalous_run += 1
            w = self.slow_learn
        else:
            self.anomalous_run = 0
        self.recent += self.fast_alpha * (x - self.recent)
        if self.anomalous_run >= self.rebaseline_after:
            # A shift that lasted long enough is the new normal: move the level to it.
            self.level += self.recent - self.expected(t)
            self.fast = 0.0
            if not self._is_count():
                self.var = max(self.var, (x - self.recent) ** 2)
            self.anomalous_run = 0
            return
        seasonal = self._seasonal(t)
        resid = x - seasonal - self.fast
        # Variance before the mean moves: the residual is the forecast error.
        a_v = max(self.var_alpha, 1.0 / (self.n + 1)) * w
        sq = resid * resid
        if self._is_count():
            sq = min(sq / max(seasonal + self.fast, 0.5), 50.0 * max(self.var, 1.0))
        self.var += a_v * (sq - self.var)
        a_l = max(self.alpha, 1.0 / (self.n + 1)) * w
        self.level += a_l * (x - seasonal)
        a_s = self.season_alpha * w
        h, d = t.hour, t.weekday()
        dev = x - self.level
        self.hod[h] += a_s * (dev - self.dow[d] - self.hod[h])
        self.dow[d] += a_s * 0.25 * (dev - self.hod[h] - self.dow[d])
        self.fast += self.fast_alpha * w * (x - self._seasonal(t) - self.fast)
        self.n += 1

    def _first(self, x: float) -> None:
        if self.prior_mean is None:
            self.level = x
        self.recent = x
        if self.prior_var is None:
            self.var = 1.0 if self._is_count() else (0.1 * abs(x)) ** 2 + 1e-9


def _alpha(halflife: float) -> float:
    """EW smoothing factor for a half-life given in points."""
    return 1.0 - math.pow(0.5, 1.0 / max(halflife, 1e-9))


class ShareDetector(SeriesDetector):
    """A proportion (e.g. negative share) against its learned baseline, as a binomial tail.

    ``x["value"]`` is the share and ``x["n"]`` the number of trials (default 1), so 2 of 3
    negative posts at night is weak evidence while 200 of 300 is strong. Anomalous minutes are
    learned with a small weight. ``prior`` is the starting share; ``p0`` is the learned one.

    >>> from datetime import datetime, UTC
    >>> d, t = ShareDetector(prior=0.1), datetime(2026, 1, 1, tzinfo=UTC)
    >>> d.score_one({"value": 2 / 3, "n": 3, "t": t}) < 0.99
    True
    >>> d.score_one({"value": 0.6, "n": 300, "t": t}) > 0.99
    True
    """

    _HALFLIVES: ClassVar[dict[str, str]] = {"halflife": "alpha"}

    __slots__ = (
        "alpha",
        "direction",
        "halflife",
        "learn_threshold",
        "n",
        "p0",
        "prior",
        "prior_weight",
        "slow_learn",
    )

    def __init__(
        self,
        prior: float = 0.15,
        halflife: float = 5000.0,
        direction: Direction = "up",
        learn_threshold: float = 0.99,
        slow_learn: float = 0.05,
        prior_weight: float = 30.0,
    ) -> None:
        self.prior = prior
        self.halflife = halflife
        self.p0 = prior
        self.alpha = _alpha(halflife)
        self.direction: Direction = direction
        self.learn_threshold = learn_threshold
        self.slow_learn = slow_learn
        self.prior_weight = prior_weight  # trials the prior is worth: cold start stays cautious
        self.n = 0.0  # trials seen (capped)

    def expected(self, t: datetime) -> float:
        return self.p0

    def score_one(self, x: Features) -> float:
        return self._score_at(x["value"], x.get("n", 1))

    def learn_one(self, x: Features) -> None:
        self._learn_at(x["value"], x.get("n", 1))

    def _score_at(self, x: float, n: int) -> float:
        if n <= 0:
            return 0.0
        p0 = min(max(self.p0, 1e-3), 1 - 1e-3)
        k = round(x * n)
        mu = n * p0
        # Uncertainty of p0 while little is known widens the tail (beta-binomial-like).
        var = n * p0 * (1 - p0) * (1.0 + n / (self.n + self.prior_weight))
        up = count_sf(k, mu, var) if self.direction != "down" else 1.0
        down = 1.0 - count_sf(k + 1, mu, var) if self.direction != "up" else 1.0
        return 1.0 - min(1.0, min(up, down) * (2.0 if self.direction == "both" else 1.0))

    def _learn_at(self, x: float, n: int) -> None:
        if n <= 0:
            return
        w = self.slow_learn if self._score_at(x, n) > self.learn_threshold else 1.0
        a = 1.0 - math.pow(1.0 - self.alpha, n * w)
        self.p0 += a * (x - self.p0)
        self.n = min(self.n + n, 1e6)


class MeanDetector(ShareDetector):
    """A per-minute mean of per-post values (e.g. sentiment) with ``n`` posts behind it.

    The standard error shrinks with n, so a drop carried by many posts scores high.
    ``x``: ``{"value": mean, "n": posts, "t": ...}``.
    """

    __slots__ = ("prior_var", "var")

    def __init__(
        self,
        prior: float = 0.0,
        prior_var: float = 0.25,
        halflife: float = 5000.0,
        direction: Direction = "down",
        learn_threshold: float = 0.99,
        slow_learn: float = 0.05,
        prior_weight: float = 30.0,
    ) -> None:
        super().__init__(
            prior=prior,
            halflife=halflife,
            direction=direction,
            learn_threshold=learn_threshold,
            slow_learn=slow_learn,
            prior_weight=prior_weight,
        )
        self.prior_var = prior_var
        self.var = prior_var  # per-post variance, learned

    def _score_at(self, x: float, n: int) -> float:
        if n <= 0:
            return 0.0
        se = math.sqrt(self.var / n * (1.0 + n / (self.n + self.prior_weight)))
        z = (x - self.p0) / se
        p = {"up": normal_sf(z), "down": normal_sf(-z)}.get(self.direction)
        if p is None:
            p = min(1.0, 2 * normal_sf(abs(z)))
        return 1.0 - p

    def _learn_at(self, x: float, n: int) -> None:
        if n <= 0:
            return
        w = self.slow_learn if self._score_at(x, n) > self.learn_threshold else 1.0
        a = 1.0 - math.pow(1.0 - self.alpha, n * w)
        d = x - self.p0
        self.p0 += a * d
        self.var += a * (d * d * n - self.var)
        self.var = min(max(self.var, 0.01), 1.0)
        self.n = min(self.n + n, 1e6)


def __getattr__(name: str) -> object:
    # ValueDetector lives in detectors.value (which imports this module): lazy re-export.
    if name == "ValueDetector":
        from detectors.value import ValueDetector

        return ValueDetector
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
