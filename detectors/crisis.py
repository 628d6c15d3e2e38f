"""Crisis scoring: combine per-signal anomaly scores into a severity with hysteresis.

A crisis needs attention up AND negativity up. Attention: unique posts and unique authors above
their seasonal baseline, or the count of negative posts far above its usual level (a Poisson
CUSUM: a complaint going viral doubles the volume but multiplies the negatives by ten).
Negativity: negative share above its baseline, or mean sentiment below it. A launch (volume up,
sentiment positive) therefore is not a crisis; a copy-paste campaign raises "watch". A burst
carried by a few accounts posting again and again (a bot burst) is held at "warning" at most.
New narrative: negative posts carrying terms the brand's conversation did not carry (burst terms
from ``MinuteAggregator``, several distinct authors) are evidence on both sides, a Poisson CUSUM
against their near-zero usual count; alone they may raise a warning, never a crisis.
Severity enters at higher scores than it exits and holds ``min_dwell`` minutes, so alerts don't
flap on a noisy border.

>>> from datetime import datetime, timedelta, UTC
>>> from schemas.models import BrandMinute
>>> cs = CrisisScorer()
>>> t0 = datetime(2026, 11, 23, tzinfo=UTC)
>>> def bm(i, posts, neg, authors=None):
...     return BrandMinute(brand="acme", minute=t0 + timedelta(minutes=i), posts=posts,
...                        unique_posts=posts, unique_authors=authors or posts, negative=neg,
...                        neutral=posts - neg, sentiment_sum=-0.5 * neg)
>>> quiet = [cs.process_one(bm(i, 10, 1 + i % 2)) for i in range(240)]
>>> max(a.severity for a in quiet).label
'none'
>>> a = cs.process_one(bm(240, 60, 40))
>>> a.severity.label, a.changed, a.signals[0].signal
('crisis', True, 'volume')
>>> len(alert_id("acme", a.minute, a.severity))
32
>>> bots = CrisisScorer()   # 60 negative posts a minute from the same 12 accounts
>>> _ = [bots.process_one(bm(i, 10, 1 + i % 2)) for i in range(240)]
>>> max(bots.process_one(bm(240 + i, 60, 40, authors=12)).severity for i in range(30)).label
'warning'
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from detectors.anomaly import (
    Features,
    MeanDetector,
    SeasonalDetector,
    SeriesDetector,
    ShareDetector,
)
from detectors.count import CountDetector, Seasonality
from detectors.feedback import BrandFeedback
from schemas.models import BrandMinute, Severity, SignalExplanation

# Scores are -log10(p)/scale of the combined evidence: 0.3 ~ p 1e-2.4, 0.5 ~ 1e-4, 0.7 ~ 1e-5.6
# (scale 8: tuned on seeds 101/102, 10 was slower with no fewer false warnings to show for it).
ENTER = {Severity.WATCH: 0.3, Severity.WARNING: 0.5, Severity.CRISIS: 0.7}
EXIT = {Severity.WATCH: 0.2, Severity.WARNING: 0.35, Severity.CRISIS: 0.5}
_LOG10E = math.log10(math.e)
MIX_DECAY = 0.7  # the positive share compared with the usual one is smoothed (EW per minute)
KEEP_PAGES = 8  # a brand's last pages whose lowest positive mix a label may still teach


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


def poisson_cusum_step(
    ev: float, k: int, lam0: float, mult: float, cap: float, step: float = math.inf
) -> float:
    """One step of a Poisson CUSUM (log10 likelihood ratio of rate ``mult * lam0`` vs ``lam0``).

    Drifts down under the usual rate (so noise does not pile up, unlike a leaky sum of
    p-values) and climbs fast when counts jump ``mult``-fold, even at night's low counts.
    ``step`` caps what one count adds, so one freak count is not enough on its own.

    >>> round(poisson_cusum_step(0.0, 4, 0.2, 12.0, 24.0), 2)   # 4 negatives where 0.2 expected
    3.36
    >>> poisson_cusum_step(3.36, 0, 0.2, 12.0, 24.0) < 3.36
    True
    """
    llr = min(step, k * math.log10(mult) - (mult - 1.0) * lam0 * _LOG10E)
    return min(cap, max(0.0, ev + llr))


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
    # each side's accumulated evidence as a fraction of the warning level (1.0 = at the level)
    evidence: dict[str, float] = field(default_factory=dict)
    expected_event: str = ""  # the announced event this minute falls in (detectors.feedback)


class BrandState:
    """Detectors and hysteresis state of one brand (a few KB pickled)."""

    __slots__ = (
        "authors",
        "below",
        "bot",
        "dwell",
        "ev_nc",
        "ev_neg",
        "ev_terms",
        "ev_up",
        "ew_judged",
        "ew_pos",
        "ew_posts",
        "ew_repeats",
        "mix",
        "n",
        "neg_share",
        "pages",
        "pos_share",
        "reach",
        "sentiment",
        "severity",
        "terms_base",
        "volume",
    )

    def __init__(
        self,
        season_alpha: float = 0.002,
        volume_model: str = "seasonal",
        seasonality: Seasonality = "auto",
        volume_factory: Callable[[], SeriesDetector] | None = None,
    ) -> None:
        self.volume: SeriesDetector
        self.authors: SeriesDetector
        if volume_factory is not None:  # evaluation: another detector in the volume slot
            self.volume, self.authors = volume_factory(), volume_factory()
        elif volume_model == "count":  # seasonality none / daily / weekly chosen online
            self.volume = CountDetector(seasonality=seasonality, direction="up")
            self.authors = CountDetector(seasonality=seasonality, direction="up")
        else:  # the additive hour-of-day + day-of-week model (the default)
            self.volume = SeasonalDetector(
                kind="poisson", direction="up", season_alpha=season_alpha
            )
            self.authors = SeasonalDetector(
                kind="poisson", direction="up", season_alpha=season_alpha
            )
        self.reach = SeasonalDetector(kind="gaussian", direction="up", season_alpha=season_alpha)
        self.neg_share = ShareDetector(prior=0.15, direction="up")
        self.sentiment = MeanDetector(prior=0.0, direction="down")
        self.severity = Severity.NONE
        self.dwell = 0  # minutes at the current severity
        self.below = 0  # consecutive minutes below the exit threshold
        self.n = 0
        self.ev_up = 0.0  # accumulated evidence, in -log10 p units
        self.ev_neg = 0.0
        self.ev_nc = 0.0  # Poisson CUSUM of the negative count (log10 likelihood ratio)
        self.ew_posts = 0.0  # EW sums of posts and of repeat posts (posts - unique authors)
        self.ew_repeats = 0.0
        self.bot = False  # this episode looks like a bot burst (sticky until severity none)
        self.ev_terms = 0.0  # Poisson CUSUM of negative posts carrying burst terms
        self.terms_base = 0.0  # their usual count per minute (EW, learned while calm)
        # The positive mix (detectors.feedback): the usual positive share (learned while calm),
        # EW sums of positive posts and posts with sentiment, and the last pages' lowest mix
        # ([first minute, last minute, lowest mix] per page at warning or above).
        self.pos_share = ShareDetector(prior=0.25, direction="down")
        self.ew_pos = 0.0
        self.ew_judged = 0.0
        self.pages: list[list[Any]] = []
        self.mix = 1.0  # the last minute's mix

    def __getstate__(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in self.__slots__}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__init__()  # type: ignore[misc]  # defaults for slots newer than the pickle
        for k, v in state.items():
            setattr(self, k, v)


class CrisisScorer:
    """Per-brand crisis assessment, one closed ``BrandMinute`` at a time.

    ``neg_count_mult``: the negative-count CUSUM tests for negatives at this multiple of their
    usual rate (12: a TV-spot burst, x1.5-3.5 with the usual mix, drifts it down). Bot bursts:
    when posts minus unique authors (repeat posts) make up ``bot_repeat`` of the recent posts
    (EW, ``bot_decay`` per minute, at least ``bot_min_posts``), severity stops at ``bot_cap``.
    ``attention_scale``: evidence that maps attention to score 1 (8 = ``scale``; 5.6 gave no
    held-out gain before the narrative signal and 4x the false warnings with it).
    ``term_*``: the new-narrative CUSUM (``term_mult`` x the usual count of negative burst-term
    posts, at least ``term_floor`` a minute, leaking ``term_decay`` per minute); ``term_sides``
    "both" (negativity and attention, the latter capped at ``term_attention_cap`` x the warning
    level), "negativity" or "off". ``season_alpha``: per-minute learning rate of the volume/authors
    hour-of-day offsets (0.02, the SeasonalDetector default, turned them into a fast second
    level that jumped at hour boundaries: p < 1e-4 in 0.7-1.9 % of quiet minutes of the
    tuning seeds; 0.002: 0.006-0.08 %; the price: a new brand's hour offsets take days to learn,
    the short-term correction covers the daily rhythm meanwhile; used by ``volume_model``
    "seasonal" only). ``volume_model``: "seasonal" (default, ``SeasonalDetector``) or "count"
    (``detectors.count.CountDetector`` for volume and unique authors, ``seasonality`` "auto" =
    none / daily / weekly chosen online per brand). On fresh scenario seeds 1111/2222 the count
    path gave the same recall, median delay and false warnings (one event 1 min earlier) for
    twice the per-brand state, so the default stayed (docs/detection.md, "Count path").
    ``volume_factory``: evaluation only (``evaluate scenarios --detector``): builds each
    brand's volume and unique-authors detectors instead (any ``SeriesDetector``: a score in
    [0, 1] read as 1 - tail probability, and ``expected(t)``); a scorer holding one pickles
    only if the factory does.
    """

    def __init__(
        self,
        min_dwell: int = 10,
        min_history: int = 30,
        campaign_watch_share: float = 0.3,
        decay: float = 0.8,
        drift: float = 0.3,
        scale: float = 8.0,
        neg_count_mult: float = 12.0,
        bot_repeat: float = 0.12,
        bot_decay: float = 0.9,
        bot_min_posts: float = 10.0,
        bot_cap: Severity = Severity.WARNING,
        attention_scale: float = 8.0,
        season_alpha: float = 0.002,
        term_mult: float = 10.0,
        term_floor: float = 0.02,
        term_sides: str = "both",
        term_decay: float = 0.9,
        term_attention_cap: float = 1.0,
        volume_model: str = "seasonal",
        seasonality: Seasonality = "auto",
        volume_factory: Callable[[], SeriesDetector] | None = None,
    ) -> None:
        self.min_dwell = min_dwell
        self.volume_model, self.seasonality = volume_model, seasonality
        self.volume_factory = volume_factory
        self.scale = scale  # evidence (-log10 p) that maps to score 1
        self.attention_scale = attention_scale
        self.season_alpha = season_alpha
        self.decay = decay  # evidence kept from one minute to the next
        self.drift = drift  # -log10 p below this adds no evidence (ordinary minutes)
        self.min_history = min_history  # minutes before a new brand may go past "watch"
        self.campaign_watch_share = campaign_watch_share
        self.neg_count_mult = neg_count_mult
        self.bot_repeat, self.bot_decay, self.bot_min_posts = bot_repeat, bot_decay, bot_min_posts
        self.bot_cap = bot_cap
        self.term_mult, self.term_floor, self.term_sides = term_mult, term_floor, term_sides
        self.term_decay, self.term_attention_cap = term_decay, term_attention_cap
        self.brands: dict[str, BrandState] = {}
        self.feedback: dict[str, BrandFeedback] = {}

    def feedback_of(self, brand: str) -> BrandFeedback:
        """A brand's learned sensitivity and announced events (detectors.feedback)."""
        fbs: dict[str, BrandFeedback] = self.__dict__.setdefault("feedback", {})  # older pickles
        fb = fbs.get(brand)
        if fb is None:
            fb = fbs[brand] = BrandFeedback()
        return fb

    def page_mix(self, brand: str, minute: datetime) -> float | None:
        """The lowest positive mix of the brand's page around ``minute`` (an alert's deciding
        minute), None if the scorer holds no such page (detectors.feedback: what a label on
        it teaches)."""
        st = self.brands.get(brand)
        for first, last, low in reversed(st.pages if st else []):
            if first <= minute <= last:
                return float(low)
        return None

    def process_one(self, minute: BrandMinute) -> Assessment:
        st = self.brands.get(minute.brand)
        if st is None:
            st = self.brands[minute.brand] = BrandState(
                self.season_alpha,
                self.__dict__.get("volume_model", "seasonal"),
                self.__dict__.get("seasonality", "auto"),  # older pickles: the old model
                self.__dict__.get("volume_factory"),
            )
        t, posts = minute.minute, minute.posts
        # Volume counts every post: a viral complaint is mostly reposts of one text. Bot bursts
        # and copy-paste by a few accounts are held back by the unique-authors signal.
        vol = float(minute.posts)
        # Negativity only over posts with sentiment evidence: posts in a language without a
        # model ("unknown") neither dilute the negative share nor pull the mean to neutral.
        judged = minute.sentiment_posts
        share = minute.negative_share
        mean_sent = minute.mean_sentiment
        reach = math.log1p(minute.reach)
        # River-style feature dicts, scored now and learned at the end of the minute
        x_vol: Features = {"value": vol, "t": t}
        x_auth: Features = {"value": float(minute.unique_authors), "t": t}
        x_share: Features = {"value": share, "n": judged, "t": t}
        x_sent: Features = {"value": mean_sent, "n": judged, "t": t}
        x_reach: Features = {"value": reach, "t": t}
        s_vol = st.volume.score_one(x_vol)
        s_auth = st.authors.score_one(x_auth)
        s_share = st.neg_share.score_one(x_share)
        s_sent = st.sentiment.score_one(x_sent)
        s_reach = st.reach.score_one(x_reach)
        up = min(s_vol, s_auth)  # many posts from few authors is a bot burst, not a crisis
        neg = max(s_share, s_sent)
        # Evidence accumulates over a few minutes (leaky CUSUM of -log10 p): a crisis that
        # ramps up is caught while each single minute is only mildly unusual.
        cap = 3.0 * self.scale  # bounded, so the all-clear comes minutes after the crisis ends
        ev_up = min(cap, self.decay * st.ev_up + max(0.0, _lp(up) - self.drift))
        ev_neg = min(cap, self.decay * st.ev_neg + max(0.0, _lp(neg) - self.drift))
        warn = self.scale * ENTER[Severity.WARNING]  # evidence at the warning level, per side
        warn_att = self.attention_scale * ENTER[Severity.WARNING]
        exp_neg = max(st.volume.expected(t) * st.neg_share.expected(t), 0.05)
        ev_nc = st.ev_nc
        if self.neg_count_mult > 1.0:
            # at most 0.7 of the attention side's warning level per minute (half the
            # negativity side's): it takes two minutes of negatives
            ev_nc = poisson_cusum_step(
                st.ev_nc, minute.negative, exp_neg, self.neg_count_mult, cap, step=warn / 2
            )
        # New narrative: negative posts carrying terms the brand's conversation did not carry
        # (MinuteAggregator's burst terms), against their near-zero usual count.
        exp_bt = max(st.terms_base, self.term_floor)
        ev_terms = st.ev_terms
        if self.term_mult > 1.0:
            ev_terms = poisson_cusum_step(
                self.term_decay * st.ev_terms,
                minute.burst_term_negative,
                exp_bt,
                self.term_mult,
                cap,
                step=warn / 2,
            )
        attention = max(ev_up, ev_nc)
        ev_negativity = max(ev_neg, ev_terms) if self.term_sides != "off" else ev_neg
        if self.term_sides == "both":  # capped: alone it may warn, never call a crisis
            attention = max(
                attention,
                min(
                    ev_terms * self.attention_scale / self.scale, self.term_attention_cap * warn_att
                ),
            )
        # both sides are needed; each is measured against its own scale
        score = min(1.0, attention / self.attention_scale, ev_negativity / self.scale)
        campaign = minute.campaign_posts / posts if posts else 0.0
        # the positive mix: the smoothed positive share over the brand's usual one
        ew_pos = MIX_DECAY * st.ew_pos + minute.positive
        ew_judged = MIX_DECAY * st.ew_judged + judged
        mix = (ew_pos / ew_judged) / max(st.pos_share.expected(t), 0.02) if ew_judged else 1.0
        fb = self.__dict__.get("feedback", {}).get(minute.brand)
        pattern = False  # this minute looks like the brand's false alarms (detectors.feedback)
        if fb is not None:
            if minute.version == 1:
                fb.observe(
                    minute.negative, posts, minute.sentiment_sum, judged, st.volume.expected(t)
                )
            # a negative turn holds: the mix below the floor this minute and the last (one
            # minute's mix at a rush's first paging minute, on few posts, is noise: seed 313)
            pattern = fb.looks_like(fb.smoothed_mood(), fb.smoothed_volume(), max(mix, st.mix))
        enter = ENTER if fb is None else {s: fb.enter(int(s), pattern) for s in ENTER}
        candidate = _level(score, enter)
        planned = None if fb is None else fb.event_at(t)
        if pattern and fb is not None and fb.tolerated(fb.smoothed_share()):
            candidate = min(candidate, Severity.WATCH)  # what its false alarms were
        if planned is not None and ev_negativity < warn:
            # an announced event: volume up with the usual or a positive mix does not page; a
            # negative turn (the negativity side alone at its warning level) still does
            candidate = min(candidate, Severity.WATCH)
        if campaign >= self.campaign_watch_share and to_score(s_vol) >= ENTER[Severity.WATCH]:
            candidate = max(candidate, Severity.WATCH)
        # Bot burst: the same few accounts post minute after minute (10 bots, 20 posts a
        # minute), while crisis posts come from distinct people.
        ew_posts = self.bot_decay * st.ew_posts + posts
        ew_rep = self.bot_decay * st.ew_repeats + (posts - minute.unique_authors)
        repeat = ew_rep / ew_posts if ew_posts > 0 else 0.0
        bot = st.bot or (ew_posts >= self.bot_min_posts and repeat >= self.bot_repeat)
        if bot:
            candidate = min(candidate, self.bot_cap)
        if st.n < self.min_history:
            candidate = min(candidate, Severity.WATCH)
        evidence = {
            "attention": attention / warn_att,
            "negativity": ev_negativity / warn,
            "negative_count": ev_nc / warn_att,
            "new_terms": ev_terms / warn,
            "repeat_share": repeat,
        }
        signals = [
            _sig("volume", vol, st.volume.expected(t), s_vol),
            _sig("unique_authors", minute.unique_authors, st.authors.expected(t), s_auth),
            _sig("negative_share", share, st.neg_share.expected(t), s_share),
            _sig("mean_sentiment", mean_sent, st.sentiment.expected(t), s_sent),
            _sig("reach", float(minute.reach), math.expm1(max(st.reach.expected(t), 0.0)), s_reach),
            _sig("negative_volume", minute.negative, exp_neg, min(1.0, ev_nc / cap)),
            _sig("campaign_share", campaign, 0.0, min(1.0, campaign)),
            _sig(
                "novelty",
                minute.new_clusters / posts if posts else 0.0,
                0.0,
                min(1.0, minute.new_clusters / posts) if posts else 0.0,
            ),
            _sig(
                "repeat_posts",
                repeat,
                0.0,
                min(1.0, repeat / (2 * self.bot_repeat)),
                "bot-like: capped at " + self.bot_cap.label if bot else "",
            ),
            _sig(
                "new_terms",
                minute.burst_term_negative,
                exp_bt,
                min(1.0, ev_terms / warn),
                "new terms: " + ", ".join(minute.burst_terms) if minute.burst_terms else "",
            ),
        ]
        prev = st.severity
        event = "" if planned is None else planned.description
        if fb is not None and (fb.raise_ > 0 or fb.tolerance > 0):
            # what applied to this minute: nothing when it does not look like the false alarms
            evidence["sensitivity_raise"] = fb.raise_ if pattern else 0.0
            evidence["tolerated_negative_share"] = fb.tolerance if pattern else 0.0
        if minute.version > 1:  # an amendment: report, but neither learn nor move state twice
            return Assessment(
                minute.brand,
                t,
                score,
                prev,
                prev,
                False,
                signals,
                _summary(minute.brand, prev, signals),
                evidence,
                event,
            )
        new = self._hysteresis(st, score, candidate)
        st.ev_up, st.ev_neg, st.ev_nc, st.ev_terms = ev_up, ev_neg, ev_nc, ev_terms
        if new == Severity.NONE:  # a narrative in progress must not become its own baseline
            st.terms_base += 0.002 * (minute.burst_term_negative - st.terms_base)
            if judged:  # nor a surge's mix the usual one
                st.pos_share.learn_one({"value": minute.positive / judged, "n": judged, "t": t})
        st.ew_pos, st.ew_judged, st.mix = ew_pos, ew_judged, mix
        if new >= Severity.WARNING:  # a page: its lowest mix, for a label it may get
            if prev >= Severity.WARNING and st.pages:
                st.pages[-1][1] = t
                st.pages[-1][2] = min(st.pages[-1][2], mix)
            else:
                st.pages.append([t, t, mix])
                del st.pages[:-KEEP_PAGES]
        st.ew_posts, st.ew_repeats = ew_posts, ew_rep
        st.bot = bot and new > Severity.NONE
        if planned is None:  # an announced launch must not become the usual volume
            st.volume.learn_one(x_vol)
            st.authors.learn_one(x_auth)
            st.reach.learn_one(x_reach)
        st.neg_share.learn_one(x_share)
        st.sentiment.learn_one(x_sent)
        st.n += 1
        return Assessment(
            minute.brand,
            t,
            score,
            new,
            prev,
            new != prev,
            signals,
            _summary(minute.brand, new, signals),
            evidence,
            event,
        )

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


def _sig(
    name: str, observed: float, expected: float, score: float, detail: str = ""
) -> SignalExplanation:
    # = SignalExplanation(signal=name, ...), skipping the checks the values plainly meet
    return SignalExplanation.checked(
        name, float(observed), float(expected), min(1.0, max(0.0, score)), detail
    )


def _summary(brand: str, sev: Severity, signals: list[SignalExplanation]) -> str:
    top = sorted(signals[:6], key=lambda s: s.score, reverse=True)[:3]
    parts = ", ".join(f"{s.signal} {s.observed:.3g} vs {s.expected:.3g} expected" for s in top)
    return f"{brand}: {sev.label}: {parts}"
