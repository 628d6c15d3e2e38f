"""The decode step: raw bytes -> ``Post`` or ``DeadLetter``. Pure, never raises.

>>> from datetime import datetime, timezone
>>> now = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
>>> ok = b'{"platform":"x","post_id":"1","author":{"id":"u1"},"text":"hi",'
>>> ok += b'"created_at":"2026-11-23T11:59:00Z"}'
>>> decode_post(ok, "test", now).key
'x:1'
>>> dl = decode_post(b'{"platform": "x", "post_id"', "test", now)
>>> dl.reason, original_bytes(dl)
('bad_json', b'{"platform": "x", "post_id"')
>>> decode_post(b"\\xff\\xfe", "test", now).reason
'bad_utf8'
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Final

from pydantic import TypeAdapter, ValidationError

from schemas.models import DeadLetter, Post

# A canonical post is at most ~10k chars of text plus small fields: anything far above is junk.
MAX_RAW_BYTES: Final = 256 * 1024
MAX_COUNT: Final = 2**63 - 1  # ClickHouse UInt64/Int64 columns; beyond that is absurd
MAX_FUTURE: Final = timedelta(days=1)
EPOCH_FLOOR: Final = datetime(2006, 1, 1, tzinfo=UTC)  # before any platform we read existed
MAX_ERROR_CHARS: Final = 1_000

REASONS: Final = (
    "bad_utf8",
    "bad_json",
    "not_object",
    "schema",
    "too_large",
    "future_timestamp",
    "ancient_timestamp",
    "absurd_count",
    "internal",
)


def dead_letter(raw: bytes, reason: str, error: str, source: str, now: datetime) -> DeadLetter:
    """Build a DeadLetter that keeps the original bytes (base64) for replay."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return DeadLetter(
        reason=reason[:256],
        error=error[:MAX_ERROR_CHARS],
        source=(source or "unknown")[:256],
        original=base64.b64encode(raw).decode("ascii"),
        received_at=now,
    )


def original_bytes(letter: DeadLetter) -> bytes:
    """The bytes a dead letter was built from."""
    return base64.b64decode(letter.original)


def encode_dead_letter(letter: DeadLetter) -> bytes:
    return letter.to_json()


def _summarise(exc: ValidationError) -> tuple[str, str]:
    errors = exc.errors(include_url=False, include_input=False)
    if any(e["type"] == "json_invalid" for e in errors):
        return "bad_json", "invalid JSON: " + str(errors[0]["msg"])
    if any(e["type"] == "model_type" and not e["loc"] for e in errors):
        return "not_object", "top-level JSON value is not an object"
    parts = [f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in errors[:5]]
    more = f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
    return "schema", "; ".join(parts) + more


def check_post(post: Post, now: datetime) -> tuple[str, str] | None:
    """Plausibility checks the model cannot express; returns (reason, error) or None."""
    if post.created_at > now + MAX_FUTURE:
        return "future_timestamp", f"created_at {post.created_at.isoformat()} is after now + 1 day"
    if post.created_at < EPOCH_FLOOR:
        return "ancient_timestamp", f"created_at {post.created_at.isoformat()} is before 2006"
    e = post.engagement
    if max(post.author.followers, e.likes, e.reposts, e.replies, e.quotes) > MAX_COUNT:
        return "absurd_count", "a follower/engagement count exceeds 2**63-1"
    return None


def decode_post(raw: bytes, source: str, now: datetime) -> Post | DeadLetter:
    """Decode canonical Post JSON; any failure becomes a DeadLetter with a short ``reason``."""
    try:
        raw = bytes(raw)
    except Exception:  # not bytes-like at all: keep its repr so nothing is lost
        raw = repr(raw).encode("utf-8", "backslashreplace")
        return dead_letter(raw, "bad_utf8", "input is not bytes", source, now)
    try:
        if len(raw) > MAX_RAW_BYTES:
            # Keep only the head: base64 of ~1 MB would exceed Kafka's max message size on
            # posts.dlq and crash the producer (tests/test_faults_poison.py).
            return dead_letter(raw[:MAX_RAW_BYTES], "too_large",
                               f"{len(raw)} bytes > {MAX_RAW_BYTES} (original truncated)",
                               source, now)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return dead_letter(raw, "bad_utf8", f"not UTF-8: {exc}", source, now)
        try:
            post = Post.model_validate_json(text)
        except ValidationError as exc:
            reason, error = _summarise(exc)
            return dead_letter(raw, reason, error, source, now)
        problem = check_post(post, now)
        if problem is not None:
            return dead_letter(raw, problem[0], problem[1], source, now)
        return post
    except Exception as exc:  # a boundary: a bug here must not take the stream down
        return dead_letter(raw, "internal", f"{type(exc).__name__}: {exc}", source, now)


_POSTS: Final = TypeAdapter(list[Post])


def decode_posts(raws: Sequence[bytes], source: str, now: datetime) -> list[Post | DeadLetter]:
    """``decode_post`` for a batch, same results, ~1.6x cheaper on clean batches.

    The lines are validated as one JSON array; that is only line-aligned when every line is a
    whole object, so anything unusual (or any invalid line) falls back to ``decode_post`` per line.

    >>> from datetime import datetime, timezone
    >>> now = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
    >>> good = b'{"platform":"x","post_id":"1","author":{"id":"u"},"text":"hi",'
    >>> good += b'"created_at":"2026-11-23T11:59:00Z"}'
    >>> [getattr(r, "reason", "ok") for r in decode_posts([good, b"{", good], "t", now)]
    ['ok', 'bad_json', 'ok']
    """
    if not raws:
        return []
    try:
        if all(r[:1] == b"{" and r[-1:] == b"}" for r in raws):
            posts = _POSTS.validate_json(b"[" + b",".join(raws) + b"]")
            if len(posts) == len(raws):
                out: list[Post | DeadLetter] = []
                for raw, post in zip(raws, posts, strict=True):
                    ok = len(raw) <= MAX_RAW_BYTES and check_post(post, now) is None
                    out.append(post if ok else decode_post(raw, source, now))
                return out
    except Exception:  # any invalid line: redo the batch line by line for exact letters
        pass
    return [decode_post(raw, source, now) for raw in raws]
