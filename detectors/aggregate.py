"""Per-brand per-minute aggregation on event time, with allowed lateness and amendments.

A minute closes when ``minute_end + allowed_lateness <= watermark``. Posts for a closed
minute arriving within ``max_lateness_s`` amend it: the minute is emitted again with
``version + 1`` and ``late_posts`` counted. Later posts are only counted (``too_late``).
Known brands get zero-volume minutes (silence is a signal too), bounded by ``max_fill``.

>>> from datetime import datetime, timedelta, UTC
>>> from schemas.models import Author, Post, ScoredPost
>>> t0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
>>> def sp(i, sec, neg=False):
...     post = Post(platform="simulated", post_id=str(i), author=Author(id=f"a{i % 2}"),
...                 text="x", created_at=t0 + timedelta(seconds=sec))
...     return ScoredPost(post=post, brand="acme", sentiment_label="negative" if neg else "neutral",
...                       sentiment_score=-0.5 if neg else 0.0, cluster_id=f"c{i}",
...                       is_duplicate=False, scored_at=t0)
>>> agg = MinuteAggregator(allowed_lateness_s=60)
>>> for i in range(3):
...     _ = agg.add(sp(i, 10 * i, neg=i == 0))
>>> agg.advance(t0 + timedelta(seconds=90))     # minute end + 60 s not reached yet
[]
>>> closed = agg.advance(t0 + timedelta(minutes=3))
>>> [(m.posts, m.unique_authors, m.negative, m.version) for m in closed]
[(3, 2, 1, 1), (0, 0, 0, 1)]
>>> agg.add(sp(9, 30))                          # late post: amends the first minute
'amended'
>>> [(m.posts, m.late_posts, m.version) for m in agg.advance(t0 + timedelta(minutes=3))]
[(4, 1, 2)]
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from sys import intern
from typing import Any, Literal

import xxhash

from detectors.response import Counts, ResponseTracker
from detectors.terms import NarrativeTracker, PostTerms
from schemas.models import BrandMinute, ScoredPost

MINUTE = timedelta(minutes=1)
# Distinct authors kept per term per minute (the narrative signal's counts saturate there). The
# sets of the last few minutes are the aggregation's biggest state: at 5k posts/s over a small
# vocabulary, uncapped, they held ~200 MB (bench.pipeline). A term that common has a usual
# share in the thousands too, so the burst test is unchanged below the cap.
MAX_TERM_AUTHORS = 4096
AddStatus = Literal["open", "amended", "too_late"]


def _author_hash(author_id: str) -> int:
    return xxhash.xxh3_64_intdigest(author_id.encode("utf-8", "surrogatepass"))


class AuthorHashes:
    """The distinct authors of a closed minute, kept for late posts' amendments: a sorted array
    of their 64-bit hashes (8 bytes an author; the set of the open minute cost ~40-70) plus a
    set of the authors added since. Closed minutes stay for ``max_lateness`` (an hour): at
    thousands of posts/s their author sets were the aggregation's largest state. Two authors
    whose xxh3-64 hashes collide would count once (odds ~n^2 / 2^65).

    >>> a = AuthorHashes({"u1", "u2"})
    >>> a.add("u1"); a.add("u3"); a.add("u3")
    >>> len(a)
    3
    """

    __slots__ = ("extra", "hashes")

    def __init__(self, authors: Iterable[str] = ()) -> None:
        self.hashes = array("Q", sorted({_author_hash(a) for a in authors}))
        self.extra: set[str] = set()

    def add(self, author_id: str) -> None:
        if author_id in self.extra:
            return
        h = _author_hash(author_id)
        hashes = self.hashes
        i = bisect_left(hashes, h)
        if i == len(hashes) or hashes[i] != h:
            self.extra.add(author_id)

    def __len__(self) -> int:
        return len(self.hashes) + len(self.extra)


def _add_author(sets: dict[str, set[str]], terms: list[str], author: str) -> None:
    """``author`` in each term's set (no per-term temporary sets: one call per post)."""
    for t in terms:
        s = sets.get(t)
        if s is None:
            sets[t] = {author}
        elif len(s) < MAX_TERM_AUTHORS:
            s.add(author)


class _Acc:
    """Mutable counters of one (brand, minute)."""

    __slots__ = (
        "authors",
        "brand_replies",
        "burst_neg",
        "burst_posts",
        "burst_terms",
        "campaign_posts",
        "complaints",
        "duplicates",
        "late_posts",
        "negative",
        "neutral",
        "new_clusters",
        "positive",
        "post_terms",
        "posts",
        "reach",
        "resp",
        "sentiment_sum",
        "term_authors",
        "term_neg",
        "unique_posts",
        "unknown",
        "version",
    )

    def __init__(self) -> None:
        self.posts = self.unique_posts = self.negative = self.neutral = self.positive = 0
        self.unknown = 0  # no sentiment model for the language: not neutral, no evidence
        self.reach = self.duplicates = self.campaign_posts = self.new_clusters = 0
        self.late_posts = 0
        self.version = 0  # 0 = never emitted
        self.sentiment_sum = 0.0
        self.authors: set[str] | AuthorHashes = set()  # AuthorHashes once closed
        # new-narrative inputs: authors (and negative authors) per term, terms per post
        self.term_authors: dict[str, set[str]] = {}
        self.term_neg: dict[str, set[str]] = {}
        self.post_terms = PostTerms()
        self.burst_posts = self.burst_neg = 0  # set when the minute closes
        self.burst_terms: list[str] = []
        # response (detectors.response): counted apart from the crowd figures above
        self.brand_replies = self.complaints = 0
        self.resp: Counts | None = None  # decided when the minute closes

    def add(self, sp: ScoredPost, new_cluster: bool) -> None:
        # the hot path: one call per post (locals, no per-term temporary sets)
        self.posts += 1
        if sp.is_duplicate:
            self.duplicates += 1
        else:
            self.unique_posts += 1
        if sp.campaign:
            self.campaign_posts += 1
        if new_cluster:
            self.new_clusters += 1
        label = sp.sentiment_label
        if label == "negative":
            self.negative += 1
        elif label == "positive":
            self.positive += 1
        elif label == "neutral":
            self.neutral += 1
        else:
            self.unknown += 1
        self.sentiment_sum += sp.sentiment_score
        author = sp.post.author
        self.reach += author.followers
        aid = intern(author.id)  # one string per author, however many sets hold it
        self.authors.add(aid)
        terms = sp.terms
        if terms:
            neg = label == "negative"
            self.post_terms.add(terms, neg)
            _add_author(self.term_authors, terms, aid)
            if neg:
                _add_author(self.term_neg, terms, aid)

    def __setstate__(self, state: tuple[Any, dict[str, Any]]) -> None:
        self.unknown = 0  # a snapshot of before the unknown label
        self.brand_replies = self.complaints = 0  # snapshots of before the response figures
        self.resp = None
        for k, v in state[1].items():
            setattr(self, k, v)
        if isinstance(self.post_terms, list):  # a snapshot of before PostTerms
            pt = PostTerms()
            for terms, neg in self.post_terms:
                pt.add(terms, neg)
            self.post_terms = pt

    def keep(self) -> bool:
        """Worth keeping for amendments: a late post must not zero what was emitted."""
        r = self.resp
        return bool(self.posts or self.brand_replies or (r is not None and r != Counts()))

    def record(self, brand: str, minute: datetime) -> BrandMinute:
        r = self.resp or _NO_RESPONSE
        return BrandMinute.checked(
            dict(  # = BrandMinute(**...), skipping checks plainly met
                brand=brand,
                minute=minute,
                posts=self.posts,
                unique_posts=self.unique_posts,
                unique_authors=len(self.authors),
                negative=self.negative,
                neutral=self.neutral,
                positive=self.positive,
                unknown=self.unknown,
                sentiment_sum=self.sentiment_sum,
                reach=self.reach,
                duplicates=self.duplicates,
                campaign_posts=self.campaign_posts,
                new_clusters=self.new_clusters,
                late_posts=self.late_posts,
                version=self.version,
                burst_term_posts=self.burst_posts,
                burst_term_negative=self.burst_neg,
                burst_terms=self.burst_terms,
                complaints=self.complaints,
                brand_replies=self.brand_replies,
                due_15m=r.due_15m,
                answered_15m=r.answered_15m,
                due_1h=r.due_1h,
                answered_1h=r.answered_1h,
                responses_1h=r.responses_1h,
                response_median_s=r.response_median_s,
                unanswered_1h=r.unanswered_1h,
                silent_min=r.silent_min,
            )
        )


_NO_RESPONSE = Counts()


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MINUTES: dict[int, datetime] = {}  # minute number -> its UTC datetime, shared and bounded


def floor_minute(t: datetime) -> datetime:
    """``t`` floored to its UTC minute. One per post: integer minutes from the epoch (exact for
    any aware ``t``) and one datetime per minute, whose hash is then cached for dict keys;
    ``replace`` per post cost ~4x more."""
    try:
        d = t - _EPOCH
    except TypeError:  # naive: local time, as astimezone reads it
        return t.astimezone(UTC).replace(second=0, microsecond=0)
    n = d.days * 1440 + d.seconds // 60
    m = _MINUTES.get(n)
    if m is None:
        if len(_MINUTES) >= 8192:
            _MINUTES.clear()
        m = _MINUTES[n] = _EPOCH + timedelta(minutes=n)
    return m


class MinuteAggregator:
    """Event-time minute buckets per brand. Deterministic given the same inputs; picklable."""

    def __init__(
        self,
        allowed_lateness_s: float = 120,
        max_lateness_s: float = 3600,
        max_fill: int = 1440,
        clusters_per_brand: int = 2048,
        narrative: dict[str, float] | None = None,
    ) -> None:
        self.allowed = timedelta(seconds=allowed_lateness_s)
        self.max_lateness = timedelta(seconds=max(max_lateness_s, allowed_lateness_s))
        self.max_fill = max_fill  # at most this many zero minutes filled per brand per gap
        self.clusters_per_brand = clusters_per_brand
        self.open: dict[tuple[str, datetime], _Acc] = {}
        self.emitted: dict[tuple[str, datetime], _Acc] = {}  # kept for amendments
        self.dirty: set[tuple[str, datetime]] = set()
        self.last_minute: dict[str, datetime] = {}  # last minute emitted per brand
        self.clusters: dict[str, OrderedDict[str, None]] = {}  # recent cluster ids per brand
        self.last_post: dict[str, datetime] = {}  # brands idle > max_fill minutes are dropped
        self.closed_before: datetime | None = None  # minutes < this are closed
        self.watermark: datetime | None = None
        self.too_late = 0
        # new-narrative trackers per brand (detectors.terms.NarrativeTracker keyword arguments)
        self.narrative_kw: dict[str, float] = dict(narrative or {})
        self.narratives: dict[str, NarrativeTracker] = {}
        self.responses: dict[str, ResponseTracker] = {}  # per brand: complaints and replies

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update({"responses": {}} | state)  # snapshots of before responses

    def _response(self, scored: ScoredPost, closed: bool) -> bool:
        """Hand a reply or possible complaint to the brand's tracker; True: a late complaint."""
        post = scored.post
        tr = self.responses.get(scored.brand)
        if tr is None:
            tr = self.responses[scored.brand] = ResponseTracker()
        p = post.platform
        late = tr.add(
            post.created_at, f"{p}:{post.post_id}",
            None if post.reply_to is None else f"{p}:{post.reply_to}",
            reply=scored.brand_reply, complaint=scored.addressed, closed=closed,
        )  # fmt: skip
        return bool(late)

    def _new_cluster(self, brand: str, cluster_id: str) -> bool:
        seen = self.clusters.get(brand)
        if seen is None:  # (setdefault built a throw-away OrderedDict per post)
            seen = self.clusters[brand] = OrderedDict()
        if cluster_id in seen:
            seen.move_to_end(cluster_id)
            return False
        seen[cluster_id] = None
        if len(seen) > self.clusters_per_brand:
            seen.popitem(last=False)
        return True

    def _narrative(self, brand: str, minute: datetime, acc: _Acc) -> None:
        """Burst terms of a closing minute; the minute's terms are then learned (late posts
        amend the counts but are not learned: the table moves on in event-time order)."""
        nt = self.narratives.get(brand)
        if nt is None:
            nt = self.narratives[brand] = NarrativeTracker(**self.narrative_kw)  # type: ignore[arg-type]
        acc.burst_posts, acc.burst_neg, acc.burst_terms = nt.close(
            int(minute.timestamp()) // 60,
            acc.term_authors,
            acc.term_neg,
            acc.post_terms,
            len(acc.authors),
        )
        acc.post_terms = PostTerms()  # not needed after close (amendments keep the counts)
        # The minute that just left the tracker's window: its author sets are read no more
        # (amendments re-emit the burst fields decided at close). Kept for max_lateness, they
        # were the aggregation's biggest state at thousands of posts/s.
        gone = self.emitted.get((brand, minute - nt.window * MINUTE))
        if gone is not None:
            gone.term_authors, gone.term_neg = {}, {}

    def narrative_bytes(self, brand: str) -> int:
        """Memory of one brand's term table and recent window (bytes, approximate)."""
        nt = self.narratives.get(brand)
        return 0 if nt is None else nt.nbytes()

    def add(self, scored: ScoredPost, watermark: datetime | None = None) -> AddStatus:
        """Count one scored post in its event-time minute."""
        brand = scored.brand
        minute = floor_minute(scored.post.created_at)
        key = (brand, minute)
        reply = scored.brand_reply  # the brand's own post: counted as a reply, not as volume
        relevant = reply or (
            scored.sentiment_label == "negative"
            and (scored.addressed or scored.post.reply_to is not None)
        )
        if self.closed_before is None or minute >= self.closed_before:  # open minute
            acc = self.open.get(key)
            if acc is None:
                acc = self.open[key] = _Acc()
            if relevant:
                self._response(scored, closed=False)
            if reply:
                acc.brand_replies += 1
            else:
                acc.add(scored, self._new_cluster(brand, scored.cluster_id))
            last = self.last_post.get(brand)
            if last is None or minute > last:
                self.last_post[brand] = minute
            return "open"
        wm = watermark or self.watermark
        assert wm is not None
        if minute + MINUTE + self.max_lateness <= wm:
            self.too_late += 1
            return "too_late"
        acc = self.emitted.get(key)
        if acc is None:  # emitted as a zero minute (version 1), or never (version 0)
            acc = self.emitted[key] = _Acc()
            last_m = self.last_minute.get(brand)
            acc.version = 1 if last_m is not None and minute <= last_m else 0
        if relevant and self._response(scored, closed=True):
            acc.complaints += 1
        if reply:
            acc.brand_replies += 1
        else:
            acc.add(scored, self._new_cluster(brand, scored.cluster_id))
            acc.late_posts += 1
        self.dirty.add(key)
        return "amended"

    def advance(self, watermark: datetime) -> list[BrandMinute]:
        """Close every minute with ``minute_end + allowed_lateness <= watermark``."""
        # minute m closes when m + 1 min <= watermark - allowed  <=>  m < floor(wm - allowed)
        boundary = floor_minute(watermark - self.allowed)
        self.watermark = max(watermark, self.watermark or watermark)
        if self.closed_before is not None and boundary <= self.closed_before:
            boundary = self.closed_before
        out: list[BrandMinute] = []
        firsts: dict[str, datetime] = {}
        for b, m in self.open:
            if m < boundary and (b not in firsts or m < firsts[b]):
                firsts[b] = m
        for brand in sorted(set(firsts) | set(self.last_minute)):
            start = self.last_minute.get(brand)
            first_post = firsts.get(brand)
            if start is None:
                if first_post is None:
                    continue
                m = first_post
            else:
                m = start + MINUTE
                if (boundary - m) // MINUTE > self.max_fill:
                    m = boundary - self.max_fill * MINUTE
                if first_post is not None and first_post < m:
                    m = first_post
            if m >= boundary:
                continue
            while m < boundary:
                acc = self.open.pop((brand, m), None) or _Acc()
                acc.version = 1
                if acc.posts:
                    self._narrative(brand, m, acc)
                tr = self.responses.get(brand)
                if tr is not None:
                    acc.resp = tr.close(m)
                    acc.complaints = acc.resp.complaints
                out.append(acc.record(brand, m))
                if acc.keep():
                    if isinstance(acc.authors, set):
                        acc.authors = AuthorHashes(acc.authors)
                    self.emitted[(brand, m)] = acc
                m += MINUTE
            self.last_minute[brand] = boundary - MINUTE
            if (boundary - self.last_post[brand]) // MINUTE > self.max_fill:
                del self.last_minute[brand], self.last_post[brand]  # idle brand: stop filling
        for key in sorted(self.dirty, key=lambda k: (k[1], k[0])):
            acc = self.emitted[key]
            acc.version += 1
            out.append(acc.record(*key))
        self.dirty.clear()
        self.closed_before = boundary
        # Forget amendment state beyond max lateness (bounded memory).
        horizon = watermark - self.max_lateness - MINUTE
        for key in [k for k in self.emitted if k[1] < horizon]:
            del self.emitted[key]
        out.sort(key=lambda r: (r.minute, r.brand, r.version))
        return out
