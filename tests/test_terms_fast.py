"""The cheaper content_terms / burst-term close give exactly what their plain definitions give."""

from __future__ import annotations

import math
import random
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.terms import (
    _URL_OR_MENTION_FAST,
    STOPWORDS,
    NarrativeTracker,
    _words,
    content_terms,
    poisson_sf,
)
from detectors.text import _URL_OR_MENTION, normalize

# characters that exercise every normalize step: urls, mentions, RT, tags, punctuation, digits,
# underscores, non-ASCII letters and digits, emoji, odd whitespace
PIECES = [
    "http://a.b/c",
    "https://x",
    "www.",
    "ht",
    "w.",
    "rt @bob: ",
    "RT @a ",
    "@ann",
    "a@b",
    "@@x",
    "#tag",
    " #t1 #t2 ",
    "#_",
    "x_y",
    "don't",
    "e-mail",
    "Crème",
    "ß",
    "İ",
    "ΣΑΣ",
    "²",
    "½",
    "٣",
    "😀",
    "✨",
    "\u0301",
    "ﬁ",
    "\x1c",
    "\t",
    "\n",
    " ",
    ".",
    "!",
    "12",
    "recall",
    "salmonella",
    "the",
    "down",
    "acme",
    "order",
    "Order",
    "bar",
    "ab",
    "x" * 30,
]
texts = st.lists(st.sampled_from(PIECES), max_size=20).map("".join)


def _content_terms_reference(text: str, skip: frozenset[str], max_terms: int) -> list[str]:
    """The definition: distinct 3-24 letter words, longest first, ties by first occurrence."""
    seen: dict[str, int] = {}
    for w in normalize(text).split():
        if 3 <= len(w) <= 24 and w.isalpha() and w not in STOPWORDS and w not in skip:
            seen.setdefault(w, len(seen))
    return sorted(seen, key=lambda w: (-len(w), seen[w]))[:max_terms]


@settings(max_examples=400, deadline=None)
@given(texts)
def test_words_are_normalize_split(text: str) -> None:
    assert _words(text) == normalize(text).split()


def test_fast_url_pattern_is_in_use_and_matches_the_same() -> None:
    assert _URL_OR_MENTION_FAST.pattern != _URL_OR_MENTION.pattern  # else normalize changed
    rng = random.Random(1)
    for _ in range(3000):
        t = "".join(rng.choices(["@", "a", " ", "http://", "www.", "w", "h", ".", "-", "é"], k=12))
        assert _URL_OR_MENTION_FAST.sub(" ", t) == _URL_OR_MENTION.sub(" ", t)


@settings(max_examples=400, deadline=None)
@given(texts, st.sampled_from([frozenset(), frozenset({"acme", "order"})]), st.integers(0, 10))
def test_content_terms_equal_the_definition(text: str, skip: frozenset[str], k: int) -> None:
    got = content_terms(text, skip, k)
    assert got == _content_terms_reference(text, skip, k)
    assert all(sys.intern(w) is w for w in got)  # interned: shared by every post's term list


def test_content_terms_accept_a_plain_set_of_skip_words() -> None:
    assert content_terms("Acme recall of snack bars", {"acme"}) == ["recall", "snack", "bars"]  # type: ignore[arg-type]


def _close_reference(
    nt: NarrativeTracker,
    minute: int,
    term_authors: dict[str, set[str]],
    term_neg: dict[str, set[str]],
    post_terms: list[tuple[list[str], bool]],
    authors: int,
) -> tuple[int, int, list[str]]:
    """NarrativeTracker.close as first written (TermTable.share per term, sets always copied)."""
    recent = [r for r in nt.recent if r[0] > minute - nt.window]
    win_authors = authors + sum(r[1] for r in recent)
    term_posts: dict[str, int] = {}
    for ts, _ in post_terms:
        for t in ts:
            term_posts[t] = term_posts.get(t, 0) + 1
    burst: dict[str, float] = {}
    neg_burst: set[str] = set()
    for t, who in term_authors.items():
        if len(who) >= nt.min_authors or any(t in r[3] for r in recent):
            k_set, neg_set = set(who), set(term_neg.get(t, ()))
            before, n_posts = 0, term_posts.get(t, 0)
            for _, _, tp, ta, tn in recent:
                a = ta.get(t)
                if a:
                    k_set |= a
                    before += len(a)
                    n_posts += tp.get(t, 0)
                    neg_set |= tn.get(t, set())
            k = len(k_set)
            if k < nt.min_authors:
                continue
            p = poisson_sf(k, nt.table.share(t, minute, before, nt.prior) * win_authors)
            if p < nt.alpha:
                burst[t] = -math.log10(max(p, 1e-300)) + k
                if (
                    len(neg_set) >= nt.min_authors
                    and len(neg_set) >= nt.neg_majority * k
                    and n_posts <= nt.max_repeat * k
                ):
                    neg_burst.add(t)
    nt.table.learn({t: len(a) for t, a in term_authors.items()}, minute, authors)
    recent.append((minute, authors, term_posts, term_authors, term_neg))
    nt.recent = recent[-(nt.window - 1) :] if nt.window > 1 else []
    if not burst:
        return 0, 0, []
    n_posts = sum(1 for ts, _ in post_terms if any(t in burst for t in ts))
    n_neg = sum(
        1 for ts, neg in post_terms if (neg or nt.count_all) and any(t in neg_burst for t in ts)
    )
    return n_posts, n_neg, sorted(burst, key=lambda t: (t not in neg_burst, -burst[t], t))[:5]


def test_close_equals_its_plain_definition() -> None:
    rng = random.Random(4)
    vocab = [f"w{i}" for i in range(60)]
    # a loose alpha: many terms near the threshold, so any change in lam flips some
    kw = {"window": 4, "half_life_min": 30.0, "max_terms": 40, "alpha": 0.3}
    fast, ref = NarrativeTracker(**kw), NarrativeTracker(**kw)  # type: ignore[arg-type]
    bursts = 0
    for m in range(2500):  # > 40 half-lives: the table rebases; 60 words > 40: it evicts
        posts = []
        for _ in range(rng.randrange(8)):
            hot = 1000 < m < 1010 or rng.random() < 0.02  # bursts of a rare word
            words = ["w59", "w58"] if hot else rng.sample(vocab[:30], rng.randrange(1, 4))
            posts.append((words, rng.random() < 0.4, f"a{rng.randrange(40)}"))
        ta: dict[str, set[str]] = {}
        tn: dict[str, set[str]] = {}
        for words, neg, author in posts:
            for t in words:
                ta.setdefault(t, set()).add(author)
                if neg:
                    tn.setdefault(t, set()).add(author)
        pt = [(w, neg) for w, neg, _ in posts]
        authors = len({a for _, _, a in posts})
        got = fast.close(m, ta, tn, pt, authors)
        assert got == _close_reference(ref, m, ta, tn, pt, authors)
        bursts += bool(got[2])
    assert bursts > 100
    assert fast.table.values == ref.table.values and fast.table.epoch == ref.table.epoch
