"""Shared text normalisation for the detectors (dedup fingerprints, brand matching).

>>> normalize("RT @bob: Acme's   app is DOWN again!!! https://t.co/x #acmefail #outage")
'acmes app is down again'
>>> normalize("Acme app is down again #AcmeFail")
'acme app is down again'
>>> normalize("Love the #Acme phone")  # inline hashtags keep their word
'love the acme phone'
>>> fold("  ACME\\tCorp  ")
'acme corp'
>>> is_retweet("RT @acme: hello"), is_retweet("art @ noon")
(True, False)
"""

from __future__ import annotations

import re

# A retweet-style prefix ("RT @user:"); such a post is a repost even without repost_of.
_RT_PREFIX = re.compile(r"^\s*rt\s+@[\w.\-]+:?\s*", re.IGNORECASE)
_URL_OR_MENTION = re.compile(r"(?:https?://|www\.)\S+|(?<![\w@])@[\w.\-]+")
# Hashtags at the end of a post are usually tag churn, not content: drop the whole block.
_TRAILING_TAGS = re.compile(r"(?:\s*#\w+)+\s*$")
# Everything that is not a letter, digit or whitespace (punctuation, emoji, '#').
_NON_WORD = re.compile(r"[^\w\s]+|_+")


def fold(text: str) -> str:
    """Case-fold and collapse whitespace; keeps punctuation (brand matching needs '#', '@')."""
    return " ".join(text.casefold().split())


def is_retweet(text: str) -> bool:
    """True when the text starts with a retweet prefix such as ``RT @user:``."""
    return _RT_PREFIX.match(text) is not None


def normalize(text: str) -> str:
    """Canonical form for duplicate detection.

    Lower-cases, removes an RT prefix, URLs, @mentions and a trailing block of hashtags (unless
    that would leave nothing), strips punctuation and emoji, and collapses whitespace. Two posts
    differing only in those respects normalise to the same string.
    """
    t = text.casefold()
    if t.lstrip().startswith("rt"):
        t = _RT_PREFIX.sub("", t, count=1)
    if "@" in t or "http" in t or "www." in t:  # cheap tests skip most regex passes
        t = _URL_OR_MENTION.sub(" ", t)
    if "#" in t:
        body = _TRAILING_TAGS.sub("", t)
        if body.strip():
            t = body
    return " ".join(_NON_WORD.sub("", t).split())


def shingles(text: str, k: int = 5) -> list[str]:
    """Character k-grams of ``text`` (the text itself when shorter than ``k``).

    >>> shingles("abcdef", 4)
    ['abcd', 'bcde', 'cdef']
    """
    if len(text) <= k:
        return [text]
    return [text[i : i + k] for i in range(len(text) - k + 1)]
