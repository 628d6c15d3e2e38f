"""Per-stage processing for the agents, without Faust: testable on plain lists.

Each class turns a batch of input records into output records and keeps the stage's state.
The agents in ``streams.app`` only move batches between topics, sinks and these objects.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import xxhash
import yaml

from detectors.language import identify_many
from detectors.terms import brand_words, post_terms, words_of
from detectors.text import normalize
from schemas.models import (
    BrandMinute,
    CrisisAlert,
    DeadLetter,
    Post,
    ScoredPost,
    ScoredPostCounts,
    Severity,
    TopCluster,
    TopPost,
)
from schemas.validate import decode_post


def load_brand_labels(path: Path) -> dict[str, tuple[str, str]]:
    """brand id -> (group, team) from the watchlist, for metric labels."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {
        str(b["id"]): (str(b.get("group", "")), str(b.get("team", "")))
        for b in data.get("brands", [])
    }


def load_brand_words(path: Path) -> dict[str, frozenset[str]]:
    """brand id -> its own words (keywords, hashtags, handles): never a 'top term' of an alert."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    out: dict[str, frozenset[str]] = {}
    for b in data.get("brands", []):
        names = [b["id"], b.get("name", "")]
        keywords = b.get("keywords") or []
        if isinstance(keywords, dict):  # per language: {all: [...], pt: [...]}
            keywords = [k for terms in keywords.values() for k in terms or ()]
        names += [*keywords, *b.get("hashtags", []), *b.get("handles", [])]
        out[str(b["id"])] = frozenset(w for n in names for w in str(n).lower().split())
    return out


def route_key(post: Post) -> bytes:
    """posts.valid key: hash of the normalised text, so exact duplicates share a partition."""
    return xxhash.xxh3_64_hexdigest(normalize(post.text).encode()).encode()


def validate_batch(
    raws: Iterable[bytes], source: str, now: datetime
) -> tuple[list[Post], list[DeadLetter]]:
    posts: list[Post] = []
    dead: list[DeadLetter] = []
    for raw in raws:
        out = decode_post(raw, source, now)
        (posts if isinstance(out, Post) else dead).append(out)  # type: ignore[arg-type]
    return posts, dead


class Enricher:
    """Dedup + brand match + language + sentiment: one ScoredPost per (post, matched brand).

    The language (``ScoredPost.lang``) is decided for posts where a brand occurs only: the
    platform's tag when it is a language, else the text (detectors.language); unmatched posts
    cost nothing. It decides the per-language keywords, the brands' ``languages`` filter and
    the stopwords of the post's terms."""

    def __init__(self, watchlist_path: Path, dedup_horizon_s: float, seed: int = 0) -> None:
        from detectors.brands import BrandMatcher, Watchlist
        from detectors.dedup import Deduplicator
        from detectors.sentiment_multi import MultiSentiment

        self.matcher = BrandMatcher(Watchlist.from_yaml(watchlist_path))
        self.skip_words = brand_words(self.matcher.watchlist.brands)  # never a narrative term
        self.dedup = Deduplicator(horizon_s=dedup_horizon_s, seed=seed)
        # the model of each post's language (its platform tag, else identified); "unknown"
        # for a language without one
        self.sentiment = MultiSentiment.load_default()
        self.unmatched = 0
        self.repeated = 0  # posts read again (same platform and id within the dedup horizon)
        # Reposts and copy-paste repeat texts (~30 % of a simulated week's posts): the language
        # of a (text, platform tag) and the sentiment of a (text, language) are pure functions
        # of them, so each is decided once while it is remembered (bounded: cleared when full);
        # so are a single-brand post's narrative terms.
        self._langs: dict[tuple[str, str | None], str] = {}
        self._sentiments: dict[tuple[str, str], Any] = {}
        self._terms: dict[tuple[str, str], list[str]] = {}  # read only: ScoredPost copies them

    def process(
        self, posts: Sequence[Post], now: datetime, dedup: Any = None, corrections: Any = None
    ) -> list[ScoredPost]:
        """``dedup``: the input partition's index (streams/state.py), else ``self.dedup``;
        ``corrections``: its analysts' sentiment corrections (detectors.feedback), applied
        after the base model."""
        dedup = self.dedup if dedup is None else dedup
        # A post read again (the same platform and id: overlapping exports, a source polling
        # the same page twice) counts once, as its first read: its key is remembered with the
        # dedup index (its horizon) once the batch went through. Only what comes out counts,
        # so the count does not depend on how records were batched.
        has, batch = dedup.has_post, set[str]()
        # the brand's own voice: a reply, kept apart from the crowd; outputs stay in input
        # order (the next stage drops an offset lower than one it saw as a replay)
        pending: dict[int, list[ScoredPost]] = {}  # index in scans they go before -> replies
        official_of = self.matcher.official_of
        # Brands are found without a language first; only posts where one could match get
        # their language decided (~40 us each), then it picks per-language keywords and
        # applies the brands' `languages` filter (a platform tag or the identified language).
        scans: list[tuple[Post, Any]] = []
        for p in posts:
            own = official_of(p.platform, p.author.id, p.author.handle)
            if own is not None:
                if not self._first_read(p.key, batch, has):
                    continue
                pending.setdefault(len(scans), []).append(self._reply(p, own, now))
                continue
            found = self.matcher.scan(p.text, tuple(p.hashtags), tuple(p.mentions))
            if found is not None:
                scans.append((p, found))
            else:
                self.unmatched += 1
        matched: list[tuple[Post, list[str]]] = []
        langs: list[str] = []
        replies: dict[int, list[ScoredPost]] = {}  # index in matched they go before -> replies
        scan_langs = _memo(
            self._langs, [(p.text, p.lang) for p, _ in scans],
            lambda keys: identify_many([t for t, _ in keys], [h for _, h in keys]),
        )  # fmt: skip
        for j, ((p, found), lang) in enumerate(zip(scans, scan_langs, strict=True)):
            if j in pending:
                replies.setdefault(len(matched), []).extend(pending.pop(j))
            brands = self.matcher.resolve(found, lang)
            if brands:
                if not self._first_read(p.key, batch, has):
                    continue
                matched.append((p, brands))
                langs.append(lang)
            else:
                self.unmatched += 1
        for rs in pending.values():  # after the last post scanned
            replies.setdefault(len(matched), []).extend(rs)
        # Dedup sees every matched post in arrival order; unmatched posts cannot alert anyone.
        # the model of each post's language; "unknown" for a language without one
        predict = self.sentiment.predict_resolved
        sentiments = _memo(
            self._sentiments, [(p.text, lang) for (p, _), lang in zip(matched, langs, strict=True)],
            lambda keys: predict([t for t, _ in keys], [g for _, g in keys]),
        )  # fmt: skip
        skip = self.skip_words
        single_terms = iter(_memo(  # a single-brand post's terms: of its (text, language)
            self._terms,
            [(p.text, lang) for (p, brands), lang in zip(matched, langs, strict=True)
             if len(brands) == 1],
            lambda keys: [post_terms(t, 1, skip, g) for t, g in keys],
        ))  # fmt: skip
        out: list[ScoredPost] = []
        checked = ScoredPost.checked
        for i, ((p, brands), s, lang) in enumerate(zip(matched, sentiments, langs, strict=True)):
            if replies and i in replies:
                out += replies.pop(i)
            d = dedup.process_one(p.text, p.author.id, p.created_at, p.repost_of, post_id=p.post_id)
            if len(brands) == 1:
                terms = next(single_terms)
            else:
                terms = post_terms(p.text, len(brands), skip, lang)
            label, score = s.label, s.score
            if corrections is not None and corrections.memory:
                fixed = corrections.correct(p.text, label)
                if fixed is not None:
                    label, score = fixed
            to = (
                self.matcher.addressed(p.text, p.mentions)
                if label == "negative" and p.repost_of is None
                else ()
            )  # only complaints need it: addressing is looked up for negative originals
            for brand in brands:
                out.append(
                    checked(
                        p, brand, label, max(-1.0, min(1.0, score)), d.cluster_id,
                        not d.is_first, d.cluster_size, d.distinct_authors, d.campaign, now,
                        terms, lang, brand in to,
                    )  # = ScoredPost(post=p, brand=brand, ...), skipping checks plainly met
                )  # fmt: skip
        out += [r for rs in replies.values() for r in rs]  # after the last crowd post
        note, prev = dedup.note_post, None
        for sp in out:  # the batch went through: its posts count as read (has_post)
            if sp.post is not prev:
                prev = sp.post
                note(prev.key, prev.created_at)
        return out

    def _first_read(self, key: str, batch: set[str], has: Callable[[str], bool]) -> bool:
        """False (and counted) for a post read before: in this batch or within the horizon."""
        if key in batch or has(key):
            self.repeated += 1
            return False
        batch.add(key)
        return True

    @staticmethod
    def _reply(p: Post, brand: str, now: datetime) -> ScoredPost:
        """A post of ``brand``'s official account: no dedup (its replies must not cluster with
        the crowd's posts), no sentiment (it is not counted), no narrative terms."""
        return ScoredPost(
            post=p, brand=brand, sentiment_label="neutral", sentiment_score=0.0,
            cluster_id=f"reply:{p.key}", is_duplicate=False, scored_at=now, brand_reply=True,
        )  # fmt: skip


_MEMO_MAX = 16_384
_K = TypeVar("_K")
_V = TypeVar("_V")


def _memo(memo: dict[_K, _V], keys: list[_K], compute: Callable[[list[_K]], list[_V]]) -> list[_V]:
    """``compute(keys)`` for a pure ``compute``, from ``memo`` where it holds a key: the keys
    it lacks are computed once each, in one batch."""
    if len(memo) > _MEMO_MAX:
        memo.clear()
    todo = [k for k in dict.fromkeys(keys) if k not in memo]
    if todo:
        memo.update(zip(todo, compute(todo), strict=True))
    return [memo[k] for k in keys]


IDLE_AFTER = timedelta(seconds=10)  # no post on a partition for this long (wall): it is idle
# An upstream partition that says nothing for this long (its worker died, or nobody owns it)
# stops holding back the aligned watermark; its posts, if they come, are late (amendments).
# While records keep arriving, "nothing for this long" is judged on the upstream workers' clock
# (the markers' send times): a window reading a backlog sees a source's markers spaced by its
# own slowness, and a replay under CPU starvation lost posts to that (docs/lateness.md).
SILENT_AFTER = timedelta(seconds=30)


@dataclass
class PartitionWindow:
    """Minute aggregation for one posts.scored partition, on an event-time watermark.

    With ``sources`` (the number of posts.raw partitions), the watermark is *aligned*, as Flink
    and Kafka Streams do: the event time every upstream partition has reached (``progress``,
    from its posts and from the watermark markers the enrich stage sends to every posts.scored
    partition), the slowest one deciding. An upstream partition that says it is idle (caught
    up, nothing to read), or says nothing for ``SILENT_AFTER``, stops holding it back. So a fast
    replay whose partitions run ahead of each other counts every post, and the minutes do not
    depend on how the upstream partitions interleave (docs/lateness.md). Without ``sources``
    (old snapshots, single-source tests) the watermark is this partition's max event time.

    Minutes close record by record: when the watermark crosses the next closing boundary (a
    minute's end + lateness), the aggregator advances right then, so which posts make a
    minute's first version, and when amendments go out, do not depend on how the records were
    batched. ``advance`` hands those minutes over, and moves the clock of a partition idle for
    ``IDLE_AFTER`` at wall speed so its last minutes close and its amendments go out.
    """

    lateness_s: float
    aggregator: Any = None
    max_event: datetime | None = None
    last_wall: datetime | None = None
    next_close: datetime | None = None  # the watermark that closes the next minute
    closed: list[BrandMinute] | None = None  # closed by add(), not yet handed over
    sources: int = 0  # upstream partitions to align on (0: no alignment)
    progress: dict[int, datetime] = field(default_factory=dict)  # source -> event time reached
    heard: dict[int, datetime] = field(default_factory=dict)  # source -> wall time last heard
    idle: set[int] = field(default_factory=set)  # sources that said they are caught up
    # source -> wall minus event time when last heard busy: how far behind the clock its posts
    # come (seconds live, days in a replay); an idle source holds at most that far behind
    lag: dict[int, timedelta] = field(default_factory=dict)
    started: datetime | None = None  # wall time alignment started (restore resets it)
    aligned: datetime | None = None  # the aligned watermark (monotone)
    # the upstream clock: source -> send time of its last marker, the latest send time seen,
    # and the wall time the last record of any kind arrived
    sent: dict[int, datetime] = field(default_factory=dict)
    upstream: datetime | None = None
    arrived: datetime | None = None

    def __post_init__(self) -> None:
        if self.aggregator is None:
            from detectors.aggregate import MinuteAggregator

            self.aggregator = MinuteAggregator(allowed_lateness_s=self.lateness_s)

    def __setstate__(self, state: dict[str, Any]) -> None:
        # snapshots written before alignment lack its fields: they go on unaligned
        fresh = {"sources": 0, "progress": {}, "heard": {}, "idle": set(), "started": None,
                 "aligned": None, "lag": {}, "sent": {}, "upstream": None,
                 "arrived": None}  # fmt: skip
        self.__dict__.update(fresh | state)

    def add(
        self, sp: ScoredPost | ScoredPostCounts, wall: datetime, source: int | None = None
    ) -> bool:
        """Add one post (from upstream partition ``source``); True if it is late (its minute
        had already been emitted). The aggregator reads only the fields of
        ``ScoredPostCounts`` (same paths as ScoredPost)."""
        status: str = self.aggregator.add(sp)
        ts = sp.post.created_at
        self.last_wall = self.arrived = wall
        if self.sources and source is not None:
            if self.max_event is None or ts > self.max_event:
                self.max_event = ts
            self._hear(source, ts, wall, busy=True)
            self._align(wall)
        elif self.max_event is None or ts > self.max_event:
            self.max_event = ts
            if self.next_close is None or ts >= self.next_close:
                self._advance_to(ts)
        return status != "open"

    def mark(
        self,
        source: int,
        reached: datetime | None,
        idle: bool,
        wall: datetime,
        sent: datetime | None = None,
    ) -> None:
        """A watermark marker: upstream partition ``source`` has reached event time ``reached``
        (None: no post yet); ``idle``: it has nothing more to read for now; ``sent``: the
        upstream worker's clock when it said so."""
        if not self.sources:
            return
        self.arrived = wall
        if sent is not None:
            self.sent[source] = sent
            if self.upstream is None or sent > self.upstream:
                self.upstream = sent
        self._hear(source, reached, wall, busy=not idle)
        if idle:
            self.idle.add(source)
        else:
            self.last_wall = wall  # a busy upstream partition: this one is not idle
        self._align(wall)

    def restart(self, wall: datetime) -> None:
        """Restored from a snapshot: the restart gap is neither idleness nor silence."""
        if self.last_wall is not None:
            self.last_wall = wall
        if self.sources:
            self.started = wall
            self.heard = dict.fromkeys(self.heard, wall)

    def _hear(self, source: int, reached: datetime | None, wall: datetime, busy: bool) -> None:
        if self.started is None:
            self.started = wall
        self.heard[source] = wall
        self.idle.discard(source)
        if reached is not None:
            prev = self.progress.get(source)
            if prev is None or reached > prev:
                self.progress[source] = prev = reached
            if busy:
                self.lag[source] = wall - prev

    def _align(self, wall: datetime) -> bool:
        """Advance to the slowest active source's event time, if that moved the watermark;
        True while a source is active (neither idle nor silent): the watermark waits for it.

        An idle source (caught up) does not hold the others at its last post: it holds them at
        the time its next post could have, its last post plus the wall time since, as far behind
        the clock as its posts came (``lag``). Live that is the clock itself (no hold); in a
        replay, where event time runs ahead of the clock, a partition that caught up with the
        ingest for a second no longer lets the busy ones run hours ahead and make its next posts
        late. Once every source is idle or silent, everything read closes."""
        low: datetime | None = None
        done: datetime | None = None  # the latest event time of the sources not waited for
        silent = wall - SILENT_AFTER  # heard at or before: silent (one subtraction per call)
        progress, heard_at, idle, started = self.progress, self.heard, self.idle, self.started
        held: datetime | None = None  # the lowest bound of the idle sources
        waiting = False
        for s in range(self.sources):
            reached = progress.get(s)
            heard = heard_at.get(s, started)
            if heard is not None and heard <= silent and self._spoke(s, silent):
                heard = wall
            if s in idle or heard is None or heard <= silent:
                if reached is not None and (done is None or reached > done):
                    done = reached  # idle or silent: no longer waited for
                lag = self.lag.get(s) if s in idle else None
                if reached is not None and lag is not None:
                    bound = max(reached, wall - lag)
                    if held is None or bound < held:
                        held = bound
                continue
            waiting = True
            if reached is None:
                return True  # an active source with no post yet holds everything
            if low is None or reached < low:
                low = reached
        if low is None:
            low = done  # every source idle or silent: all that was read is in
        elif held is not None and held < low:
            low = held
        if low is None or (self.aligned is not None and low <= self.aligned):
            return waiting
        self.aligned = low
        if self.next_close is None or low >= self.next_close:
            self._advance_to(low)
        return waiting

    def _spoke(self, source: int, silent: datetime) -> bool:
        """A source the wall clock calls silent, while records still arrive, may only be behind
        in this window's backlog: not silent if it spoke within ``SILENT_AFTER`` of the
        upstream clock (rare: computed only for a wall-silent source)."""
        if self.upstream is None or self.arrived is None or self.arrived <= silent:
            return False
        sent = self.sent.get(source)
        return sent is not None and sent > self.upstream - SILENT_AFTER

    def _advance_to(self, wm: datetime) -> None:
        from detectors.aggregate import MINUTE, floor_minute

        lateness = timedelta(seconds=self.lateness_s)
        closed = self.aggregator.advance(wm)
        if closed:
            self.closed = (self.closed or []) + closed
        self.next_close = floor_minute(wm - lateness) + MINUTE + lateness

    def advance(self, wall: datetime) -> list[BrandMinute]:
        """The minutes closed since the last call; an idle partition's clock (no post for
        ``IDLE_AFTER``) runs at wall speed since its last post, so its last minutes close. The
        aggregator closes a minute once minute end + lateness <= watermark."""
        waiting = False
        if self.sources:
            waiting = self._align(wall)  # a source may have fallen silent
        if self.max_event is not None and self.last_wall is not None:
            idle = wall - self.last_wall
            if idle >= IDLE_AFTER:  # also sends amendments held since the last crossing
                # While a source is still active (a stalled worker, CPU starvation), the clock
                # runs from the slowest one, not from the fastest source's last post: else a
                # 10 s stall in a fast replay closes minutes the slow sources still feed.
                base = self.aligned if waiting else self.max_event
                if base is not None:
                    wm = base + idle
                    if self.sources and (self.aligned is None or wm > self.aligned):
                        self.aligned = wm
                    self._advance_to(wm)
        out, self.closed = self.closed or [], None
        return out

    def flush(self) -> list[BrandMinute]:
        """End of a finite input: close every minute up to the last post's (no zero minutes
        after it) and hand over the amendments held."""
        from detectors.aggregate import MINUTE, floor_minute

        if self.max_event is not None:
            end = floor_minute(self.max_event) + MINUTE + timedelta(seconds=self.lateness_s)
            self._advance_to(max(end, self.aligned or end))
        out, self.closed = self.closed or [], None
        return out


_WORD = re.compile(r"[a-z][a-z0-9'_-]{2,}")
_STOP = """the and for you your are was were this that with have has had not but all just our
out they them their what when why how who its it's can can't cant don't dont from get got again
still been will would about any there here then than more most very too now one today http https
www com amp new via"""
STOPWORDS = frozenset(_STOP.split())


@dataclass
class AlertContext:
    """Bounded per-brand sample of recent scored posts by event minute, to explain alerts.

    Keyed by minute (not just the last N posts) because in a fast replay the scorer runs while
    the aggregator is already far ahead: the deciding minute's posts must still be here. So
    minutes are dropped when the scorer is done with them (``release``), not when newer ones
    arrive: evicting by arrival would make an alert's explanation depend on replay speed.
    Bounded: ``per_minute`` posts per (brand, minute), ``keep_minutes`` minutes per brand as a
    hard cap for a scorer that falls a whole day behind.
    """

    per_minute: int = 50
    keep_minutes: int = 24 * 60
    window_min: int = 5
    _posts: dict[str, dict[datetime, list[ScoredPost]]] = field(default_factory=dict)

    def wants(self, brand: str, minute: datetime) -> bool:
        """Would ``add`` keep a post of ``brand`` in ``minute``? (Skip parsing it if not.)"""
        bucket = self._posts.get(brand, {}).get(minute)
        return bucket is None or len(bucket) < self.per_minute

    def add(self, sp: ScoredPost, minute: datetime | None = None) -> None:
        """``minute``: the post's (``sp.post.minute``), when the caller has it already."""
        if minute is None:
            minute = sp.post.minute
        minutes = self._posts.setdefault(sp.brand, {})
        bucket = minutes.get(minute)
        if bucket is None:
            bucket = minutes[minute] = []
            if len(minutes) > self.keep_minutes:
                del minutes[min(minutes)]
        if len(bucket) < self.per_minute:
            bucket.append(sp)

    def release(self, brand: str, scored_minute: datetime) -> None:
        """The scorer has decided ``scored_minute``: drop minutes no later window can use."""
        minutes = self._posts.get(brand)
        if not minutes:
            return
        cutoff = scored_minute - timedelta(minutes=self.window_min - 1)
        for m in [m for m in minutes if m < cutoff]:
            del minutes[m]

    def window(self, brand: str, minute: datetime) -> list[ScoredPost]:
        minutes = self._posts.get(brand, {})
        out: list[ScoredPost] = []
        for k in range(self.window_min - 1, -1, -1):
            out += minutes.get(minute - timedelta(minutes=k), [])
        return out

    def explain(
        self, brand: str, minute: datetime, brand_words: Iterable[str] = ()
    ) -> tuple[list[TopPost], list[str], list[TopCluster]]:
        posts = self.window(brand, minute)
        by_key = {sp.post.key: sp for sp in posts}
        ranked = sorted(
            by_key.values(),
            key=lambda sp: (sp.sentiment_score, -sp.post.author.followers, sp.post.key),
        )
        top_posts = [
            TopPost(
                post_key=sp.post.key,
                text=sp.post.text[:500],
                author=sp.post.author.id,
                reach=sp.post.author.followers,
                sentiment_score=sp.sentiment_score,
            )
            for sp in ranked[:5]
        ]
        skip = STOPWORDS | {w.lower() for w in brand_words} | {brand.lower()}
        terms: Counter[str] = Counter()
        for sp in by_key.values():  # words of any script; the post language's stopwords out
            words = {w.lstrip("#@") for w in words_of(sp.post.text, _WORD, sp.lang)}
            terms.update(words - skip)
        top_terms = [t for t, _ in sorted(terms.items(), key=lambda kv: (-kv[1], kv[0]))[:10]]
        clusters: dict[str, list[ScoredPost]] = defaultdict(list)
        for sp in by_key.values():
            clusters[sp.cluster_id].append(sp)
        top_clusters = [
            TopCluster(
                cluster_id=cid,
                example_text=group[0].post.text[:500],
                posts=len(group),
                distinct_authors=len({g.post.author.id for g in group}),
                campaign=any(g.campaign for g in group),
            )
            for cid, group in sorted(clusters.items(), key=lambda kv: (-len(kv[1]), kv[0]))
            if len(group) > 1
        ][:5]
        return top_posts, top_terms, top_clusters


def alert_id(brand: str, minute: datetime, severity: Severity) -> str:
    """Deterministic (the detectors' definition): a replay produces the same ids."""
    from detectors.crisis import alert_id as crisis_alert_id

    return crisis_alert_id(brand, minute.astimezone(UTC), severity)


def build_alert(
    brand: str,
    minute: BrandMinute,
    assessment: Any,
    previous: Severity,
    context: AlertContext,
    now: datetime,
    brand_words: Iterable[str] = (),
) -> CrisisAlert:
    severity = Severity(int(assessment.severity))
    signals = sorted(assessment.signals, key=lambda s: -s.score)
    reasons = "; ".join(
        s.detail or f"{s.signal} {s.observed:.3g} vs expected {s.expected:.3g}" for s in signals[:3]
    )
    summary = (
        f"{brand}: {previous.label} -> {severity.label} at {minute.minute:%Y-%m-%d %H:%M} UTC "
        f"(score {assessment.score:.2f}, {minute.posts} posts, "
        f"{minute.negative_share:.0%} negative)" + (f": {reasons}" if reasons else "")
    )
    event = str(getattr(assessment, "expected_event", ""))
    if event:  # the page says the negative turn came during the announced event
        summary = f"{summary} [during the {event}]"
    top_posts, top_terms, top_clusters = context.explain(brand, minute.minute, brand_words)
    top_terms = list(dict.fromkeys([*minute.burst_terms, *top_terms]))[:10]  # new narrative first
    return CrisisAlert(
        alert_id=alert_id(brand, minute.minute, severity),
        brand=brand,
        minute=minute.minute,
        severity=severity,
        previous_severity=previous,
        score=max(0.0, min(1.0, float(assessment.score))),
        summary=summary[:2000],
        signals=list(assessment.signals)[:20],
        top_posts=top_posts,
        top_terms=top_terms,
        top_clusters=top_clusters,
        created_at=now,
        expected_event=event[:500],
    )
