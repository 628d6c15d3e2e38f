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
>>> normalize("इंटरनेट बंद है!!! 😡")  # vowel signs are part of their word
'इंटरनेट बंद है'
"""

from __future__ import annotations

import re

from detectors.marks import MARKS

# A retweet-style prefix ("RT @user:"); such a post is a repost even without repost_of.
_RT_PREFIX = re.compile(r"^\s*rt\s+@[\w.\-]+:?\s*", re.IGNORECASE)
_URL_OR_MENTION = re.compile(r"(?:https?://|www\.)\S+|(?<![\w@])@[\w.\-]+")
# Hashtags at the end of a post are usually tag churn, not content: drop the whole block.
_TRAILING_TAGS = re.compile(r"(?:\s*#\w+)+\s*$")
# Everything that is not a letter, digit, whitespace or combining mark (punctuation, emoji, '#'),
# and marks that follow none of a letter, digit or mark (a stray accent after an emoji). Marks
# are letters' parts in most scripts (Devanagari vowel signs, Arabic harakat, Thai vowels,
# decomposed accents) though Python's \w leaves them out. ASCII text holds no mark: its output is
# the same as with the plain ``[^\w\s]+|_+``.
_NON_WORD = re.compile(rf"(?:[^\w\s{MARKS}]|(?<![^\W_])(?<![{MARKS}])[{MARKS}]+)+|_+")
_MARK = re.compile(f"[{MARKS}]")
# Scripts written without spaces between words: Thai, Lao, Myanmar, Khmer, kana, Han. A word
# boundary cannot be told there: terms cut them into bigrams, brand matching into substrings.
NOSPACE_CHARS = (
    "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u31f0-\u31ff"
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003134f"
)
NOSPACE = re.compile(f"[{NOSPACE_CHARS}]")
# Faster equivalents used by normalize(): the URL/mention regex behind a lookahead for its
# possible first characters (the engine skips to them), ASCII punctuation dropped by translate.
_URL_OR_MENTION_FAST = re.compile(r"(?=[hw@])(?:" + _URL_OR_MENTION.pattern + ")")
_PUNCT = re.compile(r"[^\w\s]")
_ASCII_DROP = str.maketrans(
    "", "", "".join(c for c in map(chr, range(128)) if not (c.isalnum() or c.isspace()))
)


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
    # Same output as the regex-only definition (_reference_normalize in tests/test_text.py),
    # ~1.5x faster: it runs on every post (dedup, brand terms, ingest routing).
    t = text.casefold()
    if t.lstrip().startswith("rt"):
        t = _RT_PREFIX.sub("", t, count=1)
    if "@" in t or "http" in t or "www." in t:  # cheap tests skip most regex passes
        t = _URL_OR_MENTION_FAST.sub(" ", t)
    if "#" in t:
        body = _strip_trailing_tags(t)
        if body.strip():
            t = body
    if t.isascii():
        t = t.translate(_ASCII_DROP)
    elif _MARK.search(t) is None:  # deleting chars one class at a time: without marks,
        t = _PUNCT.sub("", t.replace("_", "") if "_" in t else t)  # [^\w\s] and '_' = _NON_WORD
    else:
        t = _NON_WORD.sub("", t)
    return " ".join(t.split())


# normalize's last results by text: one process normalises a post's text up to three times
# (ingest routing in the offline commands, dedup, narrative terms). Bounded: cleared when full.
_MEMO: dict[str, str] = {}
_MEMO_CAP = 8192


def normalize_memo(text: str) -> str:
    """``normalize(text)``, remembered for the last few thousand texts (``remembered``).

    >>> normalize_memo("Acme app is DOWN again!!") == normalize("Acme app is DOWN again!!")
    True
    """
    n = _MEMO.get(text)
    if n is None:
        if len(_MEMO) >= _MEMO_CAP:
            _MEMO.clear()
        n = _MEMO[text] = normalize(text)
    return n


def remembered(text: str) -> str | None:
    """``normalize(text)`` if ``normalize_memo`` holds it, else None (nothing computed)."""
    return _MEMO.get(text)


def _strip_trailing_tags(t: str) -> str:
    """``_TRAILING_TAGS.sub("", t)``: drop a final run of ``#word`` items (and the space before
    them), found by scanning back from the end instead of trying the regex at every position."""
    end, start = len(t.rstrip()), -1
    while (j := t.rfind("#", 0, end)) >= 0 and t[j + 1 : end].replace("_", "a").isalnum():
        start = end = len(t[:j].rstrip())
    return t if start < 0 else t[:start]


def shingles(text: str, k: int = 5) -> list[str]:
    """Character k-grams of ``text`` (the text itself when shorter than ``k``).

    >>> shingles("abcdef", 4)
    ['abcd', 'bcde', 'cdef']
    """
    if len(text) <= k:
        return [text]
    return [text[i : i + k] for i in range(len(text) - k + 1)]
