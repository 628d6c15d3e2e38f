"""posts.raw routing: exact duplicates (same normalised text) share a partition."""

from __future__ import annotations

import json

from crisis_radar.ingest.bulk import partition_batches
from crisis_radar.ingest.route import route_hash


def _post(post_id: str, text: str) -> tuple[bytes, bytes]:
    value = {"platform": "x", "post_id": post_id, "author": {"id": "a"}, "text": text}
    return f"x:{post_id}".encode(), json.dumps(value).encode()


def test_exact_duplicates_share_a_partition_across_keys() -> None:
    variants = [
        "Acme stole my data!!! https://t.co/a #acmefail",
        "acme stole my data",
        "RT @bob: ACME stole my data.",
        "Acme   stole my data?",
    ]
    for n in (2, 3, 4, 16):
        parts = {route_hash(*_post(f"p{i}", t)) % n for i, t in enumerate(variants)}
        assert len(parts) == 1, (n, parts)


def test_different_texts_spread_and_empty_text_routes_by_key() -> None:
    parts = {route_hash(*_post(f"p{i}", f"post number {i} about acme")) % 8 for i in range(200)}
    assert len(parts) == 8
    empty = {route_hash(*_post(f"p{i}", "")) % 8 for i in range(200)}
    assert len(empty) == 8  # by key: bare reposts do not pile onto one partition
    assert route_hash(b"k", b"not json") == route_hash(b"k", b"[1, 2]")


def test_bulk_batches_follow_the_route() -> None:
    from collections import Counter

    pairs = [_post(f"p{i}", f"same complaint about acme #{i}") for i in range(50)]
    pairs += [_post(f"q{i}", f"other text {i}") for i in range(50)]
    want = Counter(route_hash(*p) % 4 for p in pairs)
    assert len({route_hash(*p) % 4 for p in pairs[:50]}) == 1  # trailing hashtags dropped
    got: Counter[int] = Counter()
    for b in partition_batches(pairs, 4, lz4=False):
        got[b.partition] += b.count
    assert got == want
