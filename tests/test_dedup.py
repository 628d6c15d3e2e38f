"""Deduplicator behaviour: exact/near duplicates, reposts, campaigns, virality, bounds."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.dedup import evaluate, make_corpus
from detectors.dedup import Deduplicator
from detectors.text import normalize

BASE = "The Acme app deleted all my photos after the update and support will not answer"


def test_exact_duplicates_after_normalisation() -> None:
    d = Deduplicator()
    first = d.process_one(BASE, "u0", 0.0)
    variants = [
        BASE.upper(),
        f"RT @someone: {BASE}",
        f"{BASE} https://t.co/abc123",
        f"@acme {BASE}",
        f"{BASE} #acmefail #fail",
        BASE.replace(" ", " ,  ") + "!!!",
    ]
    for i, v in enumerate(variants, 1):
        r = d.process_one(v, f"u{i}", float(i))
        assert (r.cluster_id, r.exact, r.is_first) == (first.cluster_id, True, False), v
    assert r.cluster_size == len(variants) + 1
    assert first.is_first and not first.exact and first.cluster_size == 1


def test_near_duplicates_join_and_different_posts_do_not() -> None:
    d = Deduplicator()
    c = d.process_one(BASE, "u0", 0.0).cluster_id
    edited = d.process_one(BASE.replace("photos", "pictures"), "u1", 1.0)
    assert edited.cluster_id == c and not edited.exact
    other = d.process_one("Acme support answered within minutes and fixed my order", "u2", 2.0)
    assert other.cluster_id != c and other.is_first
    # Short texts are only merged when exactly equal: "so bad" and "so sad" stay apart.
    assert (
        d.process_one("so bad", "u3", 3.0).cluster_id
        != d.process_one("so sad", "u4", 4.0).cluster_id
    )


def test_cluster_ids_are_replay_stable() -> None:
    corpus = make_corpus(200, seed=3)

    def run() -> list[str]:
        d = Deduplicator(seed=7)
        return [
            d.process_one(p.text, p.author, p.ts, p.repost_of, post_id=p.post_id).cluster_id
            for p in corpus
        ]

    ids = run()
    assert ids == run()
    assert len(set(ids)) > 50  # not everything in one cluster


def test_reposts_join_the_original_even_without_text_and_out_of_order() -> None:
    d = Deduplicator()
    early = d.process_one("", "fan1", 5.0, repost_of="p1")  # repost seen before its original
    orig = d.process_one(BASE, "author", 0.0, post_id="p1")
    late = d.process_one("", "fan2", 9.0, repost_of="p1")
    assert early.cluster_id == orig.cluster_id == late.cluster_id
    assert not orig.is_first and late.cluster_size == 3
    # Two empty posts that are not reposts are not duplicates of each other.
    assert d.process_one("", "x", 1.0).cluster_id != d.process_one("", "y", 1.0).cluster_id


def test_campaign_needs_many_authors_in_a_short_time() -> None:
    d = Deduplicator(campaign_min_authors=5, campaign_window_s=1800)
    flags = [d.process_one(f"{BASE} {i}", f"bot{i}", i * 60.0).campaign for i in range(6)]
    assert flags == [False, False, False, False, True, True]

    slow = Deduplicator(campaign_min_authors=5, campaign_window_s=1800)
    assert not any(slow.process_one(BASE, f"u{i}", i * 3600.0).campaign for i in range(6))

    one_author = Deduplicator(campaign_min_authors=5)
    results = [one_author.process_one(BASE, "spammer", float(i)) for i in range(10)]
    assert not results[-1].campaign and results[-1].distinct_authors == 1


def test_viral_is_driven_by_reposts_of_one_post() -> None:
    d = Deduplicator(viral_min_reposts=20, viral_window_s=3600)
    d.process_one(BASE, "author", 0.0, post_id="p1")
    flags = [d.process_one("", f"fan{i}", 10.0 + i, repost_of="p1").viral for i in range(20)]
    assert flags[:19] == [False] * 19 and flags[19]
    # Twenty copy-pastes by different authors are a campaign, not virality.
    c = Deduplicator(viral_min_reposts=20)
    last = [c.process_one(BASE, f"u{i}", float(i)) for i in range(20)][-1]
    assert last.campaign and not last.viral


def test_score_one_does_not_change_state() -> None:
    d = Deduplicator()
    d.process_one(BASE, "u0", 0.0)
    before = pickle.dumps(d)
    s1 = d.score_one(BASE + " today", "u1", 1.0)
    assert pickle.dumps(d) == before and d.score_one(BASE + " today", "u1", 1.0) == s1
    assert d.process_one(BASE + " today", "u1", 1.0) == s1
    d.learn_one("something else entirely, about weather and trains", "u2", 2.0)
    assert d.n_items == 3


def test_time_horizon_evicts_index_and_clusters() -> None:
    d = Deduplicator(horizon_s=3600, n_buckets=6)
    c = d.process_one(BASE, "u0", 0.0).cluster_id
    for i in range(1, 200):  # unrelated posts keep time moving
        d.process_one(f"unrelated post number {i} about trains and weather", f"u{i}", i * 60.0)
    r = d.process_one(BASE, "u9", 200 * 60.0)
    assert r.is_first and not r.exact and r.cluster_id == c  # same text, same id, new cluster
    assert d.n_items <= 3600 / 60 * (1 + 1 / 6) + 1
    assert d.n_clusters <= d.n_items


def test_count_bound_holds() -> None:
    d = Deduplicator(max_items=100, n_buckets=10)
    for i in range(2000):
        d.process_one(
            f"distinct post {i} " + "x" * (i % 7) + f" {i * 7919}", f"u{i}", float(i) / 1000
        )
        assert d.n_items <= 110
    assert d.n_clusters <= 110


def test_datetime_timestamps_and_bad_parameters() -> None:
    d = Deduplicator()
    a = d.process_one(BASE, "u0", datetime(2026, 1, 1, tzinfo=UTC))
    assert d.process_one(BASE, "u1", 1767225600.0 + 5).cluster_id == a.cluster_id
    for kwargs in (
        {"threshold": 0.0},
        {"num_perm": 60, "bands": 16},
        {"max_items": 0},
        {"campaign_min_authors": 1},
    ):
        with pytest.raises(ValueError):
            Deduplicator(**kwargs)  # type: ignore[arg-type]


def test_pickle_round_trip_mid_stream() -> None:
    corpus = make_corpus(150, seed=5)
    d = Deduplicator()
    half = len(corpus) // 2
    for p in corpus[:half]:
        d.process_one(p.text, p.author, p.ts, p.repost_of, post_id=p.post_id)
    clone = pickle.loads(pickle.dumps(d))
    for p in corpus[half:]:
        args = (p.text, p.author, p.ts, p.repost_of)
        assert d.process_one(*args, post_id=p.post_id) == clone.process_one(
            *args, post_id=p.post_id
        )


def test_acceptance_recall_and_false_merges_on_generated_corpus() -> None:
    m = evaluate(make_corpus(2000, seed=11), Deduplicator())
    assert m["dup_posts"] > 5000
    assert m["recall"] >= 0.9, m
    assert m["false_merge"] < 0.01, m


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=120))
def test_normalize_is_idempotent_and_never_crashes(text: str) -> None:
    n = normalize(text)
    assert normalize(n) == n
    assert n == n.strip() and "  " not in n
    Deduplicator().process_one(text, "u", 0.0)


def _feed(d: Deduplicator, posts: list, start: int, stop: int) -> list:  # type: ignore[type-arg]
    return [
        d.process_one(p.text, p.author, p.ts, p.repost_of, post_id=p.post_id)
        for p in posts[start:stop]
    ]


def test_compact_pickle_round_trips_under_eviction() -> None:
    """__getstate__/__setstate__ rebuild the band tables, bucket key lists and cluster links:
    after a round trip at any point (buckets being evicted by count and by time) the rest of
    the stream gives the same results as the original, which never was pickled."""
    corpus = make_corpus(400, seed=9)
    kw = {"max_items": 300, "n_buckets": 5, "horizon_s": 900.0, "campaign_min_authors": 3}
    ref = Deduplicator(**kw)  # type: ignore[arg-type]
    expected = _feed(ref, corpus, 0, len(corpus))
    assert ref.n_items <= 300 + 60 and len({r.cluster_id for r in expected}) > 100
    for cut in (0, 1, 137, len(corpus) // 2, len(corpus) - 5):
        d = Deduplicator(**kw)  # type: ignore[arg-type]
        head = _feed(d, corpus, 0, cut)
        clone = pickle.loads(pickle.dumps(d))
        assert (clone.n_items, clone.n_clusters) == (d.n_items, d.n_clusters)
        assert head + _feed(clone, corpus, cut, len(corpus)) == expected, cut


def test_pickle_is_compact_and_keeps_odd_post_ids() -> None:
    d = Deduplicator()
    for i in range(300):
        d.process_one(f"{BASE} number {i} of a long series", f"u{i}", float(i), post_id=f"p{i}")
    assert len(pickle.dumps(d)) < 300 * 600  # ~0.3 KB per post: the signature and a few ids
    odd = Deduplicator()
    odd.process_one(BASE, "u0", 0.0, post_id="line\nbreak")  # the joined-ids path cannot hold it
    odd.process_one("", "u1", 1.0, post_id="", repost_of="line\nbreak")
    clone = pickle.loads(pickle.dumps(odd))
    r = clone.process_one("", "u2", 2.0, repost_of="")
    assert r == odd.process_one("", "u2", 2.0, repost_of="") and r.cluster_size == 3


# Snapshots written by earlier versions: (file, corpus size, seed, posts fed before pickling,
# max_items, n_items and n_clusters when loaded). dedup_legacy.pickle: the default pickle of the
# index before the compact format (detectors/dedup.py at 20f822b); dedup_v2.pickle: the compact
# (version 2) format as written at 7385e69, before eviction went band by band.
SNAPSHOTS = [
    ("dedup_legacy.pickle", 30, 21, 60, 40, 38, 15),
    ("dedup_v2.pickle", 40, 22, 90, 60, 54, 18),
]


@pytest.mark.parametrize(
    ("name", "n", "seed", "fed", "max_items", "items", "clusters"),
    SNAPSHOTS,
    ids=[s[0] for s in SNAPSHOTS],
)
def test_snapshot_of_an_earlier_version_still_loads(
    name: str, n: int, seed: int, fed: int, max_items: int, items: int, clusters: int
) -> None:
    """Loaded by this version (buckets already evicted in it), the rest of the stream gives
    what an index that never was pickled gives."""
    corpus = make_corpus(n, seed=seed)
    kw = {"max_items": max_items, "n_buckets": 4, "horizon_s": 1200.0, "campaign_min_authors": 3}
    ref = Deduplicator(**kw)  # type: ignore[arg-type]
    expected = _feed(ref, corpus, 0, len(corpus))
    old = pickle.loads((Path(__file__).parent / "data" / name).read_bytes())
    assert (old.n_items, old.n_clusters, old.max_items) == (items, clusters, max_items)
    assert _feed(old, corpus, fed, len(corpus)) == expected[fed:]


def test_fast_result_constructor_builds_the_same_frozen_dataclass() -> None:
    import dataclasses

    from detectors.dedup import DedupResult, _result

    args = ("c1", False, True, 3, 2, True, False)
    r = _result(*args)
    assert r == DedupResult(*args) and hash(r) == hash(DedupResult(*args))
    assert dataclasses.astuple(r) == args and repr(r) == repr(DedupResult(*args))
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.cluster_size = 4  # type: ignore[misc]


def test_band_tables_hold_exactly_the_latest_live_owner_of_each_key() -> None:
    """Bucket eviction (band by band, pop then put back later owners) leaves each band table
    as the live items define it: every key of a live item, owned by the latest item holding
    it, and nothing else; near-duplicates make items of one bucket share keys. The same for
    the fingerprint and post-id refs."""
    corpus = make_corpus(300, seed=4)
    d = Deduplicator(max_items=150, n_buckets=5, horizon_s=600.0)
    evictions = shared = 0
    for k, p in enumerate(corpus):
        oldest = d._buckets[0].id if d._buckets else 0
        d.process_one(p.text, p.author, p.ts, p.repost_of, post_id=p.post_id)
        evictions += d._buckets[0].id != oldest
        if k % 25:
            continue
        for i, table in enumerate(d._tables):
            expected: dict[bytes, object] = {}
            for b in d._buckets:
                for item in b.items:
                    key = d._split(item[1])[i]
                    shared += key in expected
                    expected[key] = item
            assert table == expected, (k, i)
        for refs, attr in ((d._fps, "fps"), (d._posts, "posts")):  # evicted the same way
            latest = {key: b.id for b in d._buckets for key in getattr(b, attr)}
            assert {key: ref[0] for key, ref in refs.items()} == latest, (k, attr)
    assert evictions > 10 and shared > 100


def test_post_keys_are_remembered_within_the_horizon_and_survive_snapshots() -> None:
    """``has_post``: a key noted stays known while its bucket is in the horizon (by time and by
    count), goes with it, and survives a pickle; an index pickled before keys existed loads
    knowing none."""
    d = Deduplicator(horizon_s=3600, n_buckets=6, max_items=1000)
    d.note_post("x:0", 0.0)
    d.process_one(BASE, "u0", 0.0)
    for i in range(1, 50):  # 49 minutes: still in the horizon
        d.process_one(f"unrelated post number {i} about trains", f"u{i}", i * 60.0)
        d.note_post(f"x:{i}", i * 60.0)
    clone = pickle.loads(pickle.dumps(d))
    assert all(clone.has_post(f"x:{i}") for i in range(50)) and not clone.has_post("x:50")
    for i in range(50, 130):  # time moves past the first hour: its buckets leave
        clone.process_one(f"unrelated post number {i} about trains", f"u{i}", i * 60.0)
        clone.note_post(f"x:{i}", i * 60.0)
    assert not clone.has_post("x:0") and clone.has_post("x:129")
    assert len(clone._keys) <= 3600 / 60 * (1 + 1 / 6) + 1  # bounded as the index is
    state = d.__getstate__()
    del state["keys"], state["key_buckets"]  # as written before has_post
    old = Deduplicator.__new__(Deduplicator)
    old.__setstate__(state)
    assert not old.has_post("x:1") and old.n_items == d.n_items
    old.note_post("x:1", 50 * 60.0)
    assert old.has_post("x:1")
