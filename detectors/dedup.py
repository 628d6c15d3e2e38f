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
dropped. The same post read twice is another matter: ``has_post`` tells whether a post's key
(platform and id) was indexed within the horizon, so a caller can count it once.

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

import struct
from array import array
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime
from functools import cache
from itertools import compress, repeat
from operator import getitem, ne
from typing import Any

import numpy as np
import xxhash
from rensa import RMinHash

from detectors.text import _RT_PREFIX, normalize_memo

_xxh3 = xxhash.xxh3_64_intdigest
_get = dict.get
_ZEROS = repeat(0)  # (builtin functions in map(): vectorcalls; itemgetter, slot wrappers:
# an argument tuple per call on 3.11)
_cat = b"".join
_Item = tuple[int, bytes, str]  # (bucket id, signature, cluster id); one shared tuple per item
_Ref = tuple[int, str]  # (bucket id, cluster id); an indexed post's ref is its _Item


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


@cache
def _splitter(fmt: str) -> Callable[[bytes], tuple[bytes, ...]]:
    """Cuts a signature into its band keys in one C call (``fmt``: "16s" once per band)."""
    return struct.Struct(fmt).unpack


@cache
def _packer(fmt: str) -> Callable[..., bytes]:
    """Packs a digest's ints into the signature in one C call (no array object per post)."""
    return struct.Struct(fmt).pack


# shingle_k -> text length -> slices of the text's char k-grams (text.shingles), shared by all
# instances: map(getitem, repeat(text), slices) cuts them with no Python-level loop (~25% fewer
# instructions than a list comprehension).
_WINDOWS: dict[int, dict[int, tuple[slice, ...]]] = {}


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


# A cluster is a tuple, replaced on every post (pickled column-wise; a tuple of atomic values
# leaves the garbage collector's lists, a list never would):
# [size, reposts, authors, new_authors, repost_ts, campaign, viral, last_bucket] where authors is
# None, one author hash, or a set once there are two; new_authors holds the arrival times of the
# latest original authors, repost_ts the times of the latest reposts.
_Row = tuple[Any, ...]
_SIZE, _REPOSTS, _AUTHORS, _ARRIVALS, _RTS, _CAMPAIGN, _VIRAL, _LAST = range(8)
_EMPTY: _Row = (0, 0, None, (), (), False, False, -1)


_new = object.__new__
_S_CID, _S_FIRST, _S_EXACT, _S_SIZE, _S_AUTHORS, _S_CAMPAIGN, _S_VIRAL = (
    getattr(DedupResult, f.name).__set__ for f in fields(DedupResult)
)


def _result(
    cid: str, first: bool, exact: bool, size: int, authors: int, campaign: bool, viral: bool
) -> DedupResult:
    """``DedupResult(...)`` at about half the cost: a frozen dataclass's __init__ goes through
    object.__setattr__ per field; the slot descriptors set the same slots directly."""
    r: DedupResult = _new(DedupResult)
    _S_CID(r, cid)
    _S_FIRST(r, first)
    _S_EXACT(r, exact)
    _S_SIZE(r, size)
    _S_AUTHORS(r, authors)
    _S_CAMPAIGN(r, campaign)
    _S_VIRAL(r, viral)
    return r


class _Cluster:
    """The cluster object of snapshots pickled before the compact format (loads them only)."""

    __slots__ = (
        "authors", "campaign", "last_bucket", "new_authors",
        "repost_ts", "reposts", "size", "viral",
    )  # fmt: skip


class _Bucket:
    """One slice of the horizon: what to unindex when it is evicted. ``fps``, ``posts`` and
    ``clusters`` may list keys a later bucket took over; eviction skips those."""

    __slots__ = ("clusters", "fps", "id", "items", "keys", "last_ts", "n", "posts", "start")

    def __init__(self, bucket_id: int, start: float) -> None:
        self.id = bucket_id
        self.start = start
        self.last_ts = start
        self.n = 0
        self.items: list[_Item] = []  # the band tables' values; keys are recut on eviction
        self.fps: list[int] = []
        self.posts: list[str] = []
        self.keys: list[str] = []  # post keys (has_post), each in one bucket only
        self.clusters: set[str] = set()


_PARAMS = (
    "horizon_s", "max_items", "threshold", "seed", "num_perm", "bands", "shingle_k", "min_chars",
    "max_chars", "n_buckets", "max_candidates", "max_authors", "campaign_min_authors",
    "campaign_window_s", "viral_min_reposts", "viral_window_s", "viral_min_share",
)  # fmt: skip


class Deduplicator:
    """Groups posts into exact/near-duplicate clusters within a time horizon.

    ``ts`` is the post's event time in seconds (or an aware ``datetime``); ``post_id`` lets a
    later ``repost_of`` find its original even when the repost carries no text.

    Parameters: ``threshold`` is the minimum estimated Jaccard similarity of the char
    ``shingle_k``-gram sets for a near-duplicate; texts shorter than ``min_chars`` after
    normalisation are matched exactly only ("so bad" vs "so sad"); the first ``max_chars``
    characters are shingled. An indexed post costs about 2.4 KB (bench.dedup, tracemalloc of a
    full index: its 16 band-table entries ~0.85 KB and their 16 key objects ~0.7 KB, the
    256-byte signature, the refs and cluster rows), so the default ``max_items`` bounds the
    index near 240 MB. Pickles are compact (flat arrays, ~0.3 KB per post; the band tables are
    rebuilt on load).
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
        self._init_index()

    def _init_index(self) -> None:
        self._split_format = f"{4 * self.num_perm // self.bands}s" * self.bands
        self._split = _splitter(self._split_format)
        self._pack = _packer(f"={self.num_perm}I")  # native order, 4-byte lanes as array("I")
        self._cell = np.dtype((np.void, 4 * self.num_perm // self.bands))
        self._width = self.horizon_s / self.n_buckets
        self._bucket_cap = max(1, self.max_items // self.n_buckets)
        self._windows = _WINDOWS.setdefault(self.shingle_k, {})
        # One table per band, keyed by the band's bytes (no hashing needed to tell bands apart).
        self._tables: list[dict[bytes, _Item]] = [{} for _ in range(self.bands)]
        self._fps: dict[int, _Ref | _Item] = {}
        self._posts: dict[str, _Ref | _Item] = {}
        self._keys: dict[str, int] = {}  # post key -> bucket id (has_post)
        self._clusters: dict[str, _Row] = {}
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
        return self._process(text, author_id, ts, repost_of, post_id, True)

    def has_post(self, key: str) -> bool:
        """Whether the post with this key (``Post.key``: platform and id) was added within
        the horizon: the same post read again, not a repost or a copy of its text.

        >>> d = Deduplicator()
        >>> d.note_post("x:1", ts=0.0)
        >>> d.has_post("x:1"), d.has_post("x:2")
        (True, False)
        """
        return key in self._keys

    def note_post(self, key: str, ts: float | datetime) -> None:
        """Remember a post's key (``Post.key``) for :meth:`has_post`, until the bucket of its
        event time ``ts`` leaves the horizon. Apart from :meth:`process_one`, so that a caller
        remembers a batch's posts only once the whole batch went through."""
        t = ts.timestamp() if isinstance(ts, datetime) else float(ts)
        b = self._bucket_for(t)
        self._keys[key] = b.id
        b.keys.append(key)

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
        return self._process(text, author_id, ts, repost_of, post_id, False)

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
        self._process(text, author_id, ts, repost_of, post_id, True)

    @property
    def n_items(self) -> int:
        """Posts currently indexed (bounded by ``max_items`` plus one bucket)."""
        return self._n_items

    @property
    def n_clusters(self) -> int:
        return len(self._clusters)

    # ---------------------------------------------------------------- internals
    def _process(
        self,
        text: str,
        author_id: str,
        ts: float | datetime,
        repost_of: str | None,
        post_id: str | None,
        learn: bool,
    ) -> DedupResult:
        # One flat function: this runs for every post the worker sees.
        t = ts.timestamp() if isinstance(ts, datetime) else float(ts)
        norm = normalize_memo(text)  # routing may have normalised it (offline), terms will
        raw = norm or text.strip()
        fp = _xxh3(raw.encode("utf-8", "surrogatepass")) if raw else None  # = _h(raw), inlined
        repost = repost_of is not None or _RT_PREFIX.match(text) is not None  # is_retweet()
        hit: _Ref | _Item | None = None
        if post_id is not None:
            hit = self._posts.get(post_id)
        if hit is None and repost_of is not None:
            hit = self._posts.get(repost_of)
        exact = False
        if fp is not None:
            e = self._fps.get(fp)
            if e is not None:
                exact = True
                hit = hit or e
        sig = None
        keys: tuple[bytes, ...] = ()
        if hit is None and len(norm) >= self.min_chars:
            s = norm[: self.max_chars]
            m = RMinHash(self.num_perm, self.seed)
            k = self.shingle_k
            n = len(s)
            if n > k:
                win = self._windows.get(n)
                if win is None:
                    win = self._windows[n] = tuple(slice(i, i + k) for i in range(n - k + 1))
                m.update(list(map(getitem, repeat(s), win)))
            else:
                m.update((s,))
            sig = self._pack(*m.digest())  # = array("I", m.digest()).tobytes()
            keys = self._split(sig)
            near = self._near(sig, keys)
            if near is not None:
                hit = (0, near)
        if hit is not None:
            cid = hit[-1]
        elif fp is not None:
            cid = f"{fp:016x}"
        elif repost_of is not None:
            cid = f"r{_h(repost_of):016x}"
        else:  # no text at all: a cluster of its own, still replay-stable
            cid = f"p{_h(f'{author_id}|{t!r}|{post_id}'):016x}"
        c = self._clusters.get(cid)  # a hit's cluster, or rejoining a live one (evicted index)
        found = hit is not None or c is not None
        if c is None:
            c = _EMPTY
        author = _xxh3(author_id.encode("utf-8", "surrogatepass"))  # = _h(author_id)
        size = c[_SIZE] + 1
        reposts = c[_REPOSTS] + repost
        a = c[_AUTHORS]
        if a is None:
            n_authors, seen = 0, False
        elif a.__class__ is int:
            n_authors, seen = 1, a == author
        else:
            n_authors, seen = len(a), author in a
        new_author = n_authors < self.max_authors and not seen
        n_authors += new_author
        arrivals = c[_ARRIVALS]
        if new_author and not repost:
            arrivals = (*arrivals, t)[-self.campaign_min_authors :]
        rts = (*c[_RTS], t)[-self.viral_min_reposts :] if repost else c[_RTS]
        campaign = c[_CAMPAIGN] or (
            len(arrivals) >= self.campaign_min_authors
            and max(arrivals) - min(arrivals) <= self.campaign_window_s
        )
        viral = c[_VIRAL] or (
            len(rts) >= self.viral_min_reposts
            and max(rts) - min(rts) <= self.viral_window_s
            and reposts >= self.viral_min_share * size
        )
        if learn:
            if new_author:
                if a is None:
                    a = author
                elif a.__class__ is int:
                    a = {a, author}
                else:
                    a.add(author)
            b = self._bucket_for(t)
            bid = b.id
            self._clusters[cid] = (size, reposts, a, arrivals, rts, campaign, viral, bid)
            b.clusters.add(cid)
            b.n += 1
            self._n_items += 1
            ref: _Ref | _Item
            if sig is not None and not exact:
                ref = (bid, sig, cid)  # the item doubles as the ref: one tuple less per post
                for table, key in zip(self._tables, keys, strict=True):
                    table[key] = ref
                b.items.append(ref)
            else:
                ref = (bid, cid)
            if fp is not None:
                self._fps[fp] = ref
                b.fps.append(fp)
            if post_id is not None:
                self._posts[post_id] = ref
                b.posts.append(post_id)
            if repost_of is not None:
                self._posts[repost_of] = ref
                b.posts.append(repost_of)
            buckets = self._buckets
            if len(buckets) > 1 and (
                buckets[0].last_ts < self._now - self.horizon_s or self._n_items > self.max_items
            ):  # _evict()'s loop condition, tested here to skip the call on most posts
                self._evict()
        return _result(cid, not found, exact, size, n_authors, campaign, viral)

    def _near(self, sig: bytes, keys: tuple[bytes, ...]) -> str | None:
        """Best verified cluster among the band candidates, or None."""
        hits = list(map(_get, self._tables, keys))
        if hits.count(None) == len(hits):
            return None
        counts: dict[str, int] = {}
        sigs: dict[str, bytes] = {}
        for e in hits:
            if e is not None:
                cid = e[2]
                if cid in counts:
                    counts[cid] += 1
                else:
                    counts[cid] = 1
                    sigs[cid] = e[1]
        me = int.from_bytes(sig, "little")
        low, high = _lanes(self.num_perm)
        best, best_j = None, self.threshold
        if len(counts) == 1:
            ranked: list[str] | dict[str, int] = counts
        else:  # most shared bands first; the sort is stable, so ties keep first-seen order
            ranked = sorted(counts, key=counts.__getitem__, reverse=True)[: self.max_candidates]
        for cid in ranked:
            # Equal 32-bit hash values, counted in one go on big ints (SWAR, ~7x faster than
            # comparing 64 elements in Python): a lane of x is non-zero iff its top bit is set
            # in ((x & 0x7fffffff) + 0x7fffffff) | x, and the add never carries across lanes.
            x = me ^ int.from_bytes(sigs[cid], "little")
            j = (self.num_perm - ((((x & low) + low) | x) & high).bit_count()) / self.num_perm
            if j > best_j or (j == best_j and best is None):
                best, best_j = cid, j
        return best

    def _bucket_for(self, ts: float) -> _Bucket:
        if ts > self._now:
            self._now = ts
        cur = self._buckets[-1] if self._buckets else None
        if cur is None or self._now >= cur.start + self._width or cur.n >= self._bucket_cap:
            cur = _Bucket(self._next_bucket, self._now)
            self._next_bucket += 1
            self._buckets.append(cur)
        cur.last_ts = self._now
        return cur

    def _evict(self) -> None:
        buckets = self._buckets
        while len(buckets) > 1 and (
            buckets[0].last_ts < self._now - self.horizon_s or self._n_items > self.max_items
        ):
            b = buckets.popleft()
            bid = b.id
            self._n_items -= b.n
            items = b.items
            gone, bids = (bid,), repeat(bid)
            if items:
                # Band by band, in C-level passes over the whole bucket: pop its keys (a key
                # two of its items share pops once, then gives ``gone``), then put back the
                # keys whose owner is a later bucket's post; the tables end as deleting only the
                # keys each item still owned would leave them.
                cells = np.frombuffer(_cat([item[1] for item in items]), self._cell)
                cells = cells.reshape(len(items), self.bands)
                for i, table in enumerate(self._tables):
                    keys = cells[:, i].tolist()
                    owners: list[Any] = list(map(table.pop, keys, repeat(gone)))
                    flags = map(ne, map(getitem, owners, _ZEROS), bids)  # owner of a later bucket
                    table.update(compress(zip(keys, owners, strict=True), flags))
            lists: tuple[tuple[dict[Any, Any], list[Any]], ...] = (
                (self._fps, b.fps),
                (self._posts, b.posts),
            )
            for refs, ids in lists:  # the same way: pop, put back a later bucket's refs
                held: list[Any] = list(map(refs.pop, ids, repeat(gone)))
                later = map(ne, map(getitem, held, _ZEROS), bids)
                refs.update(compress(zip(ids, held, strict=True), later))
            keys = self._keys
            for key in b.keys:
                if keys.get(key) == bid:
                    del keys[key]
            clusters = self._clusters
            for cid in b.clusters:
                c = clusters.get(cid)
                if c is not None and c[_LAST] == bid:
                    del clusters[cid]

    # ---------------------------------------------------------------- snapshots
    def __getstate__(self) -> dict[str, Any]:
        """Columns and flat arrays instead of ~10 objects per post: the worker pickles each
        partition's index every few seconds. Band tables, bucket key lists and the dicts'
        tuples are derived and rebuilt by ``__setstate__``."""
        clusters = self._clusters
        index = {cid: i for i, cid in enumerate(clusters)}
        code = _code(len(clusters))
        position = {b.id: i for i, b in enumerate(self._buckets)}
        sigs: list[bytes] = []
        item_cluster = array(code)
        for b in self._buckets:
            sigs.extend([item[1] for item in b.items])
            item_cluster.extend([index[item[2]] for item in b.items])
        fps, posts, keys = self._fps, self._posts, self._keys
        return {
            "version": 2,
            "params": {p: getattr(self, p) for p in _PARAMS},
            "clock": (self._next_bucket, self._n_items, self._now),
            "cluster_ids": "\n".join(clusters),  # ids are generated: never hold a newline
            "clusters": tuple(zip(*clusters.values(), strict=True)),  # one tuple per field
            "buckets": [(b.id, b.start, b.last_ts, b.n, len(b.items)) for b in self._buckets],
            "item_sigs": b"".join(sigs),
            "item_cluster": item_cluster,
            "fps": array("Q", fps),
            "fp_refs": _refs(fps.values(), position, index),
            "post_ids": _join(list(posts)),
            "post_refs": _refs(posts.values(), position, index),
            "keys": _join(list(keys)),
            "key_buckets": array(_code(len(position)), map(position.__getitem__, keys.values())),
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        if "version" not in state:  # a snapshot written before the compact format
            self._from_legacy(state)
            return
        for p, v in state["params"].items():
            setattr(self, p, v)
        self._init_index()
        self._next_bucket, self._n_items, self._now = state["clock"]
        ids = state["cluster_ids"].split("\n") if state["cluster_ids"] else []
        clusters = list(zip(*state["clusters"], strict=True))
        self._clusters = dict(zip(ids, clusters, strict=True))
        by_id: dict[int, _Bucket] = {}
        sig_len = 4 * self.num_perm
        blob, item_cluster = state["item_sigs"], state["item_cluster"]
        items: list[_Item] = []
        for bid, start, last_ts, n, n_items in state["buckets"]:
            b = by_id[bid] = _Bucket(bid, start)
            b.last_ts, b.n = last_ts, n
            k0 = len(items)
            items.extend(
                (bid, blob[k * sig_len : (k + 1) * sig_len], ids[item_cluster[k]])
                for k in range(k0, k0 + n_items)
            )
            b.items = items[k0:]
            self._buckets.append(b)
        # Replaying the items oldest first leaves each band key with its latest live item,
        # as the tables were (a key whose latest item was evicted had been deleted with it).
        if items:  # each band's keys as one column (numpy cuts the blob without a tuple per item)
            cells = np.frombuffer(blob, np.dtype((np.void, sig_len // self.bands)))
            cells = cells.reshape(len(items), self.bands)
            self._tables = [
                dict(zip(cells[:, i].tolist(), items, strict=True)) for i in range(self.bands)
            ]
        for cid, c in self._clusters.items():
            by_id[c[_LAST]].clusters.add(cid)
        self._fps = _unrefs(state["fps"], state["fp_refs"], ids, by_id, "fps")
        post_ids = _split_ids(state["post_ids"])
        self._posts = _unrefs(post_ids, state["post_refs"], ids, by_id, "posts")
        if state.get("keys"):  # snapshots before has_post have none: they start remembering
            ids_of = list(by_id)
            keys = _split_ids(state["keys"])
            bids = list(map(ids_of.__getitem__, state["key_buckets"]))
            self._keys = dict(zip(keys, bids, strict=True))
            for key, bid in zip(keys, bids, strict=True):
                by_id[bid].keys.append(key)

    def _from_legacy(self, state: dict[str, Any]) -> None:
        """Adopt the default pickle of the previous layout (one dict of xxh3 band keys, buckets
        listing bare signatures), so a worker upgraded in place keeps its dedup state."""
        for p in _PARAMS:
            setattr(self, p, state[p])
        self._init_index()
        self._next_bucket, self._n_items, self._now = (
            state["_next_bucket"],
            state["_n_items"],
            state["_now"],
        )
        self._clusters = {
            cid: (c.size, c.reposts, c.authors, c.new_authors, c.repost_ts, c.campaign, c.viral,
                  c.last_bucket)
            for cid, c in state["_clusters"].items()
        }  # fmt: skip
        self._fps, self._posts = state["_fps"], state["_posts"]
        old, w = state["_bands"], 4 * self.num_perm // self.bands
        for b in state["_buckets"]:
            items: list[_Item] = []
            for sig in b.items:
                # The item's cluster is on any band key it still owns; an item owning none
                # was superseded on every band by later live items and is not needed.
                for i in range(self.bands):
                    e = old.get(_xxh3(sig[i * w : (i + 1) * w], seed=i))
                    if e is not None and e[0] == b.id and e[1] == sig:
                        items.append((b.id, sig, e[2]))
                        break
            b.items, b.keys = items, []  # (no post keys then)
            self._buckets.append(b)
            for item in items:
                for table, key in zip(self._tables, self._split(item[1]), strict=True):
                    table[key] = item


def _code(n: int) -> str:
    """The smallest array type code that holds 0..n."""
    return "B" if n < 1 << 8 else "H" if n < 1 << 16 else "I" if n < 1 << 32 else "Q"


def _refs(
    refs: Any, position: dict[int, int], index: dict[str, int]
) -> tuple[array[int], array[int]]:
    """Refs (bucket id first, cluster id last) as two small-int arrays: bucket positions,
    cluster numbers."""
    return (
        array(_code(len(position)), map(position.__getitem__, map(getitem, refs, _ZEROS))),
        array(_code(len(index)), map(index.__getitem__, map(getitem, refs, repeat(-1)))),
    )


def _unrefs(
    keys: Any,
    refs: tuple[array[int], array[int]],
    ids: list[str],
    by_id: dict[int, _Bucket],
    attr: str,
) -> dict[Any, _Ref | _Item]:
    """Rebuild a key -> (bucket id, cluster id) dict and each bucket's list of its keys."""
    ids_of = list(by_id)  # bucket ids by position (oldest first)
    bids, cids = list(map(ids_of.__getitem__, refs[0])), refs[1]
    refs_ = zip(bids, map(ids.__getitem__, cids), strict=True)
    out: dict[Any, _Ref | _Item] = dict(zip(keys, refs_, strict=True))
    lists = {bid: getattr(b, attr) for bid, b in by_id.items()}
    for key, bid in zip(keys, bids, strict=True):
        lists[bid].append(key)
    return out


def _join(ids: list[str]) -> str | list[str]:
    """Post ids as one string (one pickle op) unless an id holds the separator (or <= 1 id)."""
    s = "\n".join(ids)
    return s if len(ids) > 1 and s.count("\n") == len(ids) - 1 else ids


def _split_ids(ids: str | list[str]) -> list[str]:
    return ids if isinstance(ids, list) else ids.split("\n")
