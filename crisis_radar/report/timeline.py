"""Pure report numbers: milestones of a crisis and sentiment per phase, from plain rows.

Nothing here touches ClickHouse: the queries (``report.queries``) hand over rows, these functions
turn them into numbers, so every figure of the report is unit-testable.

Definitions (docs/report.md):
- baseline: minutes before the first alert (or the first third of the window if there is no
  alert), minus ``guard`` minutes. Band = mean +- max(k * std, min_width) of the per-minute
  negative share and mean sentiment.
- first anomalous minute: start of the run of anomalous minutes (volume above its band, or
  negative share above / mean sentiment below theirs) that ends at detection (else at the peak).
- detection: first alert of severity >= warning; page: created_at of the first crisis alert, or,
  for a replayed stream (raised more than an hour after its minute in wall-clock time), the end
  of its deciding minute: paging follows a closed minute within seconds (docs/paging.md).
- peak: the max-volume minute from the first anomalous minute on.
- recovery: first minute t after the peak where the ``recover_minutes`` minutes from t, pooled,
  are back in the baseline band: negative share within z * binomial standard error (+ tolerance)
  of the baseline share, and mean sentiment within z * sigma / sqrt(posts) (+ tolerance) of the
  baseline mean. Pooling matters: at a few posts per minute one minute's share is 0, 0.5 or 1.
  Windows past the last minute with posts (data not there yet) never count as recovery.

>>> from datetime import datetime, timedelta, UTC
>>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
>>> ms = [Minute(t0 + timedelta(minutes=i), 10, 2, -0.1 * 10) for i in range(60)]
>>> ms += [Minute(t0 + timedelta(minutes=60 + i), 80 - 5 * i, 60 - 4 * i, -40.0 + 2 * i)
...        for i in range(10)]
>>> ms += [Minute(t0 + timedelta(minutes=70 + i), 10, 2, -1.0) for i in range(30)]
>>> al = [Alert(t0 + timedelta(minutes=61), 2, t0 + timedelta(minutes=62)),
...       Alert(t0 + timedelta(minutes=62), 3, t0 + timedelta(minutes=63))]
>>> tl = compute_timeline(ms, al, recover_minutes=5)
>>> [f"{m:%H:%M}" if m else None for m in
...  (tl.first_anomalous, tl.detection, tl.page, tl.peak, tl.recovery)]
['01:00', '01:01', '01:03', '01:00', '01:10']
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from detectors.terms import words_of

WARNING, CRISIS = 2, 3
MINUTE = timedelta(minutes=1)
REPLAY_GAP = timedelta(hours=1)  # created_at this far from its minute: a replay


@dataclass(frozen=True)
class Minute:
    """One brand minute (brand_minutes FINAL row)."""

    minute: datetime
    posts: int
    negative: int
    sentiment_sum: float
    unknown: int = 0  # posts in a language without a sentiment model: no evidence

    @property
    def negative_share(self) -> float:
        n = self.posts - self.unknown
        return self.negative / n if n > 0 else 0.0

    @property
    def mean_sentiment(self) -> float:
        n = self.posts - self.unknown
        return self.sentiment_sum / n if n > 0 else 0.0


@dataclass(frozen=True)
class Alert:
    minute: datetime
    severity: int
    created_at: datetime


@dataclass(frozen=True)
class Band:
    mean: float
    lo: float
    hi: float

    def contains(self, x: float) -> bool:
        return self.lo <= x <= self.hi


@dataclass(frozen=True)
class Baseline:
    """Pooled baseline: negative share, mean sentiment and per-post sentiment std."""

    posts: int = 0
    share: float = 0.0
    mean: float = 0.0
    sigma: float = 0.0

    def contains(
        self, posts: int, negative: int, sentiment_sum: float, z: float = 2.0, tol: float = 0.05
    ) -> bool:
        """Are these pooled counts compatible with the baseline? (no posts: no evidence, False)"""
        if posts == 0:
            return False
        if self.posts == 0:
            return True
        se_share = math.sqrt(self.share * (1 - self.share) / posts)
        se_mean = self.sigma / math.sqrt(posts)
        return (
            abs(negative / posts - self.share) <= z * se_share + tol
            and abs(sentiment_sum / posts - self.mean) <= z * se_mean + tol
        )


def pooled_baseline(minutes: Sequence[Minute]) -> Baseline:
    # over posts with sentiment evidence (a language without a model is not neutral)
    posts = sum(m.posts - m.unknown for m in minutes)
    if not posts:
        return Baseline()
    mean = sum(m.sentiment_sum for m in minutes) / posts
    # E[n_i (mean_i - mu)^2] = per-post variance: estimate it from the minute means.
    live = [m for m in minutes if m.posts > m.unknown]
    var = sum((m.posts - m.unknown) * (m.mean_sentiment - mean) ** 2 for m in live) / len(live)
    return Baseline(posts, sum(m.negative for m in minutes) / posts, mean, math.sqrt(var))


@dataclass
class Timeline:
    baseline_end: datetime | None
    volume: Band
    negative_share: Band
    sentiment: Band
    baseline: Baseline = field(default_factory=Baseline)
    first_anomalous: datetime | None = None
    detection: datetime | None = None  # minute of the first warning-or-worse alert
    page: datetime | None = None  # created_at of the first crisis alert
    peak: datetime | None = None
    peak_posts: int = 0
    recovery: datetime | None = None

    def delay(self, milestone: datetime | None, start: datetime | None = None) -> float | None:
        """Minutes from ``start`` (default: first anomalous minute) to ``milestone``."""
        start = start or self.first_anomalous
        if milestone is None or start is None:
            return None
        return (milestone - start) / MINUTE


def band(values: Sequence[float], k: float = 2.0, min_width: float = 0.0) -> Band:
    """mean +- max(k * std, min_width); an empty input gives an infinitely wide band."""
    if not values:
        return Band(0.0, -math.inf, math.inf)
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    half = max(k * std, min_width)
    return Band(mean, mean - half, mean + half)


def _anomalous(m: Minute, tl: Timeline) -> bool:
    return m.posts > tl.volume.hi or (
        m.posts > 0
        and (m.negative_share > tl.negative_share.hi or m.mean_sentiment < tl.sentiment.lo)
    )


def page_time(alert: Alert) -> datetime:
    """When the page went out in event time (wall-clock created_at means nothing in a replay)."""
    if abs(alert.created_at - alert.minute) > REPLAY_GAP:
        return alert.minute + MINUTE
    return alert.created_at


def compute_timeline(
    minutes: Sequence[Minute],
    alerts: Iterable[Alert],
    *,
    k: float = 2.0,
    guard: int = 5,
    recover_minutes: int = 10,
) -> Timeline:
    """Milestones of one brand's crisis; ``minutes`` sorted, one per minute (gaps = 0 posts)."""
    ms = sorted(minutes, key=lambda m: m.minute)
    als = sorted(alerts, key=lambda a: (a.minute, a.severity))
    warn = next((a for a in als if a.severity >= WARNING), None)
    crisis = [a for a in als if a.severity >= CRISIS]
    if als:
        baseline_end: datetime | None = als[0].minute - guard * MINUTE
    else:
        baseline_end = ms[len(ms) // 3].minute if ms else None
    base = [m for m in ms if baseline_end is not None and m.minute < baseline_end]
    tl = Timeline(
        baseline_end=baseline_end,
        volume=band([m.posts for m in base], k, min_width=2.0),
        negative_share=band(
            [m.negative_share for m in base if m.posts > m.unknown], k, min_width=0.05
        ),
        sentiment=band([m.mean_sentiment for m in base if m.posts > m.unknown], k, min_width=0.05),
        baseline=pooled_baseline(base),
        detection=warn.minute if warn else None,
        page=min(page_time(a) for a in crisis) if crisis else None,
    )
    if not ms:
        return tl
    # Walk back from detection (or the overall peak) over consecutive anomalous minutes.
    anchor = tl.detection or max(ms, key=lambda m: m.posts).minute
    idx = {m.minute: i for i, m in enumerate(ms)}
    i = idx.get(anchor, max((j for j, m in enumerate(ms) if m.minute <= anchor), default=0))
    if tl.detection is None and not _anomalous(ms[i], tl):  # nothing happened: no milestones
        peak = max(ms, key=lambda m: m.posts)
        tl.peak, tl.peak_posts = peak.minute, peak.posts
        return tl
    while i > 0 and _anomalous(ms[i - 1], tl) and ms[i - 1].minute - ms[i].minute == -MINUTE:
        i -= 1
    tl.first_anomalous = ms[i].minute
    after = ms[i:]
    peak = max(after, key=lambda m: m.posts)  # first of equal maxima
    tl.peak, tl.peak_posts = peak.minute, peak.posts
    # Only minutes up to the last one with posts: data that is not there yet is no recovery.
    last = max((j for j, m in enumerate(ms) if m.posts), default=-1)
    rest = ms[idx[peak.minute] + 1 : last + 1]
    for j in range(len(rest) - recover_minutes + 1):
        win = rest[j : j + recover_minutes]
        if tl.baseline.contains(
            sum(m.posts - m.unknown for m in win),  # posts with sentiment evidence
            sum(m.negative for m in win),
            sum(m.sentiment_sum for m in win),
            z=k,
        ):
            tl.recovery = win[0].minute
            break
    return tl


@dataclass(frozen=True)
class Phase:
    name: str
    start: datetime | None
    end: datetime | None  # exclusive
    minutes: int
    posts: int
    negative_share: float
    mean_sentiment: float


def phases(minutes: Sequence[Minute], tl: Timeline) -> list[Phase]:
    """Sentiment before (up to the first anomalous minute), during (to recovery) and after."""
    cuts = [tl.first_anomalous, tl.recovery]
    spans = [("before", None, cuts[0]), ("during", cuts[0], cuts[1]), ("after", cuts[1], None)]
    out = []
    for name, lo, hi in spans:
        if name != "before" and lo is None:
            out.append(Phase(name, lo, hi, 0, 0, 0.0, 0.0))
            continue
        sel = [
            m for m in minutes if (lo is None or m.minute >= lo) and (hi is None or m.minute < hi)
        ]
        posts = sum(m.posts for m in sel)
        neg = sum(m.negative for m in sel)
        sent = sum(m.sentiment_sum for m in sel)
        out.append(
            Phase(
                name,
                lo,
                hi,
                len(sel),
                posts,
                neg / posts if posts else 0.0,
                sent / posts if posts else 0.0,
            )
        )
    return out


@dataclass(frozen=True)
class Complaint:
    """A complaint to the brand (docs/response.md) and its first brand reply, if any."""

    created_at: datetime
    first_reply_at: datetime | None = None

    @property
    def first_response_s(self) -> float | None:
        if self.first_reply_at is None:
            return None
        return max(0.0, (self.first_reply_at - self.created_at).total_seconds())


@dataclass(frozen=True)
class ResponsePhase:
    """How the brand answered the complaints posted in one phase (docs/report.md)."""

    name: str
    complaints: int
    answered_15m: int  # first reply within 15 min
    answered_1h: int
    answered: int  # at all, by the time of the report
    median_first_response_s: float | None  # of the answered ones
    replies: int  # brand replies posted in the phase (to anyone)

    @property
    def answered_15m_share(self) -> float | None:
        return self.answered_15m / self.complaints if self.complaints else None

    @property
    def answered_1h_share(self) -> float | None:
        return self.answered_1h / self.complaints if self.complaints else None

    @property
    def replies_per_complaint(self) -> float | None:
        return self.replies / self.complaints if self.complaints else None


def response_phases(
    complaints: Sequence[Complaint], replies: Sequence[tuple[datetime, int]], tl: Timeline
) -> list[ResponsePhase]:
    """Response before / during / after, on the phases' cuts: complaints by the time they were
    posted, replies (``(minute, count)``) by the minute they were posted."""
    lo, hi = tl.first_anomalous, tl.recovery

    def phase(t: datetime) -> str:
        if lo is None or t < lo:
            return "before"
        return "during" if hi is None or t < hi else "after"

    out = []
    for name in ("before", "during", "after"):
        mine = [c for c in complaints if phase(c.created_at) == name]
        delays = sorted(d for c in mine if (d := c.first_response_s) is not None)
        out.append(
            ResponsePhase(
                name=name,
                complaints=len(mine),
                answered_15m=sum(d <= 900 for d in delays),
                answered_1h=sum(d <= 3600 for d in delays),
                answered=len(delays),
                median_first_response_s=_median(delays),
                replies=sum(n for t, n in replies if phase(t) == name),
            )
        )
    return out


def _median(xs: Sequence[float]) -> float | None:
    if not xs:
        return None
    k = len(xs) // 2
    return xs[k] if len(xs) % 2 else (xs[k - 1] + xs[k]) / 2


def rolling(minutes: Sequence[Minute], w: int) -> list[tuple[datetime, float, float]]:
    """(minute, negative share, mean sentiment) pooled over the trailing ``w`` minutes."""
    out = []
    for i, m in enumerate(minutes):
        win = minutes[max(0, i - w + 1) : i + 1]
        posts = sum(x.posts for x in win)
        if posts:
            out.append(
                (
                    m.minute,
                    sum(x.negative for x in win) / posts,
                    sum(x.sentiment_sum for x in win) / posts,
                )
            )
    return out


def fill_gaps(minutes: Sequence[Minute], start: datetime, end: datetime) -> list[Minute]:
    """One row per minute of [start, end): minutes without posts are stored nowhere."""
    have = {m.minute: m for m in minutes}
    out, t = [], start
    while t < end:
        out.append(have.get(t, Minute(t, 0, 0, 0.0)))
        t += MINUTE
    return out


_WORD = re.compile(r"[#@]?[a-z][a-z0-9']{2,}")
_STOP_TEXT = (
    "the and for you your this that with are was were have has had not but all can just our out "
    "get got what when why how who about from they them their there here its it's i'm im dont "
    "don't cant can't will would again been more than then very too any one still now day"
)
STOP = frozenset(_STOP_TEXT.split())


@dataclass(frozen=True)
class Term:
    term: str
    during: int
    before: int
    lift: float = field(default=0.0)


def top_terms(
    during: Iterable[str | tuple[str, str]],
    before: Iterable[str | tuple[str, str]],
    brand_words: Iterable[str] = (),
    n: int = 15,
) -> list[Term]:
    """Words frequent during the crisis and rarer before (add-one smoothed lift, per text).

    Texts, or (text, language) pairs: words of any script, the language's stopwords dropped
    (``detectors.terms.words_of``)."""
    skip = STOP | {w.lower() for w in brand_words}

    def counts(texts: Iterable[str | tuple[str, str]]) -> tuple[Counter[str], int]:
        c: Counter[str] = Counter()
        k = 0
        for item in texts:
            t, lang = (item, None) if isinstance(item, str) else item
            k += 1
            c.update({w for w in words_of(t, _WORD, lang) if w.lstrip("#@") not in skip})
        return c, k

    cd, nd = counts(during)
    cb, nb = counts(before)
    if not nd:
        return []
    terms = [
        Term(w, c, cb[w], (c / nd) / ((cb[w] + 1) / (nb + 1)))
        for w, c in cd.items()
        if c >= 3 and not w.startswith("@")
    ]
    terms.sort(key=lambda t: (-t.during * math.log1p(t.lift), t.term))
    return terms[:n]
