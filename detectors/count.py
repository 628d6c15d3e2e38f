"""Count detector with an online choice of seasonality: the product's volume/authors path.

Volume per interval (posts, unique authors per minute; requests per 5 minutes) is a count. A
:class:`CountDetector` keeps three forecasts of the next count side by side, all on one slow
level ``L`` (EW mean of the raw counts) or slot means, each with its own short-term EW
correction ``f`` (half-life ``fast_halflife`` points: a brand growing or shrinking):

- ``none``:   ``L + f``
- ``daily``:  ``S_day[hour] + f`` (24 hour-of-day slot means)
- ``weekly``: ``S_week[weekday, hour] + f`` (168 slot means; a slot not learned yet borrows
  the hour-of-day mean, so the weekly model never starts worse than the daily)

and chooses between them **online** by their prequential log-likelihood: each point, before it
is learned, adds ``-log P(x | forecast)`` (Poisson / negative binomial with the model's learned
dispersion) to an EW loss per model; the richer model is used only while its loss is lower than
the simpler one's by ``select_margin`` nats per point (its extra slots must pay for themselves).
So the series' shape picks the model, never a per-series setting. Anomalous points (score above
``learn_threshold``) are learned with weight ``slow_learn`` and do not enter the losses, so a
crisis lasting hours neither becomes normal nor changes the seasonality choice.

Slots learn per *visit* in cycles, not per point: a slot's mean is a running mean over
its first visits, then an EW mean with a half-life of ``season_halflife`` cycles (days for the
daily slots, weeks for the weekly ones) whatever the sampling interval (measured from ``t``).
A per-point rate at minute resolution turns hour offsets into a second fast level that jumps at
hour boundaries (docs/detection.md, "Delay, round 2").

Scores are the count tail of the chosen model (:func:`detectors.anomaly.count_sf`: exact at low
counts), with the dispersion index learned online; cold start as ``SeasonalDetector``.

>>> import math, random
>>> from datetime import datetime, timedelta, UTC
>>> rng = random.Random(7)
>>> def poisson(lam):   # seeded Poisson draw by inversion
...     k, p, u = 0, math.exp(-lam), rng.random()
...     c = p
...     while u > c:
...         k, p = k + 1, p * lam / (k + 1)
...         c += p
...     return k
>>> det = CountDetector(direction="up")
>>> t0 = datetime(2026, 11, 23, tzinfo=UTC)
>>> for i in range(4 * 1440):   # 4 days per minute: ~1 post a minute at night, ~12 by day
...     t = t0 + timedelta(minutes=i)
...     lam = 1.0 + 11.0 * math.sin(math.pi * t.hour / 24) ** 2
...     det.learn_one({"value": float(poisson(lam)), "t": t})
>>> det.model   # chosen online: the daily rhythm pays for its 24 slots
'daily'
>>> night = t0 + timedelta(days=4, hours=1)
>>> round(det.expected(night))
1
>>> det.score_one({"value": 8.0, "t": night}) > 0.999   # 8 posts at 1 am: anomalous
True
>>> det.score_one({"value": 8.0, "t": night + timedelta(hours=11)}) < 0.5   # at noon: not
True
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterator
from datetime import datetime
from typing import Any, ClassVar, Literal

from detectors.anomaly import Direction, Features, SeriesDetector, _alpha, count_sf

Seasonality = Literal["auto", "none", "daily", "weekly"]
MODELS: tuple[str, str, str] = ("none", "daily", "weekly")
_LOG_FLOOR = 30.0  # nats: one freak point cannot dominate a model's loss


def count_logpmf(k: int, mu: float, disp: float) -> float:
    """log P(X = k) for a count with mean ``mu`` and variance ``disp x mu`` (Poisson when
    ``disp`` <= 1, else the negative binomial with that mean and variance).

    >>> round(count_logpmf(0, 1.0, 1.0), 4)   # Poisson(1): P(0) = e^-1
    -1.0
    >>> count_logpmf(8, 1.0, 4.0) > count_logpmf(8, 1.0, 1.0)   # overdispersed: fatter tail
    True
    """
    mu = max(mu, 1e-3)
    if disp <= 1.02:
        return k * math.log(mu) - mu - math.lgamma(k + 1.0)
    r = mu / (disp - 1.0)
    return (
        math.lgamma(k + r)
        - math.lgamma(r)
        - math.lgamma(k + 1.0)
        - r * math.log(disp)
        + k * math.log1p(-1.0 / disp)
    )


class CountDetector(SeriesDetector):
    """Counts per interval against the best of three seasonal forecasts, chosen online.

    ``x`` is ``{"value": count, "t": datetime}``. ``seasonality``: ``auto`` (online choice,
    the default) or one of ``none`` / ``daily`` / ``weekly`` to fix it (for evaluation).
    ``direction``: which tail is anomalous. State: 192 slot means, their visit counts (float32)
    and a few dozen scalars (~3 kB pickled), bounded.
    """

    _HALFLIVES: ClassVar[dict[str, str]] = {
        "level_halflife": "alpha",
        "fast_halflife": "fast_alpha",
        "var_halflife": "var_alpha",
        "select_halflife": "select_alpha",
    }

    __slots__ = (
        "_last",
        "alpha",
        "anomalous_run",
        "chosen",
        "day",
        "day_n",
        "direction",
        "disp",
        "dt",
        "fast",
        "fast_alpha",
        "fast_halflife",
        "learn_threshold",
        "level",
        "level_halflife",
        "loss",
        "min_points",
        "n",
        "prev_t",
        "rebaseline_after",
        "recent",
        "season_halflife",
        "seasonality",
        "select_alpha",
        "select_halflife",
        "select_margin",
        "slow_learn",
        "var_alpha",
        "var_halflife",
        "warmup",
        "week",
        "week_n",
    )

    def __init__(
        self,
        seasonality: Seasonality = "auto",
        direction: Direction = "up",
        level_halflife: float = 1440.0,
        fast_halflife: float = 30.0,
        season_halflife: float = 4.0,
        var_halflife: float = 360.0,
        select_halflife: float = 2880.0,
        select_margin: float = 0.005,
        learn_threshold: float = 0.99,
        slow_learn: float = 0.05,
        rebaseline_after: int = 180,
        warmup: int = 60,
        min_points: int = 10,
    ) -> None:
        self.seasonality: Seasonality = seasonality
        self.direction: Direction = direction
        self.level_halflife = level_halflife
        self.fast_halflife = fast_halflife
        self.season_halflife = season_halflife
        self.var_halflife = var_halflife
        self.select_halflife = select_halflife
        self.select_margin = select_margin
        self.alpha = _alpha(level_halflife)
        self.fast_alpha = _alpha(fast_halflife)
        self.var_alpha = _alpha(var_halflife)
        self.select_alpha = _alpha(select_halflife)
        self.learn_threshold = learn_threshold
        self.slow_learn = slow_learn
        self.rebaseline_after = rebaseline_after
        self.warmup = warmup
        self.min_points = min_points
        self.n = 0
        self.level = 0.0
        self.recent = 0.0  # EW mean of raw values that always learns: the re-baseline target
        self.fast = array("d", [0.0] * 3)  # per model: short-term correction
        self.disp = array("d", [1.0] * 3)  # per model: dispersion index (1 = Poisson)
        self.loss = array("d", [0.0] * 3)  # per model: EW negative log-likelihood
        self.day = array("d", [0.0] * 24)  # hour-of-day slot means
        # points seen per slot (running-mean start, usable after a full visit); float32 keeps
        # the per-brand state small and counts exactly up to 2^24
        self.day_n = array("f", [0.0] * 24)
        self.week = array("d", [0.0] * 168)
        self.week_n = array("f", [0.0] * 168)
        self.chosen = 0 if seasonality in ("auto", "none") else MODELS.index(seasonality)
        self.dt = 0.0  # EW sampling interval, seconds (slot learning rates are per cycle)
        self.prev_t: datetime | None = None
        self.anomalous_run = 0
        self._last: tuple[float, datetime, float] | None = None

    @classmethod
    def _unit_test_params(cls) -> Iterator[dict[str, Any]]:
        yield {}
        yield {"seasonality": "weekly", "direction": "both", "select_margin": 0.0}

    # -- expectation -------------------------------------------------------------
    def _per_visit(self) -> float:
        """Points per visit of an hour slot (from the measured interval; 60 until known)."""
        return max(3600.0 / self.dt, 1.0) if self.dt > 0.0 else 60.0

    def _bases(self, t: datetime) -> tuple[float, float | None, float | None]:
        """(level, daily slot mean, weekly slot mean); None for a slot not usable yet.

        A slot counts only once it has seen a full visit: during its first visit its running
        mean would track the current hour, a fast level in disguise that wins every vote."""
        h = t.hour
        w = t.weekday() * 24 + h
        full = self._per_visit() - 0.5
        bd = self.day[h] if self.day_n[h] >= full else None
        bw = self.week[w] if self.week_n[w] >= full else None
        return self.level, bd, bw

    def _forecasts(self, t: datetime) -> tuple[float, float, float]:
        # A model without a usable slot here forecasts what the simpler one does (its own
        # short-term correction only learns where its slot is in use).
        lv, bd, bw = self._bases(t)
        f = self.fast
        m0 = max(lv + f[0], 0.0)
        m1 = m0 if bd is None else max(bd + f[1], 0.0)
        return m0, m1, m1 if bw is None else max(bw + f[2], 0.0)

    def expected(self, t: datetime) -> float:
        return self._forecasts(t)[self.chosen]

    @property
    def model(self) -> str:
        """The forecast in use now: ``none``, ``daily`` or ``weekly``."""
        return MODELS[self.chosen]

    # -- scoring -----------------------------------------------------------------
    def score_one(self, x: Features) -> float:
        v, t = x["value"], x["t"]
        if self._last is not None and self._last[0] == v and self._last[1] == t:
            return self._last[2]
        s = self._score(v, self._forecasts(t)[self.chosen], self.disp[self.chosen])
        self._last = (v, t, s)
        return s

    def _score(self, x: float, mu: float, disp: float) -> float:
        if self.n < self.min_points:
            return 0.0
        inflate = 1.0 + self.warmup / (self.n + 1.0)  # cold start: wider tails
        var = max(disp, 1.0) * max(mu, 0.05) * inflate
        k = max(round(x), 0)
        if self.direction == "up":
            p = count_sf(k, mu, var)
        elif self.direction == "down":
            p = 1.0 - count_sf(k + 1, mu, var)
        else:
            p = min(1.0, 2.0 * min(count_sf(k, mu, var), 1.0 - count_sf(k + 1, mu, var)))
        return min(1.0, max(0.0, 1.0 - p))

    # -- learning ----------------------------------------------------------------
    def learn_one(self, x: Features) -> None:
        v, t = float(x["value"]), x["t"]
        if self.prev_t is not None:
            gap = (t - self.prev_t).total_seconds()
            if gap > 0.0:
                self.dt = gap if self.dt == 0.0 else self.dt + 0.01 * (gap - self.dt)
        self.prev_t = t
        if self.n == 0:
            self.level = self.recent = v
            self.n = 1
            self._last = None
            return
        s = self.score_one(x) if self.n >= self.min_points else 0.0
        self._last = None
        w = 1.0
        if s > self.learn_threshold:
            self.anomalous_run += 1
            w = self.slow_learn
        else:
            self.anomalous_run = 0
        self.recent += self.fast_alpha * (v - self.recent)
        mus = self._forecasts(t)
        if self.anomalous_run >= self.rebaseline_after:
            # A shift that lasted long enough is the new normal: every forecast moves to it.
            self.level = self.recent
            for m, b in enumerate(self._bases(t)):
                if b is not None:
                    self.fast[m] = self.recent - b
            self.anomalous_run = 0
            return
        k = max(round(v), 0)
        a_v = max(self.var_alpha, 1.0 / (self.n + 1)) * w
        a_sel = max(self.select_alpha, 1.0 / self.n)
        for m in range(3):
            mu = mus[m]
            if w == 1.0:  # anomalies do not vote on the model
                nll = min(-count_logpmf(k, mu, self.disp[m]), _LOG_FLOOR)
                self.loss[m] += a_sel * (nll - self.loss[m])
            d = self.disp[m]
            sq = min((v - mu) ** 2 / max(mu, 0.5), 50.0 * max(d, 1.0))
            self.disp[m] = d + a_v * (sq - d)
        # seasonal slot means: a running mean over the first visits, then EW per cycle
        h = t.hour
        i = t.weekday() * 24 + h
        a_cyc = _alpha(self.season_halflife * self._per_visit())
        ad = max(a_cyc, 1.0 / (self.day_n[h] + 1.0)) * w
        self.day[h] += ad * (v - self.day[h])
        self.day_n[h] += 1.0
        aw = max(a_cyc, 1.0 / (self.week_n[i] + 1.0)) * w
        self.week[i] += aw * (v - self.week[i])
        self.week_n[i] += 1.0
        self.level += max(self.alpha, 1.0 / (self.n + 1)) * w * (v - self.level)
        fa = self.fast_alpha * w
        for m, b in enumerate(self._bases(t)):
            if b is not None:
                self.fast[m] += fa * (v - b - self.fast[m])
        self.n += 1
        if self.seasonality == "auto":
            self._choose()

    def _choose(self) -> None:
        # Start simple; a richer model must beat the one in use by the margin (no flapping).
        lo = self.loss
        best = 0
        if lo[1] < lo[0] - self.select_margin:
            best = 1
        if lo[2] < lo[best] - self.select_margin:
            best = 2
        self.chosen = best
