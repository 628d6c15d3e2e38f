"""Feedback that teaches, within bounds (issue 18): what analysts' labels change in detection.

Three kinds of feedback (``schemas.feedback``), each applied idempotently (by its id), so a
worker may read the feedback topic again from the start after a restart:

* **Alert labels** move a brand's *sensitivity bounds*. Every ``false_alarm`` raises the score
  the brand needs to enter warning and crisis (the levels that page) by ``STEP``, capped at
  ``MAX_RAISE`` (warning 0.65 instead of 0.5, crisis 0.85 instead of 0.7: a real crisis, which
  scores ~1, still pages), and teaches the negative share the brand's surges may carry without
  paging: up to the false alarm's own share + ``TOL_MARGIN``, ``TOL_STEP`` per label, capped at
  ``MAX_TOLERANCE`` (55 %; crises run at 65-90 % negative). While the smoothed negative share
  stays under it, the brand stays at "watch" at most. Both apply only to minutes that look
  like the false alarms: a smoothed mean sentiment at or above the lowest false alarm's mood
  minus ``MOOD_MARGIN``, never below ``MIN_MOOD`` (a launch's mixed crowd), and a volume
  shaped like theirs: the recent peak of the smoothed posts / expected posts at or above
  ``VOLUME_MARGIN`` x the lowest false alarm's ratio, never below ``MIN_VOLUME`` (a rush arrives
  at 3-9x). A one-sided negative turn, or a rise slower than theirs (a crisis's first minutes
  at 1-2x), meets the levels as built; so does a crowd without the positives theirs had
  (``MIX_MARGIN``: a negative turn at a rush's volume and mood). ``real`` never makes the brand less
  sensitive: it *lowers* both, if needed, so that the confirmed alert would still have paged,
  and narrows the pattern to moods above its own.
  ``expected`` is stored and shown, and changes nothing (announce the event next time:
  ``crisis-radar expect``). "watch" is never raised: the desk still sees the pattern.
* **Expected events** (a launch, a TV spot...): during one, a brand's minutes page only on a
  negative turn (the negativity side alone at its warning level); volume up with the usual or a
  positive mix stays at "watch" at most, and the volume baselines do not learn the event.
* **Sentiment corrections** teach ``SentimentCorrections``: a nearest-paraphrase memory and an
  online text model (River: bag of words + one-vs-rest logistic regression), with bounded
  influence. Each author's corrections count at most ``per_author_day`` per UTC day (the rest
  are stored, not learned). A text's base label is overridden only where ``min_authors``
  distinct authors corrected close paraphrases of it (word-set Jaccard >= ``min_similarity``)
  to the same label, outnumbering the authors of every other label, and the text model does
  not veto it (probability of that label < ``min_proba``). So one analyst, however many
  corrections, never changes a prediction, and a flood from one account cannot outvote the
  analysts. (Measured: letting the River model decide alone, 5 counted corrections from one
  author flipped 3 of 5 held-out paraphrases back against 100 from 25 analysts with naive
  Bayes, 3 with online logistic regression: it is a veto, not the judge.)

>>> from datetime import datetime, UTC
>>> t = datetime(2026, 11, 23, 10, tzinfo=UTC)
>>> fb = BrandFeedback()
>>> for i in range(4):   # a launch's grumbles: 40 % negative, a mixed mood (-0.05), 5x volume
...     _ = fb.label(f"f{i}", "a1", "false_alarm", 0.8, 2, "ann", t, "", 0.4, -0.05, 5.0)
>>> round(fb.raise_, 2), round(fb.enter(2), 2), round(fb.enter(1), 2), fmt_mood(fb.mood)
(0.15, 0.65, 0.3, '>= -0.20')
>>> fb.looks_like(-0.1, 4.0), fb.looks_like(-0.45, 4.0), fb.enter(2, pattern=False)  # defect
(True, False, 0.5)
>>> fb.volume_floor, fb.looks_like(-0.1, 1.8)   # a crisis's first minutes at 1.8x: not it
(2.5, False)
>>> print(fb.label("f9", "a2", "real", 0.58, 2, "bob", t, "", 0.5, -0.5))  # confirmed at 0.58
... # doctest: +NORMALIZE_WHITESPACE
real: raise 0.15 -> 0.08, tolerated negative share 50% -> 40%, pattern mood >= -0.20 ->
>= -0.20, volume x2.5 -> x2.5 (a confirmed warning at score 0.58, 50% negative, must still
page)
>>> fb.label("f9", "a2", "real", 0.6, 2, "bob", t, "") is None   # the same record again
True
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# The crisis scorer's entry levels (detectors.crisis.ENTER), by severity value.
BASE_ENTER = {1: 0.3, 2: 0.5, 3: 0.7}
STEP = 0.05  # what one false alarm adds to the paging levels
MAX_RAISE = 0.15  # the cap: warning 0.65, crisis 0.85 (0.1/0.25 delayed a defect by 26 min)
PAGING = (2, 3)  # warning and crisis page; watch is never raised
# A false alarm also teaches the negative share the brand's surges may carry without paging
# (a launch's sold-out grumbles): up to the alarm's own share + MARGIN, at most TOL_STEP per
# label, never above MAX_TOLERANCE (crises run at 65-90 % negative: those still page).
TOL_STEP = 0.2
TOL_MARGIN = 0.1
MAX_TOLERANCE = 0.55
SHARE_DECAY = 0.7  # the share compared is smoothed over the last few minutes (EW)
# What the false alarms looked like: their mood (mean sentiment), a mixed crowd for a launch.
# The raise and the tolerated share apply only while the brand's smoothed mean sentiment stays
# at or above the pattern's floor: the lowest false alarm's mood - MOOD_MARGIN, never below
# MIN_MOOD. A one-sided negative turn (a slow defect: -0.45 to -0.6 smoothed, against a launch
# rush's -0.3 to +0.1) is not the pattern and meets the levels as built (a raise for everything
# delayed a slow defect by 52 min on seed 313; -0.35 let a rush's dips page, seed 314).
MOOD_MARGIN = 0.15
MIN_MOOD = -0.4
MOOD_DECAY = 0.7
# ...and their volume shape: a launch rush pages at 3-9x the brand's expected volume, while the
# crises a raise delayed (seeds 4141, 5151: a competitor's crisis spilling over, a slow defect)
# spent their held-back minutes at 1-2.5x. The pattern also needs the brand's smoothed volume
# ratio (EW sums of posts and of expected posts, VOLUME_DECAY per minute) at or above
# VOLUME_MARGIN x the lowest false alarm's ratio, never below MIN_VOLUME (a false alarm at the
# usual volume, or a label stored without its ratio, cannot stretch the pattern over every
# minute of the brand).
VOLUME_MARGIN = 0.5
MIN_VOLUME = 1.5
VOLUME_DECAY = 0.7
# A rush's shape holds for its tail: the ratio compared is the smoothed ratio's recent peak,
# leaking VOLUME_HOLD per minute (half-life ~70 min; a rush lasts 1.5-3 h and its fading tail,
# at 1.5-2x, still paged at the levels as built on seeds 313 and 314).
VOLUME_HOLD = 0.99
# ...and their mix. The rule: volume up with the usual or a positive mix does not page,
# a negative turn still does. A launch rush is a mixed crowd: its positive posts rise with the
# volume, so the brand's smoothed positive share stays near its usual one (a rush page's lowest:
# 0.4-1.05x of it, seeds 313-6161); a negative turn dilutes the positives (crunchly's competitor
# crisis on seed 5151, rush-like in volume, mood and negative share: 0.62x and 0.68x in the
# minutes a label held back, against 0.78x and more on its labelled rush pages). Each false alarm
# teaches its page's lowest mix (the scorer's smoothed positive share over the brand's usual,
# ``CrisisScorer.page_mix``: its own noise is in it); the pattern needs the mix at or above
# MIX_MARGIN x the lowest false alarm's, in this minute or the last (a negative turn holds two
# minutes; a rush's first paging minute, on few posts, dipped to 0.57x its labelled pages' on
# seed 313). 0.8 left 5151's crisis 1 min late, 1.0 let a fourth rush page on 313 and 314.
MIX_MARGIN = 0.9
NO_MIX = 0.0  # no false alarm's mix known (none yet, a label for a page the scorer never saw)
NO_VOLUME = float("inf")  # the lowest false alarm's ratio before any (and for older pickles)
NO_PATTERN = 1.0  # the floor before any false alarm (no smoothed mood reaches it)
KEEP_LABELS = 50  # per brand, newest kept (explain shows them; the raise is a running value)
KEEP_EVENTS = 200  # announced events per brand, newest kept


@dataclass
class Change:
    """One label and what it did to the brand's sensitivity (shown by ``explain``)."""

    feedback_id: str
    alert_id: str
    label: str
    by: str
    at: datetime
    note: str
    before: float  # the raise before and after this label
    after: float
    tolerance_before: float = 0.0  # the tolerated negative share before and after
    tolerance_after: float = 0.0
    mood_before: float = NO_PATTERN  # the pattern's mood floor before and after
    mood_after: float = NO_PATTERN
    volume_before: float = MIN_VOLUME  # the pattern's volume floor before and after
    volume_after: float = MIN_VOLUME
    mix_before: float = NO_MIX  # the pattern's positive-mix floor before and after
    mix_after: float = NO_MIX


@dataclass
class Planned:
    event_id: str
    start: datetime
    end: datetime
    kind: str
    description: str


@dataclass
class BrandFeedback:
    """One brand's learned sensitivity and announced events (pickled with its scorer)."""

    raise_: float = 0.0
    tolerance: float = 0.0  # negative share below which the brand does not page (0: none)
    mood: float = NO_PATTERN  # smoothed mean sentiment at or above which both apply
    ew_neg: float = 0.0  # EW sums of negative and all posts (the smoothed share)
    ew_posts: float = 0.0
    ew_sent: float = 0.0  # EW sums of sentiment and of posts with sentiment (smoothed mood)
    ew_judged: float = 0.0
    volume_low: float = NO_VOLUME  # the lowest false alarm's volume ratio (0: not recorded)
    ew_volume: float = 0.0  # EW sums of posts and of expected posts (the smoothed ratio)
    ew_expected: float = 0.0
    volume_peak: float = 0.0  # the smoothed ratio's recent peak (leaking VOLUME_HOLD a minute)
    mix_low: float = float("inf")  # the lowest false alarm page's positive mix (inf: none known)
    changes: list[Change] = field(default_factory=list)
    events: list[Planned] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)  # feedback/event ids applied

    def enter(self, severity: int, pattern: bool = True) -> float:
        """The score needed to enter ``severity`` (1 watch, 2 warning, 3 crisis); ``pattern``
        False (the minute does not look like the false alarms): the levels as built."""
        base = BASE_ENTER[severity]
        if not pattern:
            return base
        return min(0.95, base + self.raise_) if severity in PAGING else base

    def observe(
        self,
        negative: int,
        posts: int,
        sentiment_sum: float = 0.0,
        judged: int = 0,
        expected: float = 0.0,
    ) -> float:
        """One minute's counts and expected posts; the smoothed negative share
        (``smoothed_mood``: the mood, ``smoothed_volume``: the volume ratio)."""
        self.ew_neg = SHARE_DECAY * self.ew_neg + negative
        self.ew_posts = SHARE_DECAY * self.ew_posts + posts
        self.ew_sent = MOOD_DECAY * self.ew_sent + sentiment_sum
        self.ew_judged = MOOD_DECAY * self.ew_judged + judged
        # at least one post expected a minute: a night's near-zero baseline makes no rush of 3
        self.ew_volume = VOLUME_DECAY * self.ew_volume + posts
        self.ew_expected = VOLUME_DECAY * self.ew_expected + max(expected, 1.0)
        self.volume_peak = max(self.ew_volume / self.ew_expected, VOLUME_HOLD * self.volume_peak)
        return self.smoothed_share()

    def smoothed_share(self) -> float:
        return self.ew_neg / self.ew_posts if self.ew_posts > 0 else 0.0

    def smoothed_mood(self) -> float:
        return self.ew_sent / self.ew_judged if self.ew_judged > 0 else 0.0

    def smoothed_volume(self) -> float:
        """Posts over expected posts, smoothed, at its recent peak (0 before any minute)."""
        return self.volume_peak

    @property
    def volume_floor(self) -> float:
        """The smoothed volume ratio at or above which a minute has the false alarms' shape."""
        if self.volume_low >= NO_VOLUME:
            return MIN_VOLUME
        return max(MIN_VOLUME, VOLUME_MARGIN * self.volume_low)

    @property
    def mix_floor(self) -> float:
        """The positive mix (smoothed positive share / the brand's usual) at or above which a
        minute is the false alarms' mixed crowd (0: no false alarm's mix known, any mix)."""
        return NO_MIX if self.mix_low == float("inf") else MIX_MARGIN * self.mix_low

    def bounds(self) -> dict[str, float]:
        """The running values feedback set (what the worker exports as a metric): the raise of
        the paging levels, the tolerated negative share, and the pattern's floors (mood 1.0: no
        pattern yet; mix 0: any mix)."""
        return {"raise": self.raise_, "tolerated_share": self.tolerance,
                "mood_floor": self.mood, "volume_floor": self.volume_floor,
                "mix_floor": self.mix_floor}  # fmt: skip

    def looks_like(self, mood: float, volume: float, mix: float = float("inf")) -> bool:
        """A minute at this smoothed mean sentiment, volume ratio and positive mix looks like
        the brand's false alarms (the raise and the tolerated share apply); below the pattern's
        mood floor it is a negative turn they never covered, below its volume floor a rise far
        slower than theirs (a crisis's first minutes at 1-2x the usual volume), below its mix
        floor a crowd without the positives their crowds had (a negative turn at a rush's
        volume)."""
        return mood >= self.mood and volume >= self.volume_floor and mix >= self.mix_floor

    def tolerated(self, share: float) -> bool:
        """A surge at this (smoothed) negative share is what the brand's false alarms were."""
        return self.tolerance > 0.0 and share <= self.tolerance

    def label(
        self,
        feedback_id: str,
        alert_id: str,
        label: str,
        score: float,
        severity: int,
        by: str,
        at: datetime,
        note: str,
        negative_share: float = 0.0,
        mean_sentiment: float = -1.0,
        volume_ratio: float = 0.0,
        positive_mix: float | None = None,
    ) -> str | None:
        """Apply one alert label; what it changed (None: applied already). ``mean_sentiment``
        and ``volume_ratio`` (posts / expected posts): the alert minute's (-1 and 0, the
        defaults for labels stored without them: the widest pattern the bounds allow).
        ``positive_mix``: the lowest positive mix of the labelled page, from the scorer's own
        minutes (``CrisisScorer.page_mix``; None: unknown, no mix floor learned)."""
        if feedback_id in self.seen:
            return None
        self.seen.add(feedback_id)
        before, tol, mood, vol = self.raise_, self.tolerance, self.mood, self.volume_floor
        mix = self.mix_floor
        if label == "false_alarm":
            self.raise_ = min(MAX_RAISE, self.raise_ + STEP)
            target = min(MAX_TOLERANCE, negative_share + TOL_MARGIN)
            if target > self.tolerance:
                self.tolerance = min(target, self.tolerance + TOL_STEP)
            self.mood = max(MIN_MOOD, min(self.mood, mean_sentiment - MOOD_MARGIN))
            self.volume_low = min(self.volume_low, max(0.0, volume_ratio))
            if positive_mix is not None:
                self.mix_low = min(self.mix_low, max(0.0, positive_mix))
            why = "false alarm" + (" (at the caps)" if before >= MAX_RAISE else "")
        elif label == "real" and severity in PAGING:
            # the confirmed alert must still page as it did: never less sensitive
            self.raise_ = min(self.raise_, max(0.0, score - BASE_ENTER[severity]))
            self.tolerance = min(self.tolerance, max(0.0, negative_share - TOL_MARGIN))
            if mean_sentiment > -1.0:  # its mood is no longer the false alarms' pattern
                self.mood = max(self.mood, min(NO_PATTERN, mean_sentiment + MOOD_MARGIN))
            name = {2: "warning", 3: "crisis"}[severity]
            why = (
                f"a confirmed {name} at score {score:.2f}, {negative_share:.0%} negative, "
                "must still page"
            )
        else:
            why = f"{label}: no change"
        self.changes.append(Change(feedback_id, alert_id, label, by, at, note, before,
                                   self.raise_, tol, self.tolerance, mood, self.mood, vol,
                                   self.volume_floor, mix, self.mix_floor))  # fmt: skip
        del self.changes[:-KEEP_LABELS]
        if why.endswith("no change"):
            return why
        return (
            f"{label}: raise {before:.2f} -> {self.raise_:.2f}, tolerated negative share "
            f"{tol:.0%} -> {self.tolerance:.0%}, pattern mood {fmt_mood(mood)} -> "
            f"{fmt_mood(self.mood)}, volume x{vol:.2g} -> x{self.volume_floor:.2g}"
            + (
                f", positive mix {fmt_mix(mix)} -> {fmt_mix(self.mix_floor)}"
                if positive_mix is not None or self.mix_floor > NO_MIX
                else ""
            )
            + f" ({why})"
        )

    def expect(
        self, event_id: str, start: datetime, end: datetime, kind: str, description: str
    ) -> bool:
        """Announce a planned event; False if known already."""
        if event_id in self.seen:
            return False
        self.seen.add(event_id)
        self.events.append(Planned(event_id, start, end, kind, description))
        self.events.sort(key=lambda e: e.start)
        del self.events[:-KEEP_EVENTS]
        return True

    def event_at(self, minute: datetime) -> Planned | None:
        for e in self.events:
            if e.start <= minute < e.end:
                return e
        return None


def fmt_mood(floor: float) -> str:
    """The pattern's floor as ``explain`` shows it ("none": no false alarm yet)."""
    return "none" if floor >= NO_PATTERN else f">= {floor:+.2f}"


def fmt_mix(floor: float) -> str:
    """The pattern's positive-mix floor ("any": no false alarm's mix known)."""
    return "any" if floor <= NO_MIX else f">= {floor:.2f}x usual"


def apply_labels(labels: list[dict[str, Any]]) -> BrandFeedback:
    """A brand's sensitivity from its stored labels in time order (what ``explain`` shows: the
    same running value the worker keeps)."""
    fb = BrandFeedback()
    for r in labels:
        fb.label(
            r["feedback_id"],
            r["alert_id"],
            r["label"],
            float(r["score"]),
            int(r["severity"]),
            r["by"],
            r["at"],
            r.get("note", ""),
            float(r.get("negative_share", 0.0)),
            float(r.get("mean_sentiment", -1.0)),
            float(r.get("volume_ratio", 0.0)),
        )
    return fb


# ---------------------------------------------------------------- sentiment corrections
_TOKEN = re.compile(r"[a-z0-9][a-z0-9'_-]+")
# too common to say two texts are paraphrases (and they would make every memory a candidate)
_STOP = frozenset(
    [
        "the",
        "and",
        "for",
        "you",
        "your",
        "are",
        "was",
        "were",
        "this",
        "that",
        "with",
        "have",
        "has",
        "had",
        "not",
        "but",
        "all",
        "just",
        "our",
        "out",
        "they",
        "them",
        "their",
        "what",
        "when",
        "why",
        "how",
        "who",
        "its",
        "it's",
        "can",
        "from",
        "get",
        "got",
        "been",
        "will",
        "would",
        "about",
        "any",
        "there",
        "here",
        "then",
        "than",
        "more",
        "most",
        "very",
        "too",
        "now",
        "one",
        "today",
        "via",
        "is",
        "it",
        "in",
        "on",
        "of",
        "to",
        "at",
        "my",
        "me",
        "so",
        "be",
        "do",
        "an",
        "as",
        "or",
        "if",
        "by",
        "no",
    ]
)
_SCORE = {"negative": -1.0, "neutral": 0.0, "positive": 1.0}


def words(text: str) -> frozenset[str]:
    """The text's word set (lowercase, 2+ characters; handles and links dropped)."""
    text = re.sub(r"https?://\S+|[@#]\w+", " ", text.lower())
    return frozenset(_TOKEN.findall(text)) - _STOP


@dataclass
class _Memory:
    words: frozenset[str]
    label: str
    author: str


class SentimentCorrections:
    """Online sentiment corrections with bounded influence (see the module docstring).

    ``learn`` returns "learned", "capped" (the author's daily quota is spent: stored, not
    learned) or "seen" (applied already). ``correct`` returns the corrected (label, score) of a
    text or None (keep the base model's).
    """

    def __init__(
        self,
        per_author_day: int = 5,
        min_authors: int = 3,
        min_similarity: float = 0.5,
        min_proba: float = 0.2,
        memory: int = 5_000,
    ) -> None:
        from river import compose, feature_extraction, linear_model, multiclass, optim

        self.per_author_day = per_author_day
        self.min_authors = min_authors
        self.min_similarity = min_similarity
        self.min_proba = min_proba
        self.model = compose.Pipeline(
            feature_extraction.BagOfWords(lowercase=True, ngram_range=(1, 2)),
            multiclass.OneVsRestClassifier(linear_model.LogisticRegression(optim.SGD(0.1))),
        )
        self.max_memory = memory
        self.memory: dict[int, _Memory] = {}  # newest ``memory`` corrections learned, by number
        self.index: dict[str, set[int]] = {}  # word -> memories with it (paraphrase lookup)
        self.next_id = 0
        self.quota: Counter[tuple[str, str]] = Counter()  # (author, day) -> corrections counted
        self.seen: set[str] = set()
        self.learned = self.capped = 0

    def learn(self, feedback_id: str, text: str, label: str, author: str, at: datetime) -> str:
        if feedback_id in self.seen:
            return "seen"
        self.seen.add(feedback_id)
        day = at.date().isoformat()
        if self.quota[(author, day)] >= self.per_author_day:
            self.capped += 1
            return "capped"
        self.quota[(author, day)] += 1
        if len(self.quota) > 10_000:  # forget the oldest days' counts
            for key in sorted(self.quota, key=lambda k: k[1])[: len(self.quota) // 2]:
                del self.quota[key]
        self.model.learn_one(text, label)  # type: ignore[arg-type]  # BagOfWords takes a str
        self._remember(_Memory(words(text), label, author))
        self.learned += 1
        return "learned"

    def _remember(self, m: _Memory) -> None:
        i, self.next_id = self.next_id, self.next_id + 1
        self.memory[i] = m
        for w in m.words:
            self.index.setdefault(w, set()).add(i)
        if len(self.memory) > self.max_memory:
            old = min(self.memory)
            for w in self.memory.pop(old).words:
                ids = self.index[w]
                ids.discard(old)
                if not ids:
                    del self.index[w]

    def support(self, text: str) -> dict[str, set[str]]:
        """label -> distinct authors who corrected a close paraphrase of ``text`` to it."""
        w = words(text)
        out: dict[str, set[str]] = {}
        shared: Counter[int] = Counter()
        for word in w:
            shared.update(self.index.get(word, ()))
        for i, inter in shared.items():
            m = self.memory[i]
            if inter / (len(w) + len(m.words) - inter) >= self.min_similarity:
                out.setdefault(m.label, set()).add(m.author)
        return out

    def correct(self, text: str, base_label: str) -> tuple[str, float] | None:
        if not self.memory:
            return None  # no correction yet: the hot path pays one check
        support = self.support(text)
        if not support:
            return None
        # the label most distinct authors gave close paraphrases, if enough of them agree and
        # they outnumber the authors of every other label together
        label = max(sorted(support), key=lambda k: len(support[k]))
        agree = len(support[label])
        others = len(set().union(*(a for k, a in support.items() if k != label)))
        if label == base_label or agree < self.min_authors or agree <= others:
            return None
        # the text model generalises past the exact neighbours; it may veto, never decide
        proba = self.model.predict_proba_one(text).get(label, 0.0)  # type: ignore[arg-type]
        if proba < self.min_proba:
            return None
        return label, _SCORE.get(label, 0.0) * agree / (agree + others)

    def summary(self) -> str:
        return (
            f"{self.learned} corrections learned, {self.capped} over an author's daily "
            f"quota of {self.per_author_day}; overrides need {self.min_authors} authors"
        )
