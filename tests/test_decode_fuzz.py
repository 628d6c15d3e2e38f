"""Property tests: nothing raises past the decode/normalise boundary, and counts add up."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crisis_radar.ingest.normalise import FORMATS, NormaliseError, normalise
from crisis_radar.ingest.pipeline import Pipeline, Send
from schemas.models import DeadLetter, Post
from schemas.validate import REASONS, decode_post, decode_posts, original_bytes

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SAMPLES = Path(__file__).parent / "samples"
# CRISIS_RADAR_FUZZ_EXAMPLES=5000 for a long local hunt; CI keeps it modest
FUZZ = settings(
    max_examples=int(os.environ.get("CRISIS_RADAR_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

GOOD = Post(platform="x", post_id="1", author={"id": "u"}, text="acme", created_at=NOW).model_dump(
    mode="json"
)
SEEDS: list[dict[str, Any]] = [
    GOOD,
    *(json.loads(line) for line in (SAMPLES / "bluesky_jetstream.jsonl").read_text().splitlines()),
    json.loads((SAMPLES / "mastodon_status.json").read_text()),
    json.loads((SAMPLES / "x_v2_response.json").read_text()),
    json.loads((SAMPLES / "reddit_listing.json").read_text())["data"]["children"][0],
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
weird = st.sampled_from([None, -1, 2**70, -(2**70), 1e308, "", "x" * 20_000, [], {}, True, "\ud800",
                         "2099-01-01T00:00:00Z", "1999-01-01T00:00:00Z", [[[[[]]]]]])  # fmt: skip


def mutate(doc: Any, data: st.DataObject) -> Any:
    """Replace or delete one value somewhere in a document."""
    if isinstance(doc, dict) and doc:
        key = data.draw(st.sampled_from(sorted(doc)))
        out = dict(doc)
        action = data.draw(st.sampled_from(["replace", "delete", "recurse"]))
        if action == "delete":
            del out[key]
        elif action == "replace":
            out[key] = data.draw(weird | json_values)
        else:
            out[key] = mutate(doc[key], data)
        return out
    if isinstance(doc, list) and doc:
        i = data.draw(st.integers(0, len(doc) - 1))
        return [*doc[:i], mutate(doc[i], data), *doc[i + 1 :]]
    return data.draw(weird | json_values)


def check_decoded(raw: bytes, got: Post | DeadLetter) -> None:
    if isinstance(got, DeadLetter):
        assert got.reason in REASONS and got.error
        assert original_bytes(got) == raw
        DeadLetter.model_validate_json(got.to_json())  # the letter itself is valid JSON
    else:
        assert NOW - timedelta(days=365 * 30) < got.created_at <= NOW + timedelta(days=1)
        Post.model_validate_json(got.to_json())


@FUZZ
@given(st.binary(max_size=400))
def test_decode_post_random_bytes(raw: bytes) -> None:
    check_decoded(raw, decode_post(raw, "fuzz", NOW))


@FUZZ
@given(st.data())
def test_decode_post_mutated_and_truncated(data: st.DataObject) -> None:
    raw = json.dumps(mutate(GOOD, data)).encode()
    cut = data.draw(st.integers(0, len(raw)))
    for candidate in (raw, raw[:cut], raw[:cut] + b"\xff" + raw[cut:]):
        check_decoded(candidate, decode_post(candidate, "fuzz", NOW))


def test_decode_post_extremes() -> None:
    deep = b'{"platform":' + b"[" * 150_000 + b"]" * 150_000 + b"}"
    for raw, reason in [
        (b"x" * 300_000, "too_large"),
        (deep, "too_large"),
        (b'{"platform":' + b"[" * 5000 + b"]" * 5000 + b"}", "bad_json"),
        (b"[]", "not_object"),
        (json.dumps({**GOOD, "created_at": "2026-11-24T12:00:01Z"}).encode(), "future_timestamp"),
        (json.dumps({**GOOD, "created_at": "2005-12-31T23:59:59Z"}).encode(), "ancient_timestamp"),
        (json.dumps({**GOOD, "author": {"id": "u", "followers": 2**64}}).encode(), "absurd_count"),
        (json.dumps({**GOOD, "engagement": {"likes": -1}}).encode(), "schema"),
        (json.dumps({**GOOD, "text": "x" * 10_001}).encode(), "schema"),
        (json.dumps({**GOOD, "created_at": "2026-11-23T10:00:00"}).encode(), "schema"),  # naive
    ]:
        got = decode_post(raw, "t", NOW)
        assert isinstance(got, DeadLetter) and got.reason == reason, (raw[:80], got)
        # the batch path (one array validation, check_post's bounds inlined) agrees
        good = json.dumps(GOOD).encode()
        assert decode_posts([good, raw, good], "t", NOW) == [
            decode_post(good, "t", NOW),
            got,
            decode_post(good, "t", NOW),
        ]
    assert isinstance(decode_post(json.dumps(GOOD).encode(), "t", NOW), Post)


@FUZZ
@given(st.data())
def test_normalisers_raise_only_normalise_error(data: st.DataObject) -> None:
    doc = mutate(data.draw(st.sampled_from(SEEDS)), data)
    for fmt in FORMATS:
        try:
            assert isinstance(normalise(fmt, doc), Post)
        except NormaliseError as exc:
            assert exc.reason and exc.message is not None


@FUZZ
@given(st.lists(st.data(), min_size=1, max_size=8))
def test_pipeline_counts_add_up(batch: list[st.DataObject]) -> None:
    pipeline = Pipeline("auto", now=lambda: NOW)
    outcomes = []
    for data in batch:
        kind = data.draw(st.sampled_from(["mutated", "bytes", "truncated"]))
        seed = data.draw(st.sampled_from(SEEDS))
        raw = json.dumps(mutate(seed, data) if kind == "mutated" else seed).encode()
        if kind == "bytes":
            raw = data.draw(st.binary(max_size=200))
        elif kind == "truncated":
            raw = raw[: data.draw(st.integers(0, len(raw)))]
        outcomes += pipeline.process(raw)
    s = pipeline.stats
    assert s.read == len(batch)
    assert len(outcomes) == s.sent + s.rejected_total + s.skipped
    assert s.sent == sum(isinstance(o, Send) for o in outcomes)
    assert s.rejected_total == sum(isinstance(o, DeadLetter) for o in outcomes)
    for o in outcomes:
        if isinstance(o, Send):
            assert Post.model_validate_json(o.value).key.encode() == o.key


@FUZZ
@given(st.lists(st.data(), min_size=1, max_size=6))
def test_decode_posts_equals_decode_post(batch: list[st.DataObject]) -> None:
    raws = []
    for data in batch:
        raw = json.dumps(mutate(GOOD, data) if data.draw(st.booleans()) else GOOD).encode()
        if data.draw(st.booleans()):
            raw = raw[: data.draw(st.integers(0, len(raw)))]
        raws.append(raw)
    assert decode_posts(raws, "fuzz", NOW) == [decode_post(r, "fuzz", NOW) for r in raws]
