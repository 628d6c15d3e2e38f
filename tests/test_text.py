"""detectors.text.normalize equals its original regex-only definition (kept here as the oracle)."""

from __future__ import annotations

import re

from hypothesis import example, given, settings
from hypothesis import strategies as st

from detectors.text import _NON_WORD, _RT_PREFIX, _URL_OR_MENTION, normalize

_TRAILING_TAGS = re.compile(r"(?:\s*#\w+)+\s*$")


def _reference_normalize(text: str) -> str:
    """normalize() as first written: three regex passes over the whole text."""
    t = text.casefold()
    if t.lstrip().startswith("rt"):
        t = _RT_PREFIX.sub("", t, count=1)
    if "@" in t or "http" in t or "www." in t:
        t = _URL_OR_MENTION.sub(" ", t)
    if "#" in t:
        body = _TRAILING_TAGS.sub("", t)
        if body.strip():
            t = body
    return " ".join(_NON_WORD.sub("", t).split())


CASES = [
    "RT @bob: Acme's   app is DOWN again!!! https://t.co/x #acmefail #outage",
    "Love the #Acme phone",
    "#only #tags #here",
    "a#b#c",
    "x#a b#c",
    "foo #bar\n",
    "foo #bar\nbaz",
    "snake_case __init__ acme_fail_",
    "Ünïcödé ÄCME ist kaputt!!! 😡😡 #fail",
    "İstanbul'da ACME çöktü ß ẞ ﬃ ǅ",
    "Акме опять не работает, верните деньги @acme_ru",
    "\x1c\x1d weird\u2003spaces\u00a0and tabs\t_#x_",
    "mail me at a@b.c or www.acme.com/x?y=1 or HTTPS://ACME.COM",
    "rt@x: not a retweet prefix",
    "",
    "   ",
    "\ud800 broken surrogate #tag",
]


def test_normalize_matches_the_reference_on_known_cases() -> None:
    for text in CASES:
        assert normalize(text) == _reference_normalize(text), text


_ALPHABET = st.sampled_from(
    [
        *"aZ_#@ :/.-hwtprs\n\t\u00a0é😡ßİ١!'\x1c\x0b\u2028",
        "http://",
        "https://",
        "://",
        "www.",
        "RT @",
        "rt ",
        "#_",
    ]
)


@settings(max_examples=1000, deadline=None)
@given(st.lists(_ALPHABET, max_size=40).map("".join))
@example("a #b_c #d")
def test_normalize_matches_the_reference_on_tricky_strings(text: str) -> None:
    assert normalize(text) == _reference_normalize(text)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
def test_normalize_matches_the_reference_on_any_text(text: str) -> None:
    assert normalize(text) == _reference_normalize(text)
