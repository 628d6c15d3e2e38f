"""Streaming duplicate, near-duplicate, campaign and virality detection.

Exact duplicates share the xxh3-64 fingerprint of their normalised text (see
:func:`detectors.text.normalize`); near-duplicates share a MinHash band (``rensa``, char
5-grams, 64 permutations in 16 bands of 4) and pass a verification of their estimated
Jaccard similarity against ``threshold``. Posts join clusters (single linkage); a cluster id is
the fingerprint of its first post, so a replay yields the same ids.

Memory is bounded by time and count: index entries live in rotating buckets of
``horizon_s / n_buckets`` seconds (or ``max_items / n_buckets`` items) and whole buckets are
evicted once older than the horizon or when the index holds more than ``max_items`` items.
Clusters are forgotten with the last bucket that touched them. Duplicates are counted, never
dropped.

Campaign and virality signals (both sticky for a cluster's lifetime):

* **campaign**: ``campaign_min_authors`` distinct authors posted near-identical *original*
  text (not reposts) within ``campaign_window_s`` seconds - coordinated copy-paste.
* **viral**: ``viral_min_reposts`` reposts (``repost_of`` set or an ``RT @x:`` prefix)
  within ``viral_window_s`` seconds, and reposts make up at least ``viral_min_share`` of the
  cluster - one post spreading.

>>> d = Deduplicator(campaign_min_authors=3)
>>> r1 = d.process_one("Acme stole my data and sold it!!! https://t.co/a #acmefail", "u1", ts=0.0)
>>> r1.is_first, r1.exact, r1.cluster_size
(True, False, 1)
>>> r2 = d.process_one("acme stole my data and sold it", "u2", ts=10.0)
>>> r2.cluster_id == r1.cluster_id, r2.exact, r2.distinct_authors, r2.campaign
(True, True, 2, False)
>>> r3 = d.process_one("@acme stole my data and sold it. Boycott", "u3", ts=20.0)
>>> r3.cluster_id == r1.cluster_id, r3.exact, r3.campaign
(True, False, True)
>>> d.process_one("Lovely weather in Lisbon today", "u4", ts=30.0).is_first
True
"""

from __future__ import annotations

from array import array
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from functools import cache

import xxhash
from rensa import RMinHash

from detectors.text import is_retweet, normalize, shingles

_xxh3 = xxhash.xxh3_64_intdigest


def _h(text: str) -> int:
    """xxh3-64 of a string (surrogates from broken JSON must not crash the stream)."""
    return _xxh3(text.encode("utf-8", "surrogatepass"))


@cache
def _lanes(n: int) -> tuple[int, int]:
    """Masks over ``n`` 32-bit lanes: 0x7fffffff and 0x80000000 in each (see ``_near``)."""
    return (
        int.from_bytes(b"\xff\xff\xff\x7f" * n, "little"),
        int.from_bytes(b"\x00\x00\x00\x80" * n, "little"),
    )


@dataclass(frozen=True, slots=True)
class DedupResult:
    """What the deduplicator knows about one post, right after it was added."""

    cluster_id: str
    is_first: bool  # this post opened the cluster
    exact: bool  # exact duplicate (after normalisation) of a post still in the horizon
    cluster_size: int  # posts in the cluster, this one included
    distinct_authors: int  # saturates at ``max_authors``
    campaign: bool
    viral: bool


class _Cluster:
    """Per-cluster counters; small on purpose (most clusters hold one post)."""

    __slots__ = (
        "authors",
        "campaign",
        "last_bucket",
        "new_authors",
        "repost_ts",
        "reposts",
        "size",
        "viral",
    )

    def __init__(self) -> None:
        self.size = 0
        self.reposts = 0
        self.authors: int | set[int] | None = None  # one author hash, or a set once there are two
        self.new_authors: tuple[float, ...] = ()  # arrival times of the latest original authors
        self.repost_ts: tuple[float, ...] = ()  # times of the latest reposts
        self.campaign = False
        self.viral = False
        self.last_bucket = -1

    def n_authors(self) -> int:
        a = self.authors
        return 0 if a is None else 1 if isinstance(a, int) else len(a)

    def has_author(self, author: int) -> bool:
        a = self.authors
        return a == author if isinstance(a, int) else a is not None and author in a


class _Bucket:
    __slots__ = ("clusters", "fps", "id", "items", "last_ts", "n", "posts", "start")

    def __init__(self, bucket_id: int, start: float) -> None:
        self.id = bucket_id
        self.start = start
        self.last_ts = start
        self.n = 0
        self.items: list[bytes] = []  # signatures; band keys are recomputed on eviction
        self.fps: list[int] = []
        self.posts: list[str] = []
        self.clusters: set[str] = set()


@dataclass(slots=True)
class _Prep:
    author: int
    ts: float
    repost: bool
    fp: int | None
    sig: bytes | None
    keys: list[int]
    post_id: str | None
    repost_of: str | None
    cid: str
    exact: bool
    found: bool  # matched a live cluster


class Deduplicator:
    """Groups posts into exact/near-duplicate clusters within a time horizon.

    ``ts`` is the post's event time in seconds (or an aware ``datetime``); ``post_id`` lets a
    later ``repost_of`` find its original even when the repost carries no text.

    Parameters: ``threshold`` is the minimum estimated Jaccard similarity of the char
    ``shingle_k``-gram sets for a near-duplicate; texts shorter than ``min_chars`` after
    normalisation are matched exactly only ("so bad" vs "so sad"); the first ``max_chars``
    characters are shingled. An indexed post costs about 2 KB (16 band keys, a 256-byte
    signature), so the default ``max_items`` bounds the index near 200 MB.
    """

    def __init__(
        self,
        horizon_s: float = 6 * 3600,
        max_items: int = 100_000,
        threshold: float = 0.5,
        seed: int = 0,
        *,
        num_perm: int = 64,
        bands: int = 16,
        shingle_k: int = 5,
        min_chars: int = 20,
        max_chars: int = 400,
        n_buckets: int = 12,
        max_candidates: int = 4,
        max_authors: int = 10_000,
        campaign_min_authors: int = 5,
        campaign_window_s: float = 1800.0,
        viral_min_reposts: int = 20,
        viral_window_s: float = 3600.0,
        viral_min_share: float = 0.5,
    ) -> None:
        if num_perm % bands:
            raise ValueError(f"num_perm ({num_perm}) must be a multiple of bands ({bands})")
        if horizon_s <= 0 or max_items < 1 or n_buckets < 1:
            raise ValueError("horizon_s, max_items and n_buckets must be positive")
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {threshold}")
        if campaign_min_authors < 2 or viral_min_reposts < 1:
            raise ValueError("campaign_min_authors must be >= 2 and viral_min_reposts >= 1")
        self.horizon_s = float(horizon_s)
        self.max_items = max_items
        self.threshold = threshold
        self.seed = seed
        self.num_perm = num_perm
        self.bands = bands
        self.shingle_k = shingle_k
        self.min_chars = min_chars
        self.max_chars = max_chars  # long posts: shingle a prefix, bounding cost per post
        self.n_buckets = n_buckets
        self.max_candidates = max_candidates
        self.max_authors = max_authors
        self.campaign_min_authors = campaign_min_authors
        self.campaign_window_s = campaign_window_s
        self.viral_min_reposts = viral_min_reposts
        self.viral_window_s = viral_window_s
        self.viral_min_share = viral_min_share
        self._band_bytes = 4 * num_perm // bands
        self._bucket_cap = max(1, max_items // n_buckets)
        # band key -> (bucket id, signature, cluster id); one shared tuple per item.
        self._bands: dict[int, tuple[int, bytes, str]] = {}
        self._fps: dict[int, tuple[int, str]] = {}
        self._posts: dict[str, tuple[int, str]] = {}
        self._clusters: dict[str, _Cluster] = {}
        self._buckets: deque[_Bucket] = deque()
        self._next_bucket = 0
        self._n_items = 0
        self._now = float("-inf")

    # ---------------------------------------------------------------- public API
    def process_one(
        self,
        text: str,
        author_id: str,
        ts: float | datetime,
        repost_of: str | None = None,
        *,
        post_id: str | None = None,
    ) -> DedupResult:
        """Score the post against the horizon, then add it; returns its cluster."""
        prep = self._prepare(text, author_id, ts, repost_of, post_id)
        return self._apply(prep, learn=True)

    def score_one(
        self,
        text: str,
        author_id: str,
        ts: float | datetime,
        repost_of: str | None = None,
        *,
        post_id: str | None = None,
    ) -> DedupResult:
        """What :meth:`process_one` would return, without changing any state."""
        prep = self._prepare(text, author_id, ts, repost_of, post_id)
        return self._apply(prep, learn=False)

    def learn_one(
        self,
        text: str,
        author_id: str,
        ts: float | datetime,
        repost_of: str | None = None,
        *,
        post_id: str | None = None,
    ) -> None:
        """Add the post to the index (River style: returns None)."""
        self.process_one(text, author_id, ts, repost_of, post_id=post_id)

    @property
    def n_items(self) -> int:
        """Posts currently indexed (bounded by ``max_items`` plus one bucket)."""
        return self._n_items

    @property
    def n_clusters(self) -> int:
        return len(self._clusters)

    # ---------------------------------------------------------------- internals
    def _prepare(
        self,
        text: str,
        author_id: str,
        ts: float | datetime,
        repost_of: str | None,
        post_id: str | None,
    ) -> _Prep:
        t = ts.timestamp() if isinstance(ts, datetime) else float(ts)
        norm = normalize(text)
        raw = norm or text.strip()
        fp = _h(raw) if raw else None
        p = _Prep(
            _h(author_id),
            t,
            repost_of is not None or is_retweet(text),
            fp,
            None,
            [],
            post_id,
            repost_of,
            "",
            False,
            False,
        )
        hit = None
        if post_id is not None:
            hit = self._posts.get(post_id)
        if hit is None and repost_of is not None:
            hit = self._posts.get(repost_of)
        if fp is not None:
            e = self._fps.get(fp)
            if e is not None:
                p.exact = True
                hit = hit or e
        if hit is None and len(norm) >= self.min_chars:
            m = RMinHash(self.num_perm, self.seed)
            m.update(shingles(norm[: self.max_chars], self.shingle_k))
            p.sig = array("I", m.digest()).tobytes()
            p.keys = self._band_keys(p.sig)
            cid = self._near(p.sig, p.keys)
            if cid is not None:
                hit = (0, cid)
        if hit is not None:
            p.cid, p.found = hit[1], True
        elif fp is not None:
            p.cid = f"{fp:016x}"
        elif repost_of is not None:
            p.cid = f"r{_h(repost_of):016x}"
        else:  # no text at all: a cluster of its own, still replay-stable
            p.cid = f"p{_h(f'{author_id}|{t!r}|{post_id}'):016x}"
        if not p.found and p.cid in self._clusters:  # evicted index, live cluster: rejoin
            p.found = True
        return p

    def _band_keys(self, sig: bytes) -> list[int]:
        w = self._band_bytes
        return [_xxh3(sig[i * w : (i + 1) * w], seed=i) for i in range(self.bands)]

    def _near(self, sig: bytes, keys: list[int]) -> str | None:
        """Best verified cluster among the band candidates, or None."""
        counts: dict[str, int] = {}
        sigs: dict[str, bytes] = {}
        for k in keys:
            e = self._bands.get(k)
            if e is not None:
                counts[e[2]] = counts.get(e[2], 0) + 1
                sigs.setdefault(e[2], e[1])
        if not counts:
            return None
        me = int.from_bytes(sig, "little")
        low, high = _lanes(self.num_perm)
        best, best_j = None, self.threshold
        ranked = sorted(counts, key=lambda cid: -counts[cid])[: self.max_candidates]
        for cid in ranked:
            # Equal 32-bit hash values, counted in one go on big ints (SWAR, ~7x faster than
            # comparing 64 elements in Python): a lane of x is non-zero iff its top bit is set
            # in ((x & 0x7fffffff) + 0x7fffffff) | x, and the add never carries across lanes.
            x = me ^ int.from_bytes(sigs[cid], "little")
            j = (self.num_perm - ((((x & low) + low) | x) & high).bit_count()) / self.num_perm
            if j > best_j or (j == best_j and best is None):
                best, best_j = cid, j
        return best

    def _apply(self, p: _Prep, learn: bool) -> DedupResult:
        c = self._clusters.get(p.cid) if p.found else None
        if c is None:
            c = _Cluster()
        size = c.size + 1
        reposts = c.reposts + p.repost
        n_authors = c.n_authors()
        new_author = n_authors < self.max_authors and not c.has_author(p.author)
        n_authors += new_author
        arrivals = c.new_authors
        if new_author and not p.repost:
            arrivals = (*arrivals, p.ts)[-self.campaign_min_authors :]
        rts = (*c.repost_ts, p.ts)[-self.viral_min_reposts :] if p.repost else c.repost_ts
        campaign = c.campaign or (
            len(arrivals) >= self.campaign_min_authors
            and max(arrivals) - min(arrivals) <= self.campaign_window_s
        )
        viral = c.viral or (
            len(rts) >= self.viral_min_reposts
            and max(rts) - min(rts) <= self.viral_window_s
            and reposts >= self.viral_min_share * size
        )
        if learn:
            c.size, c.reposts, c.campaign, c.viral = size, reposts, campaign, viral
            c.new_authors, c.repost_ts = arrivals, rts
            if new_author:
                if c.authors is None:
                    c.authors = p.author
                elif isinstance(c.authors, int):
                    c.authors = {c.authors, p.author}
                else:
                    c.authors.add(p.author)
            self._index(p, c)
        return DedupResult(p.cid, not p.found, p.exact, size, n_authors, campaign, viral)

    def _index(self, p: _Prep, c: _Cluster) -> None:
        b = self._bucket_for(p.ts)
        self._clusters[p.cid] = c
        c.last_bucket = b.id
        b.clusters.add(p.cid)
        b.n += 1
        self._n_items += 1
        if p.fp is not None:
            self._fps[p.fp] = (b.id, p.cid)
            b.fps.append(p.fp)
        for pid in (p.post_id, p.repost_of):
            if pid is not None:
                self._posts[pid] = (b.id, p.cid)
                b.posts.append(pid)
        if p.sig is not None and not p.exact:
            item = (b.id, p.sig, p.cid)
            for k in p.keys:
                self._bands[k] = item
            b.items.append(p.sig)
        self._evict()

    def _bucket_for(self, ts: float) -> _Bucket:
        self._now = max(self._now, ts)
        cur = self._buckets[-1] if self._buckets else None
        width = self.horizon_s / self.n_buckets
        if cur is None or self._now >= cur.start + width or cur.n >= self._bucket_cap:
            cur = _Bucket(self._next_bucket, self._now)
            self._next_bucket += 1
            self._buckets.append(cur)
        cur.last_ts = self._now
        return cur

    def _evict(self) -> None:
        while len(self._buckets) > 1 and (
            self._buckets[0].last_ts < self._now - self.horizon_s or self._n_items > self.max_items
        ):
            b = self._buckets.popleft()
            self._n_items -= b.n
            for sig in b.items:
                for k in self._band_keys(sig):
                    e = self._bands.get(k)
                    if e is not None and e[0] == b.id:
                        del self._bands[k]
            for fp in b.fps:
                f = self._fps.get(fp)
                if f is not None and f[0] == b.id:
                    del self._fps[fp]
            for pid in b.posts:
                q = self._posts.get(pid)
                if q is not None and q[0] == b.id:
                    del self._posts[pid]
            for cid in b.clusters:
                c = self._clusters.get(cid)
                if c is not None and c.last_bucket == b.id:
                    del self._clusters[cid]
