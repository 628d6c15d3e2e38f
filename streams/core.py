"""The pipeline core: the aggregate and crisis stages as plain objects, apart from Faust.

The enrich stage is ``streams.enrichment.EnrichPartitions``. Each stage owns its state per input
partition and has the same shape: ``process`` a batch of input records, ``tick`` on the clock
(aggregate), ``snapshot`` / ``restore`` (or ``state`` / ``load``) a partition. The same objects
run in the Faust worker (``streams.app``: it only moves batches, makes outputs durable and
writes snapshots), in the offline commands (``crisis_radar.history``: backfill, backtest), in
``evaluate scenarios`` and in tests, so a replay is computed by the code that runs live.

Records are ``(partition, offset, headers, value)`` as read from Kafka; an offline driver makes
the same records (``streams.state.tag`` / ``marker`` headers) without a broker.
"""

from __future__ import annotations

import pickle
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from schemas.feedback import AlertFeedback, ExpectedEvent, Feedback
from schemas.models import BrandMinute, CrisisAlert, ScoredPost, ScoredPostCounts, Severity
from streams import state
from streams.processing import AlertContext, PartitionWindow, build_alert

Rec = tuple[int, int, Any, bytes]  # partition, offset, headers, value


@dataclass
class AggregateResult:
    """What one batch of posts.scored records closed, and counts for metrics."""

    minutes: list[tuple[int, BrandMinute]] = field(default_factory=list)  # (partition, minute)
    late: int = 0  # posts whose minute had already been emitted (amendments or too late)
    per_brand: Counter[str] = field(default_factory=Counter)  # crowd posts
    replies: Counter[str] = field(default_factory=Counter)  # the brands' own posts
    last: dict[int, int] = field(default_factory=dict)  # partition -> last offset in the batch


class AggregateStage:
    """posts.scored -> brand.minutes: one ``PartitionWindow`` per input partition, aligned on
    the ``sources`` posts.raw partitions (their watermark markers), plus the bounded sample of
    posts that explains alerts (``context``, shared with the crisis stage)."""

    def __init__(
        self, lateness_s: float, sources: int, context: AlertContext | None = None
    ) -> None:
        self.lateness_s = lateness_s
        self.sources = sources
        self.context = context if context is not None else AlertContext()
        self.windows: dict[int, PartitionWindow] = {}
        self.seen: dict[int, state.Seen] = {}  # source tags counted, per partition
        self.offsets: dict[int, int] = {}  # last input offset in the state, per partition

    def restore(self, part: int, snap: state.Snapshot | None, wall: datetime) -> int:
        """Install a partition's snapshot (None: fresh); the offset it includes."""
        if snap is None:
            win, seen, offset = PartitionWindow(self.lateness_s), state.Seen(), -1
        else:
            (win, seen), offset = snap.state, snap.offset
            win.restart(wall)
        win.sources = self.sources  # old unaligned snapshots align from here on
        self.windows[part], self.seen[part], self.offsets[part] = win, seen, offset
        return offset

    def snapshot(self, part: int) -> state.Snapshot:
        return state.Snapshot(self.offsets[part], (self.windows[part], self.seen[part]))

    def drop(self, part: int) -> None:
        for d in (self.windows, self.seen, self.offsets):
            d.pop(part, None)

    def process(self, recs: Iterable[Rec], wall: datetime) -> AggregateResult:
        """Count a batch (partitions restored first); the minutes it closed."""
        out = AggregateResult()
        touched: set[int] = set()
        context = self.context
        for part, offset, headers, value in recs:
            win = self.windows[part]
            fresh = offset > self.offsets[part]
            out.last[part] = self.offsets[part] = max(offset, self.offsets[part])
            if not fresh:
                continue  # in the snapshot already
            if not value:  # a watermark marker of an upstream partition
                source, reached, idle, sent = state.read_marker(headers)
                win.mark(source, reached, idle, wall, sent)
                touched.add(part)
                continue
            tag = state.read_tag(headers)
            if not self.seen[part].fresh_tag(tag):
                continue  # a replayed upstream output
            if isinstance(value, bytes):  # from Kafka; the fields counted: ~2x faster
                sp: ScoredPost | ScoredPostCounts = ScoredPostCounts.model_validate_json(value)
            else:
                sp = value  # a ScoredPost handed over in process (offline drivers)
            out.late += win.add(sp, wall, None if tag is None else tag[0])
            if sp.brand_reply:  # the brand's voice: never volume, never an alert's evidence
                out.replies[sp.brand] += 1
                touched.add(part)
                continue
            minute = sp.post.created_at.replace(second=0, microsecond=0)  # = Post.minute
            if context.wants(sp.brand, minute):
                full = sp if isinstance(sp, ScoredPost) else ScoredPost.model_validate_json(value)
                context.add(full, minute)  # <= 50 per brand-minute
            out.per_brand[sp.brand] += 1
            touched.add(part)
        for part in sorted(touched):
            out.minutes += [(part, m) for m in self.windows[part].advance(wall)]
        return out

    def tick(self, wall: datetime) -> list[tuple[int, BrandMinute]]:
        """Clock tick: minutes closed by idle or silent partitions."""
        return [(p, m) for p, win in sorted(self.windows.items()) for m in win.advance(wall)]

    def flush(self) -> list[tuple[int, BrandMinute]]:
        """End of a finite input (offline): close every minute up to the last post's and send
        the amendments held, as the worker does once its partitions fall idle."""
        return [(p, m) for p, win in sorted(self.windows.items()) for m in win.flush()]


def teach(scorer: Any, fb: AlertFeedback | ExpectedEvent) -> str | None:
    """Apply one label or event to a brand's ``CrisisScorer``; what it changed (None: known)."""
    learned = scorer.feedback_of(fb.brand)
    if isinstance(fb, AlertFeedback):
        what: str | None = learned.label(
            fb.feedback_id,
            fb.alert_id,
            fb.label,
            fb.score,
            fb.severity,
            fb.by,
            fb.at,
            fb.note,
            fb.negative_share,
            fb.mean_sentiment,
            fb.volume_ratio,
            scorer.page_mix(fb.brand, fb.minute),  # the labelled page's, from its own minutes
        )
        return what
    if learned.expect(fb.event_id, fb.start, fb.end, fb.kind, fb.describe()):
        return fb.describe()
    return None


@dataclass
class Assessed:
    """One scored minute: for gauges (per brand) and the alert it raised, if any."""

    partition: int
    minute: BrandMinute
    score: float
    severity: Severity
    alert: CrisisAlert | None = None
    evidence: dict[str, float] = field(default_factory=dict)  # per side, vs the warning level


def new_scorer() -> Any:
    from detectors.crisis import CrisisScorer

    return CrisisScorer()


class CrisisStage:
    """brand.minutes -> crisis.alerts: one ``CrisisScorer`` per brand, keyed by brand id bytes
    (as the Faust table ``crisis-state``). ``load`` reads a brand's pickled state on first use
    (the worker: the changelogged table; offline: nothing, or a baseline)."""

    def __init__(
        self,
        brand_words: dict[str, frozenset[str]],
        context: AlertContext,
        load: Callable[[bytes], bytes | None] = lambda key: None,
        make_scorer: Callable[[], Any] = new_scorer,
    ) -> None:
        self.brand_words = brand_words
        self.context = context
        self.load = load
        self.make_scorer = make_scorer
        self.scorers: dict[bytes, tuple[Any, Severity, int]] = {}  # brand -> (.., partition)
        self.learned: dict[bytes, datetime] = {}  # brand -> last minute its scorer learned
        self.offsets: dict[int, int] = {}  # brand.minutes partition -> last offset learned
        # alert labels and announced events by brand, every one seen (crisis.feedback): a
        # brand's scorer learns them when it is loaded, idempotently (by id)
        self.feedback_seen: dict[bytes, dict[str, AlertFeedback | ExpectedEvent]] = {}

    def scorer(self, key: bytes, partition: int) -> tuple[Any, Severity]:
        """A brand's live scorer; on first use, from ``load`` or new."""
        if key not in self.scorers:
            blob = self.load(key)
            fresh = (self.make_scorer(), Severity.NONE)
            scorer, sev, *learned = pickle.loads(blob) if blob else fresh
            self.scorers[key] = (scorer, sev, partition)
            if learned and learned[0] is not None:
                self.learned[key] = learned[0]
            for fb in self.feedback_seen.get(key, {}).values():
                teach(scorer, fb)
        scorer, sev, _ = self.scorers[key]
        return scorer, sev

    def feedback(self, fb: Feedback) -> tuple[bytes, str] | None:
        """An alert label or an announced event (sentiment corrections are the enrich
        stage's): taught to its brand's scorer if held here, else when it is loaded. The
        brand and what changed if the scorer is held and learned something new (its state must
        then be saved)."""
        if not isinstance(fb, AlertFeedback | ExpectedEvent):
            return None
        key = fb.brand.encode()
        fid = fb.feedback_id if isinstance(fb, AlertFeedback) else fb.event_id
        self.feedback_seen.setdefault(key, {})[fid] = fb
        held = self.scorers.get(key)
        if held is None:
            return None
        what = teach(held[0], fb)
        return None if what is None else (key, what)

    def state(self, key: bytes) -> bytes:
        """A brand's pickled state (what ``load`` reads back)."""
        scorer, severity, _ = self.scorers[key]
        return pickle.dumps((scorer, severity, self.learned.get(key)))

    def drop(self, part: int) -> None:
        """A brand.minutes partition moved away: its brands' scorers go with it."""
        for key in [k for k, v in self.scorers.items() if v[2] == part]:
            del self.scorers[key]
            self.learned.pop(key, None)
        self.offsets.pop(part, None)

    def process(
        self, recs: Iterable[tuple[int, int, bytes]], now: datetime | None = None
    ) -> list[Assessed]:
        """Score first versions of minutes, in order; ``now`` stamps alerts (None: the end of
        the deciding minute, for offline runs that must be reproducible)."""
        out: list[Assessed] = []
        for part, offset, value in recs:
            self.offsets[part] = max(self.offsets.get(part, -1), offset)
            minute = BrandMinute.model_validate_json(value)
            assessed = self.score(part, minute, now)
            if assessed is not None:
                out.append(assessed)
        return out

    def score(self, part: int, minute: BrandMinute, now: datetime | None = None) -> Assessed | None:
        """One minute; None if it is an amendment or was learned already (replay)."""
        if minute.version > 1:
            return None  # amended by late posts: stored, but the scorer already saw the minute
        key = minute.brand.encode()
        scorer, previous = self.scorer(key, part)
        if key in self.learned and minute.minute <= self.learned[key]:
            return None  # learned before a restart (replayed offset or re-sent minute)
        self.learned[key] = minute.minute
        assessment = scorer.process_one(minute)
        severity = Severity(int(assessment.severity))
        self.scorers[key] = (scorer, severity, part)
        previous = Severity(int(getattr(assessment, "previous_severity", previous)))
        alert = None
        if assessment.changed and severity != previous:
            stamp = now if now is not None else minute.minute + timedelta(minutes=1)
            words = self.brand_words.get(minute.brand, ())
            alert = build_alert(
                minute.brand, minute, assessment, previous, self.context, stamp, words
            )
        self.context.release(minute.brand, minute.minute)
        evidence = dict(getattr(assessment, "evidence", {}))
        return Assessed(part, minute, float(assessment.score), severity, alert, evidence)
