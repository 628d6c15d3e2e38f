"""decode_post's fast path (bytes, valid post) gives what its full path gives, for every input.

A bytearray is not ``bytes``, so ``decode_post(bytearray(raw), ...)`` always takes the full path:
the tests compare the two on valid, boundary and broken inputs.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.models import DeadLetter, Post
from schemas.validate import decode_post

NOW = datetime(2026, 11, 23, 12, 0, 30, 5, tzinfo=UTC)
GOOD: dict[str, Any] = {
    "platform": "x",
    "post_id": "1",
    "author": {"id": "u", "handle": "h", "followers": 3},
    "text": "acme \u00e9 \U0001f525",
    "created_at": "2026-11-23T11:59:00Z",
    "hashtags": ["a"],
    "engagement": {"likes": 2},
}


def _fields_set(m: Any) -> Any:
    return (m.model_fields_set, [_fields_set(getattr(m, k)) for k in sorted(m.model_fields_set)
                                 if hasattr(getattr(m, k), "model_fields_set")])  # fmt: skip


def _same(raw: bytes, now: Any) -> Post | DeadLetter:
    fast = decode_post(raw, "t", now)
    full = decode_post(bytearray(raw), "t", now)  # type: ignore[arg-type]
    assert type(fast) is type(full) and fast == full, raw
    if isinstance(fast, Post):
        assert _fields_set(fast) == _fields_set(full)
        assert fast.model_dump_json() == full.model_dump_json()
    return fast


def _raw(**changes: Any) -> bytes:
    return json.dumps(GOOD | changes, ensure_ascii=False).encode()


def test_boundaries_match_check_post() -> None:
    limit = NOW + timedelta(days=1)
    cases = {
        limit.isoformat(): Post,
        (limit + timedelta(microseconds=1)).isoformat(): DeadLetter,
        "2026-11-24T07:00:30.000005-05:00": Post,  # == limit, in another offset
        "2026-11-24T07:00:31-05:00": DeadLetter,  # wall clock before the limit, instant after
        "2006-01-01T00:00:00Z": Post,
        "2006-01-01T01:00:00+02:00": DeadLetter,  # 2005-12-31T23:00Z
        "2026-11-23T10:00:00": DeadLetter,  # naive
    }
    for created_at, kind in cases.items():
        assert isinstance(_same(_raw(created_at=created_at), NOW), kind), created_at
    for n, kind in ((2**63 - 1, Post), (2**63, DeadLetter), (-1, DeadLetter)):
        assert isinstance(_same(_raw(engagement={"quotes": n}), NOW), kind)
        assert isinstance(_same(_raw(author={"id": "u", "followers": n}), NOW), kind)


def test_now_changes_between_calls() -> None:
    raw = _raw(created_at="2026-11-24T12:30:00Z")
    assert isinstance(_same(raw, NOW), DeadLetter)
    later = NOW + timedelta(hours=1)
    assert isinstance(_same(raw, later), Post)
    assert isinstance(_same(raw, NOW), DeadLetter)  # the remembered limit follows ``now``
    same_instant = later.astimezone(timezone(timedelta(hours=-3)))
    assert isinstance(_same(raw, same_instant), Post)
    naive = decode_post(raw, "t", later.replace(tzinfo=None))
    assert isinstance(naive, DeadLetter) and naive.reason == "internal"


def test_bad_bytes_and_shapes() -> None:
    good = _raw()
    for raw in [
        good.replace(b"acme", b"ac\xffme"),
        good.replace(b"acme", b"ac\xed\xa0\x80me"),  # an encoded surrogate
        good.replace(b"acme", b"ac\\ud800me"),  # an escaped lone surrogate
        good.replace(b"acme", b"ac\\ud83d\\ude00me"),
        b"\xef\xbb\xbf" + good,  # a UTF-8 BOM
        b" " + good + b"\n",
        good[:-1],
        b"[]",
        b"",
        good + b"x" * (256 * 1024),
        _raw(extra=1),
        _raw(text="x" * 10_001),
    ]:
        _same(raw, NOW)


_VALUES = [None, 0, -1, 2**63, 1.0, 1.5, "", "x", "2026-11-23T11:00:00+01:00", [], ["t"] * 101,
           {}, {"id": "u"}, {"likes": True}, "bluesky"]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_fast_path_equals_full_path(data: st.DataObject) -> None:
    doc: dict[str, Any] = dict(GOOD)
    for key in data.draw(st.lists(st.sampled_from(sorted(Post.model_fields)), max_size=3)):
        doc[key] = data.draw(st.sampled_from(_VALUES))
    raw = json.dumps(doc).encode()
    if data.draw(st.booleans()):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw = raw[:i] + bytes([data.draw(st.integers(0, 255))]) + raw[i + 1 :]
    _same(raw, NOW)
