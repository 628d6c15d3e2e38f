"""Crisis scoring: combine per-signal anomaly scores into a severity with hysteresis.

A crisis needs attention up (unique posts and unique authors above their seasonal baseline)
AND negativity up (negative share above its baseline, or mean sentiment below it). A launch
(volume up, sentiment positive) therefore is not a crisis; a copy-paste campaign raises
"watch". Severity enters at higher scores than it exits and holds ``min_dwell`` minutes, so
alerts don't flap on a noisy border.

>>> from datetime import datetime, timedelta, UTC
>>> from schemas.models import BrandMinute
>>> cs = CrisisScorer()
>>> t0 = datetime(2026, 11, 23, tzinfo=UTC)
>>> def bm(i, posts, neg):
...     return BrandMinute(brand="acme", minute=t0 + timedelta(minutes=i), posts=posts,
...                        unique_posts=posts, unique_authors=posts, negative=neg,
...                        neutral=posts - neg, sentiment_sum=-0.5 * neg)
>>> quiet = [cs.process_one(bm(i, 10, 1 + i % 2)) for i in range(240)]
>>> max(a.severity for a in quiet).label
'none'
>>> a = cs.process_one(bm(240, 60, 40))
>>> a.severity.label, a.changed, a.signals[0].signal
('crisis', True, 'volume')
>>> len(alert_id("acme", a.minute, a.severity))
32
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from datetime import datetime

from detectors.anomaly import MeanDetector, SeasonalDetector, ShareDetector
from schemas.models import BrandMinute, Severity, SignalExplanation

# Scores are -log10(p)/scale of the combined evidence: 0.3 ~ p 1e-2.4, 0.5 ~ 1e-4, 0.7 ~ 1e-5.6
# (scale 8: tuned on seeds 101/102, 10 was slower with no fewer false warnings to show for it).
ENTER = {Severity.WATCH: 0.3, Severity.WARNING: 0.5, Severity.CRISIS: 0.7}
EXIT = {Severity.WATCH: 0.2, Severity.WARNING: 0.35, Severity.CRISIS: 0.5}


def alert_id(brand: str, minute: datetime, severity: Severity) -> str:
    """Deterministic id: a redelivered alert replaces itself downstream."""
    key = f"{brand}|{minute.isoformat()}|{int(severity)}".encode()
    return hashlib.blake2b(key, digest_size=16).hexdigest()


def _lp(s: float) -> float:
    """-log10 of the tail probability behind a score in [0, 1]."""
    return -math.log10(max(1.0 - s, 1e-12))


def to_score(s: float) -> float:
    """Map a probability-like score in [0, 1] to a 0-1 scale linear in -log10(1 - s)."""
    return min(1.0, -math.log10(max(1.0 - s, 1e-10)) / 10.0)


@dataclass
class Assessment:
    brand: str
    minute: datetime
    score: float
    severity: Severity
    previous_severity: Severity
    changed: bool
    signals: list[SignalExplanation] = field(default_factory=list)
    summary: str = ""


class BrandState:
    """Detectors and hysteresis state of one brand (a few KB pickled)."""

    __slots__ = ("authors", "below", "dwell", "ev_neg", "ev_up", "n", "neg_share", "reach",
                 "sentiment", "severity", "volume")

    def __init__(self) -> None:
        self.volume = SeasonalDetector(kind="poisson", direction="up")
        self.authors = SeasonalDetector(kind="poisson", direction="up")
        self.reach = SeasonalDetector(kind="gaussian", direction="up")
        self.neg_share = ShareDetector(prior=0.15, direction="up")
        self.sentiment = MeanDetector(prior=0.0, direction="down")
        self.severity = Severity.NONE
        self.dwell = 0  # minutes at the current severity
        self.below = 0  # consecutive minutes below the exit threshold
        self.n = 0
        self.ev_up = 0.0  # accumulated evidence, in -log10 p units
        self.ev_neg = 0.0

    def __getstate__(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in self.__slots__}

    def __setstate__(self, state: dict[str, object]) -> None:
        for k, v in state.items():
            setattr(self, k, v)


class CrisisScorer:
    """Per-brand crisis assessment, one closed ``BrandMinute`` at a time."""

    def __init__(self, min_dwell: int = 10, min_history: int = 30,
                 campaign_watch_share: float = 0.3, decay: float = 0.8,
                 drift: float = 0.3, scale: float = 8.0) -> None:
        self.min_dwell = min_dwell
        self.scale = scale  # evidence (-log10 p) that maps to score 1
        self.decay = decay  # evidence kept from one minute to the next
        self.drift = drift  # -log10 p below this adds no evidence (ordinary minutes)
        self.min_history = min_history  # minutes before a new brand may go past "watch"
        self.campaign_watch_share = campaign_watch_share
        self.brands: dict[str, BrandState] = {}

    def process_one(self, minute: BrandMinute) -> Assessment:
        st = self.brands.get(minute.brand)
        if st is None:
            st = self.brands[minute.brand] = BrandState()
        t, posts = minute.minute, minute.posts
        # Volume counts every post: a viral complaint is mostly reposts of one text. Bot bursts
        # and copy-paste by a few accounts are held back by the unique-authors signal.
        vol = float(minute.posts)
        share = minute.negative / posts if posts else 0.0
        mean_sent = minute.mean_sentiment
        reach = math.log1p(minute.reach)
        s_vol = st.volume.score_one(vol, t)
        s_auth = st.authors.score_one(float(minute.unique_authors), t)
        s_share = st.neg_share.score_one(share, t, n=posts)
        s_sent = st.sentiment.score_one(mean_sent, t, n=posts)
        s_reach = st.reach.score_one(reach, t)
        up = min(s_vol, s_auth)  # many posts from few authors is a bot burst, not a crisis
        neg = max(s_share, s_sent)
        # Evidence accumulates over a few minutes (leaky CUSUM of -log10 p): a crisis that
        # ramps up is caught while each single minute is only mildly unusual.
        cap = 3.0 * self.scale  # bounded, so the all-clear comes minutes after the crisis ends
        ev_up = min(cap, self.decay * st.ev_up + max(0.0, _lp(up) - self.drift))
        ev_neg = min(cap, self.decay * st.ev_neg + max(0.0, _lp(neg) - self.drift))
        score = min(1.0, min(ev_up, ev_neg) / self.scale)  # both sides are needed
        campaign = minute.campaign_posts / posts if posts else 0.0
        candidate = _level(score, ENTER)
        if campaign >= self.campaign_watch_share and to_score(s_vol) >= ENTER[Severity.WATCH]:
            candidate = max(candidate, Severity.WATCH)
        if st.n < self.min_history:
            candidate = min(candidate, Severity.WATCH)
        signals = [
            _sig("volume", vol, st.volume.expected(t), s_vol),
            _sig("unique_authors", minute.unique_authors, st.authors.expected(t), s_auth),
            _sig("negative_share", share, st.neg_share.expected(t), s_share),
            _sig("mean_sentiment", mean_sent, st.sentiment.expected(t), s_sent),
            _sig("reach", float(minute.reach), math.expm1(max(st.reach.expected(t), 0.0)),
                 s_reach),
            _sig("negative_volume", minute.negative,
                 st.volume.expected(t) * st.neg_share.expected(t), neg),
            _sig("campaign_share", campaign, 0.0, min(1.0, campaign)),
            _sig("novelty", minute.new_clusters / posts if posts else 0.0, 0.0,
                 min(1.0, minute.new_clusters / posts) if posts else 0.0),
        ]
        prev = st.severity
        if minute.version > 1:  # an amendment: report, but neither learn nor move state twice
            return Assessment(minute.brand, t, score, prev, prev, False, signals,
                              _summary(minute.brand, prev, signals))
        new = self._hysteresis(st, score, candidate)
        st.ev_up, st.ev_neg = ev_up, ev_neg
        st.volume.learn_one(vol, t)
        st.authors.learn_one(float(minute.unique_authors), t)
        st.neg_share.learn_one(share, t, n=posts)
        st.sentiment.learn_one(mean_sent, t, n=posts)
        st.reach.learn_one(reach, t)
        st.n += 1
        return Assessment(minute.brand, t, score, new, prev, new != prev, signals,
                          _summary(minute.brand, new, signals))

    def _hysteresis(self, st: BrandState, score: float, candidate: Severity) -> Severity:
        cur = st.severity
        if candidate > cur:
            st.severity, st.dwell, st.below = candidate, 0, 0
            return candidate
        st.dwell += 1
        if cur == Severity.NONE:
            return cur
        st.below = st.below + 1 if score < EXIT[cur] and candidate < cur else 0
        if st.below >= self.min_dwell and st.dwell >= self.min_dwell:
            lower = Severity(cur - 1)
            while lower > Severity.NONE and score < EXIT[lower]:
                lower = Severity(lower - 1)
            st.severity, st.dwell, st.below = lower, 0, 0
        return st.severity


def _level(score: float, table: dict[Severity, float]) -> Severity:
    best = Severity.NONE
    for sev, thr in table.items():
        if score >= thr:
            best = max(best, sev)
    return best


def _sig(name: str, observed: float, expected: float, score: float) -> SignalExplanation:
    return SignalExplanation(signal=name, observed=float(observed), expected=float(expected),
                             score=min(1.0, max(0.0, score)))


def _summary(brand: str, sev: Severity, signals: list[SignalExplanation]) -> str:
    top = sorted(signals[:6], key=lambda s: s.score, reverse=True)[:3]
    parts = ", ".join(f"{s.signal} {s.observed:.3g} vs {s.expected:.3g} expected" for s in top)
    return f"{brand}: {sev.label}: {parts}"
