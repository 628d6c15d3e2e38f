"""Which posts.raw partition a post goes to: the hash of its normalised text.

The worker validates and enriches posts.raw in one pass and keeps one dedup index per input
partition (docs/architecture.md), so exact duplicates - the same text after
``detectors.text.normalize`` (case, URLs, mentions, an RT prefix, trailing hashtags,
punctuation) - must land on one partition to be clustered together. A post whose normalised
text is empty (a bare repost) is routed by its key instead. Kafka keys stay ``platform:post_id``.

>>> n = 4
>>> a = route_hash(b"x:1", b'{"text": "RT @ann: Acme stole my data!!! https://t.co/x"}') % n
>>> b = route_hash(b"bluesky:2", b'{"text": "acme stole my data"}') % n
>>> a == b
True
"""

from __future__ import annotations

from functools import lru_cache

import xxhash
from pydantic_core import SchemaValidator, core_schema, from_json

from detectors.text import normalize_memo

_h = xxhash.xxh32_intdigest

# The "text" of a JSON object, parsed without building the other fields' values (~40 % cheaper
# than from_json, one call per post offline). Where it fails (no object, a text that is not a
# string, bad JSON) from_json decides, as before: same text whenever this one succeeds.
_TEXT = SchemaValidator(
    core_schema.typed_dict_schema(
        {"text": core_schema.typed_dict_field(core_schema.str_schema(), required=False)},
        extra_behavior="ignore",
    ),
    core_schema.CoreConfig(cache_strings=False),
).validate_json


def route_hash(key: bytes, value: bytes) -> int:
    """xxh32 of the normalised text of a canonical post (JSON ``value``), else of ``key``."""
    try:
        text = _TEXT(value).get("text")
    except Exception:  # no object, a text not a string, bad JSON: from_json decides
        try:
            text = from_json(value).get("text")
        except (ValueError, AttributeError, RecursionError):
            text = None
    return route_text_hash(key, text) if isinstance(text, str) else _h(key)


def route_text_hash(key: bytes, text: str) -> int:
    """``route_hash`` when the text is at hand (the bulk ingest path parses each line once)."""
    h = _text_hash(text)
    return _h(key) if h is None else h


@lru_cache(maxsize=1 << 15)  # reposts and copy-paste campaigns repeat texts
def _text_hash(text: str) -> int | None:
    norm = normalize_memo(text) or text.strip()  # dedup reads it again (offline: same process)
    return _h(norm.encode("utf-8", "surrogatepass")) if norm else None
