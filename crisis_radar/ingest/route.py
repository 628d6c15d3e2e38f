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

import re
from functools import lru_cache

import xxhash
from pydantic_core import from_json

from detectors.text import _NON_WORD, _RT_PREFIX, _URL_OR_MENTION

_h = xxhash.xxh32_intdigest


def route_hash(key: bytes, value: bytes) -> int:
    """xxh32 of the normalised text of a canonical post (JSON ``value``), else of ``key``."""
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
    norm = fast_normalize(text) or text.strip()
    return _h(norm.encode("utf-8", "surrogatepass")) if norm else None


# --- detectors.text.normalize, same output, ~2x faster -----------------------------------------
# Routing runs it on every ingested post, where its three whole-text regex passes cost about as
# much as validation. Here the URL/mention regex skips to its possible first characters, the
# trailing hashtag block is found by scanning back from the end, and ASCII text drops
# punctuation with str.translate. tests/test_ingest.py fuzzes it against normalize.

# _URL_OR_MENTION behind a lookahead for its possible first characters: same matches, and the
# regex engine skips to those characters instead of trying the alternation everywhere (2x).
_URL_OR_MENTION_FAST = re.compile(r"(?=[hw@])(?:" + _URL_OR_MENTION.pattern + ")")
_ASCII_DROP = str.maketrans(
    "", "", "".join(c for c in map(chr, range(128)) if not (c.isalnum() or c.isspace()))
)


def fast_normalize(text: str) -> str:
    """``detectors.text.normalize(text)``, computed faster.

    >>> fast_normalize("RT @bob: Acme's   app is DOWN again!!! https://t.co/x #acmefail #outage")
    'acmes app is down again'
    """
    t = text.casefold()
    if t.lstrip().startswith("rt"):
        t = _RT_PREFIX.sub("", t, count=1)
    if "@" in t or "http" in t or "www." in t:
        t = _URL_OR_MENTION_FAST.sub(" ", t)
    if "#" in t:
        body = _strip_trailing_tags(t)
        if body.strip():
            t = body
    t = t.translate(_ASCII_DROP) if t.isascii() else _NON_WORD.sub("", t)
    return " ".join(t.split())


def _strip_trailing_tags(t: str) -> str:
    """``_TRAILING_TAGS.sub("", t)``: drop a final run of ``#word`` items (and the space
    before them), found from the end instead of trying a regex at every position."""
    end, start = len(t.rstrip()), -1
    while (j := t.rfind("#", 0, end)) >= 0 and t[j + 1 : end].replace("_", "a").isalnum():
        start = end = len(t[:j].rstrip())
    return t if start < 0 else t[:start]
