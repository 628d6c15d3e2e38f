"""Content terms of a post and a decaying per-brand term table: the "new narrative" signal.

``content_terms`` picks at most ``max_terms`` normalised words of a post (``detectors.text``'s
normalisation; stopwords, numbers, watched-brand words, handles and urls dropped), longest first
(longer words carry the content: "salmonella" over "found"). Given the post's language, it drops
that language's stopwords too, keeps combining marks inside words (Devanagari vowel signs) and
cuts scripts written without spaces (Chinese, Japanese, Thai...) into character bigrams
(docs/languages.md, "Terms and tokenisation"). ``TermTable`` keeps per brand an
exponentially decaying count of the authors that used each term (half-life hours), bounded in
size (the weakest terms are evicted), so "how many authors a minute usually say X" has an answer.
``poisson_sf`` is the tail that turns "k authors where lam were expected" into a p-value.

>>> content_terms("RT @bob: Acme recall: SALMONELLA found in their snack bar!!! https://t.co/x",
...               frozenset({"acme"}))
['salmonella', 'recall', 'found', 'snack', 'bar']
>>> content_terms("Não tenho internet há três dias, a operadora não resolve", lang="pt")
['operadora', 'internet', 'resolve', 'três', 'dias']
>>> content_terms("इंटरनेट तीन दिन से बंद है", lang="hi")
['इंटरनेट', 'तीन', 'दिन', 'बंद']
>>> content_terms("我们的网络又断了", lang="zh")
['网络']
>>> tt = TermTable(half_life_min=60.0)
>>> tt.learn({"recall": 2, "order": 1}, minute=0)
>>> round(tt.rate("recall", minute=60), 4)   # 2 authors an hour ago, half-life 60 min
0.0116
>>> tt.rate("salmonella", minute=60)
0.0
>>> f"{poisson_sf(3, 0.05):.2e}"             # P(X >= 3) when 0.05 are expected
'2.01e-05'
"""

from __future__ import annotations

import math
import re
import sys
import unicodedata
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import cache
from itertools import pairwise

from detectors.marks import MARKS
from detectors.text import (
    _MARK,
    _NON_WORD,
    _RT_PREFIX,
    _TRAILING_TAGS,
    _URL_OR_MENTION,
    NOSPACE_CHARS,
    normalize,
    remembered,
)

MAX_TERMS = 8
# Function words and chat filler: never a narrative. Kept short: the term table itself learns
# what is common for a brand; this only saves the 8 slots for content.
_STOP = """
a about above after again against all also am an and any are aren't as at be because been
before being below between both but by can can't cannot could couldn't did didn't do does
doesn't doing don't down during each few for from further get gets got had hadn't has hasn't
have haven't having he her here hers herself him himself his how i i'm if in into is isn't it
it's its itself just let's like me more most my myself no nor not now of off on once only or
other our ours ourselves out over own same she should so some such than that that's the their
theirs them themselves then there these they this those through to too under until up very was
we were what when where which while who whom why will with won't would you your yours yourself
anyone anything everyone someone thing things still even really much many one two get got
going gonna want need know think today yesterday tomorrow day days week weeks time again ever
never always lol omg ugh smh wtf tbh ngl ffs yay honestly literally seriously totally actually
via amp http https www com rt new
"""
STOPWORDS = frozenset(_STOP.split()) - {"down"}  # "down" is an outage's word, not filler
# (language, skip words) -> stopwords(language) | skip: few distinct, looked up per post
_DROP: dict[tuple[str | None, frozenset[str]], frozenset[str]] = {}

# The languages with sentiment models (detectors.language.SUPPORTED); an undetermined post drops
# the stopwords of all of them.
SUPPORTED = ("ar", "de", "en", "es", "fr", "hi", "it", "pt")
# Romanised Hindi function words and chat filler (UMSAB's Hindi is mostly written in Latin
# letters; the stopword package's Hindi list is Devanagari only). Written for this module.
_HI_LATIN = """
hai hain nahi nahin nhi kya kyu kyun kyon kyunki kyuki kaise kaisa kaisi kahan kitna kitni kitne
kaun mein main mujhe mujhko mera meri mere tera teri tere tujhe tumhe tumko tumhara tumhari aap
aapka aapki aapke aapko apka apki apke apko hum humko hume humein hamara hamari unka unki unke
unhe unko uska uski uske usko iska iski iske isko inka inki inke inko yeh woh bhi bahut bohot
bahot kuch kuchh koi kisi abhi kabhi phir aur lekin magar thi tha the hoga hogi honge rha rhi rhe
raha rahe rahi karo karna karte karta karti diya diye liya liye gaya gayi gaye hua hui hue wala
wali wale sath saath hoon hun jao aaj sab bas par pata sirf matlab jab tab kal yaar yar bhai
"""
# Languages that elide with an apostrophe ("l'application"): split there, not glue the words.
_ELIDING = frozenset({"fr", "it", "ca"})
_APOSTROPHES = re.compile("['\u2019]")
_NOSPACE = re.compile(f"[{NOSPACE_CHARS}]")  # scripts without spaces (detectors.text)
_RUNS = re.compile(
    "(?P<han>[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]+)"
    "|(?P<kata>[\u30a0-\u30ff\u31f0-\u31ff\uff66-\uff9f]+)"
    "|(?P<hira>[\u3040-\u309f]+)"
    "|(?P<sea>[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff]+)"
    f"|(?P<other>[^{NOSPACE_CHARS}]+)"
)
_UNIT = re.compile(f".[{MARKS}]*", re.S)  # a letter with its marks (Thai vowel signs)
_LETTERS = re.compile(f"(?:[^\\W\\d_][{MARKS}]*)+")  # letters, each with its combining marks


def _package_stopwords(code: str) -> frozenset[str]:
    """The ``stop-words`` package's list for an ISO 639-1 code (empty when it has none), folded
    and NFC-normalised as post words are."""
    from stop_words import LANGUAGE_MAPPING, get_stop_words

    if code not in LANGUAGE_MAPPING:
        return frozenset()
    return frozenset(unicodedata.normalize("NFC", w.casefold()) for w in get_stop_words(code))


@cache
def stopwords(lang: str | None) -> frozenset[str]:
    """Words never taken as terms in a post of language ``lang`` (ISO 639-1, "und" or None).

    Always this module's English list (English words and chat filler are everywhere) and the
    Chinese and Japanese lists (their entries are characters no other script uses); plus the
    language's list from the ``stop-words`` package, or the lists of all ``SUPPORTED``
    languages when the language is undetermined. None: the English list alone (the rule before
    languages, kept for callers that do not know the language).
    """
    if lang is None:
        return STOPWORDS
    code = lang.strip().casefold().replace("_", "-").split("-", 1)[0]
    out = set(STOPWORDS) | _package_stopwords("zh") | _package_stopwords("ja")
    if code == "en":
        return frozenset(out)
    codes = SUPPORTED if code in ("", "und") or not _package_stopwords(code) else (code,)
    for c in codes:
        out |= _package_stopwords(c) if c != "en" else set()
        if c == "hi":
            out.update(_HI_LATIN.split())
    return frozenset(out)


# detectors.text's url-or-mention pattern, led by its first character ([hw@]) so the regex
# engine skips other positions fast (~2x); the same matches: each branch owns one first char
# and the mention's lookbehind moved past the '@' it now consumes.
_URL_OR_MENTION_FAST = re.compile(
    r"[hw@](?:(?<=h)ttps?://\S+|(?<=w)ww\.\S+|(?<=@)(?<![\w@]@)[\w.\-]+)"
    if _URL_OR_MENTION.pattern == r"(?:https?://|www\.)\S+|(?<![\w@])@[\w.\-]+"
    else _URL_OR_MENTION.pattern
)  # normalize's pattern changed: use it as it is
# _NON_WORD deletes characters one class at a time: for ASCII text one bytes.translate (a C
# table loop, ~10x the regex) deletes the same ones
_ASCII_NON_WORD = bytes(c for c in range(128) if _NON_WORD.match(chr(c)))
_PLAIN_NON_WORD = re.compile(r"[^\w\s]+|_+")  # _NON_WORD on text without combining marks
# A trailing tag block holds only word, space and '#' characters: in ASCII text it starts after
# the last other character, so the (slow, tried at every position) regex runs on that tail only.
_ASCII_TAG_CHARS = "".join(c for c in map(chr, range(128)) if re.match(r"[\w\s#]", c))


def _words(text: str) -> list[str]:
    """``normalize(text).split()`` (tests/test_terms_fast.py checks it), cheaper: the faster url
    pattern, the trailing tags regex on the tail only and bytes.translate for ASCII text, no
    join then split."""
    t = text.casefold()
    if t.lstrip().startswith("rt"):
        t = _RT_PREFIX.sub("", t, count=1)
    if "@" in t or "http" in t or "www." in t:
        t = _URL_OR_MENTION_FAST.sub(" ", t)
    is_ascii = t.isascii()
    if "#" in t:
        j = len(t.rstrip(_ASCII_TAG_CHARS)) if is_ascii else 0
        body = t[:j] + _TRAILING_TAGS.sub("", t[j:]) if j else _TRAILING_TAGS.sub("", t)
        if body.strip():
            t = body
    if is_ascii:
        return t.encode().translate(None, _ASCII_NON_WORD).decode().split()
    if _MARK.search(t) is None:  # no combining mark: the plain pattern deletes the same, ~2x faster
        return _PLAIN_NON_WORD.sub("", t).split()
    return _NON_WORD.sub("", t).split()


def _text_words(text: str) -> list[str]:
    """``_words(text)``; from dedup's ``normalize`` of the same text when it is remembered."""
    norm = remembered(text)
    return _words(text) if norm is None else norm.split()


def content_terms(
    text: str,
    skip: frozenset[str] = frozenset(),
    max_terms: int = MAX_TERMS,
    lang: str | None = None,
) -> list[str]:
    """At most ``max_terms`` distinct content words of ``text``, longest first (ties: first seen).

    Words of 3-24 letters (digits and mixed tokens are dropped: counts, prices, typos of ids),
    minus ``stopwords(lang)`` and ``skip`` (brand names, keywords, hashtags of watched brands).
    With a language (any code, "und" included), non-ASCII words are NFC-normalised, may carry
    combining marks, and runs of a script without spaces become character bigrams (a Han or
    Thai run), whole katakana runs (loanwords: "アプリ"), or nothing (hiragana: grammar);
    ASCII text gives what it gave without a language (for English, the same words).
    """
    try:
        drop = _DROP[(lang, skip)]
    except KeyError:
        if len(_DROP) >= 64:
            _DROP.clear()
        drop = _DROP[(lang, skip)] = stopwords(lang) | skip
    except TypeError:  # an unhashable (mutable) set of skip words
        drop = stopwords(lang).union(skip)
    if lang is not None and lang in _ELIDING and ("'" in text or "\u2019" in text):
        text = _APOSTROPHES.sub(" ", text)  # "l'appli" -> "l appli", not "lappli"
    if lang is None or text.isascii():
        # distinct words in first-seen order; a stable sort by length, longest first, keeps that
        # order among equal lengths (one C-level pass each, the per-post hot path of enrich)
        kept = dict.fromkeys(
            [w for w in _text_words(text) if 2 < len(w) < 25 and w not in drop and w.isalpha()]
        )
    else:
        kept = dict.fromkeys(_unicode_terms(_text_words(text), drop))
    ranked = sorted(kept, key=len, reverse=True)
    return [sys.intern(w) for w in ranked[:max_terms]]


def _unicode_terms(words: Iterable[str], drop: frozenset[str]) -> Iterator[str]:
    for w in words:
        if w.isascii():
            if 2 < len(w) < 25 and w not in drop and w.isalpha():
                yield w
            continue
        w = unicodedata.normalize("NFC", w)
        if _NOSPACE.search(w) is None:
            if 2 < len(w) < 25 and w not in drop and _LETTERS.fullmatch(w):
                yield w
        else:
            yield from script_tokens(w, drop)


def script_tokens(word: str, drop: frozenset[str] = frozenset()) -> list[str]:
    """The terms of one word that holds a script written without spaces: each Han, Thai, Lao,
    Khmer or Myanmar run as overlapping character bigrams (none with a character or bigram of
    ``drop``: single-character particles like 的 or 了 end a bigram's chance), each katakana run
    whole, hiragana runs (particles, endings) dropped; other runs as words.

    >>> script_tokens("iphone很卡的"), script_tokens("アプリが落ちた")
    (['iphone', '很卡', '卡的'], ['アプリ'])
    """
    out: list[str] = []
    for m in _RUNS.finditer(word):
        run, kind = m.group(), m.lastgroup
        if kind == "other":
            if 2 < len(run) < 25 and run not in drop and _LETTERS.fullmatch(run):
                out.append(run)
        elif kind == "kata":
            if 1 < len(run) < 25 and run not in drop:
                out.append(run)
        elif kind != "hira":
            units = list(run) if kind == "han" else _UNIT.findall(run)
            for a, b in pairwise(units):
                if a not in drop and b not in drop and a + b not in drop:
                    out.append(a + b)
    return out


# A word of any script for counting words in reports: an optional '#'/'@', a letter, then word
# characters, apostrophes and combining marks.
_ANY_WORD = re.compile(f"[#@]?[^\\W\\d_][\\w'{MARKS}]*")


def words_of(text: str, ascii_word: re.Pattern[str], lang: str | None = None) -> set[str]:
    """Distinct lower-cased words of ``text`` for the report's and the alert's term counts.

    ASCII text: ``ascii_word``'s matches (each caller's rule from before languages). Other text:
    words of 3 or more characters of any script (NFC, combining marks kept, an optional '#'/'@'
    kept) and ``script_tokens`` for scripts without spaces. In a known language other than
    English, that language's stopwords are dropped (English posts keep the caller's own list).

    >>> sorted(words_of("Não tenho sinal, péssimo serviço #TelvanaFail", re.compile("[a-z]{3,}"),
    ...                 "pt"))
    ['#telvanafail', 'péssimo', 'serviço', 'sinal']
    """
    low = text.lower()
    if low.isascii():
        out = set(ascii_word.findall(low))
    else:
        out = set()
        for w in _ANY_WORD.findall(unicodedata.normalize("NFC", low)):
            core = w.lstrip("#@")
            if _NOSPACE.search(core):
                out.update(script_tokens(core))
            elif len(core) >= 3:
                out.add(w)
    if lang and lang not in ("en", "und"):
        drop = stopwords(lang)
        out = {w for w in out if w.lstrip("#@") not in drop and not _stop_bigram(w, drop)}
    return out


def _stop_bigram(w: str, drop: frozenset[str]) -> bool:
    return len(w) == 2 and (w[0] in drop or w[1] in drop)


def post_terms(
    text: str, n_brands: int, skip: frozenset[str] = frozenset(), lang: str | None = None
) -> list[str]:
    """The terms a scored post carries: ``content_terms`` (in the post's decided language),
    none for a post about two or more watched brands (a comparison: its words are neither
    brand's narrative). One rule for the worker's ``Enricher`` and the scenario replay."""
    return content_terms(text, skip, lang=lang) if n_brands == 1 else []


def brand_words(brands: Iterable[object]) -> frozenset[str]:
    """Words of every watched brand (id, name, keywords, hashtags, handles): a post's mention of
    a brand is never its narrative. ``brands``: ``detectors.brands.Brand``-like objects."""
    out: set[str] = set()
    for b in brands:
        names = [getattr(b, "lang_keywords", ())]  # (language, keyword) pairs
        for attr in ("id", "name", "keywords", "hashtags", "handles"):
            v = getattr(b, attr, ())
            names.append([v] if isinstance(v, str) else v)
        for group in names:
            for s in group:
                s = s[1] if isinstance(s, tuple) else s
                for w in normalize(str(s).lstrip("#@")).split():
                    out.add(w)
                    if not w.isascii():  # the forms content_terms gives: NFC, bigrams
                        w = unicodedata.normalize("NFC", w)
                        out.add(w)
                        if _NOSPACE.search(w):
                            out.update(script_tokens(w))
    return frozenset(out)


def poisson_sf(k: int, lam: float) -> float:
    """P(X >= k) for X ~ Poisson(lam), exact (k is small: authors of one term)."""
    if k <= 0:
        return 1.0
    if lam <= 0.0:
        return 0.0
    term = math.exp(-lam)
    cdf = 0.0
    for i in range(k):
        cdf += term
        term *= lam / (i + 1)
    return max(0.0, 1.0 - cdf) if cdf < 0.99 else _tail_sum(k, lam)


_LN2 = math.log(2)


def _surely_common(k: int, lam: float, alpha: float) -> bool:
    """``poisson_sf(k, lam) >= alpha`` for sure, told cheaply (``0 < alpha <= 0.5``, k >= 1,
    lam > 0): k at most the median (>= lam - ln 2, Choi 1994), where the tail is > 1/2, or
    P(X = k) alone, a lower bound of the tail, at least alpha with a 1 % margin (far above the
    exact sum's rounding). Burst tests skip the exact sum for the usual terms this way.

    >>> _surely_common(3, 10.0, 1e-4), _surely_common(30, 10.0, 1e-4)
    (True, False)
    """
    if k <= lam - _LN2:
        return True
    return math.exp(k * math.log(lam) - lam - math.lgamma(k + 1)) >= alpha * 1.01


def _tail_sum(k: int, lam: float) -> float:
    # 1 - cdf loses precision near 1: sum the tail directly (converges fast for small lam)
    term = math.exp(-lam + k * math.log(lam) - math.lgamma(k + 1))
    total, i = 0.0, k
    while term > total * 1e-12 and i < k + 200:
        total += term
        i += 1
        term *= lam / i
    return total


class TermTable:
    """Exponentially decaying author counts per term for one brand; bounded and picklable.

    Each term holds one float, ``S * 2 ** (minute / half_life)`` relative to ``epoch``: decay
    is implicit, so a learn touches only the terms of that minute. When the table exceeds
    ``max_terms`` the weakest quarter is evicted (amortised O(1)). ``rate`` is the usual authors
    per minute for a term: a stationary Poisson stream of rate r has ``S = r * half_life / ln 2``.
    """

    __slots__ = ("epoch", "half_life", "max_terms", "total", "values")

    def __init__(self, half_life_min: float = 360.0, max_terms: int = 2048) -> None:
        self.half_life = half_life_min
        self.max_terms = max_terms
        self.epoch: int | None = None  # minute the stored values are relative to
        self.values: dict[str, float] = {}
        self.total = 0.0  # authors of all minutes, same scaling: terms are shares of it

    def _w(self, minute: int) -> float:
        return 1.0 if self.epoch is None else 2.0 ** ((minute - self.epoch) / self.half_life)

    def count(self, term: str, minute: int) -> float:
        """Decayed author count of ``term`` at ``minute``."""
        v = self.values.get(term)
        return 0.0 if v is None else v / self._w(minute)

    def rate(self, term: str, minute: int, exclude: float = 0.0) -> float:
        """Usual authors per minute, minus ``exclude`` recent counts (the window under test)."""
        return max(0.0, self.count(term, minute) - exclude) * math.log(2) / self.half_life

    def share(self, term: str, minute: int, exclude: float = 0.0, prior: float = 0.5) -> float:
        """Usual share of the brand's authors that use ``term`` (``prior`` authors for a term
        never seen): a share, not a rate, so daily rhythm and a TV spot's extra volume with the
        usual words are expected, and the cold start's short memory cancels out."""
        total = self.total / self._w(minute)
        return (max(0.0, self.count(term, minute) - exclude) + prior) / (total + 1.0)

    def learn(self, counts: Mapping[str, int], minute: int, authors: int = 0) -> None:
        if self.epoch is None:
            self.epoch = minute
        elif minute - self.epoch > 40 * self.half_life:  # rebase before 2 ** x overflows
            w = self._w(minute)
            self.values = {t: v / w for t, v in self.values.items() if v / w > 1e-6}
            self.total /= w
            self.epoch = minute
        w = self._w(minute)
        vals = self.values
        self.total += authors * w
        for t, c in counts.items():
            vals[t] = vals.get(t, 0.0) + c * w
        if len(vals) > self.max_terms:
            keep = sorted(vals.items(), key=lambda kv: -kv[1])[: self.max_terms * 3 // 4]
            self.values = dict(keep)

    def nbytes(self) -> int:
        """Approximate memory: dict slots, keys and float values."""
        return sys.getsizeof(self.values) + sum(sys.getsizeof(k) + 24 for k in self.values)


class PostTerms:
    """The terms of each post of a minute, flat: one list of term references, the posts' end
    offsets and negative flags. A minute at thousands of posts/s holds ~10^5-10^6 posts until it
    closes; a (list, bool) tuple per post cost ~4x the memory (and pickled slower).
    Iterates (terms, negative) per post, as many times as needed.

    >>> pt = PostTerms()
    >>> pt.add(["recall", "order"], True)
    >>> pt.add([], False)
    >>> pt.add(["order"], False)
    >>> list(pt), len(pt)
    ([(['recall', 'order'], True), ([], False), (['order'], False)], 3)
    """

    __slots__ = ("ends", "neg", "terms")

    def __init__(self) -> None:
        self.terms: list[str] = []
        self.ends = array("I")  # end offset of each post's terms in ``terms``
        self.neg = bytearray()

    def add(self, terms: Sequence[str], negative: bool) -> None:
        self.terms.extend(terms)
        self.ends.append(len(self.terms))
        self.neg.append(negative)

    def __len__(self) -> int:
        return len(self.ends)

    def __iter__(self) -> Iterator[tuple[list[str], bool]]:
        terms, start = self.terms, 0
        for end, neg in zip(self.ends, self.neg, strict=True):
            yield terms[start:end], neg == 1
            start = end


class NarrativeTracker:
    """Per brand: which terms of a closing minute burst, against the brand's own term table.

    A term bursts when the distinct authors using it over the last ``window`` minutes (this one
    included) are at least ``min_authors`` and their Poisson tail against the term's usual share
    of the brand's authors (x the window's authors; ``prior`` authors for a never-seen term) is
    below ``alpha``.
    It is a *negative* burst when at least ``min_authors`` of those authors and ``neg_majority``
    of them posted it in negative posts (a launch's new product name, carried by positive posts,
    is not). The minute's counts are learned after the test; the window's earlier minutes are
    taken out of the expectation, so a narrative is not its own baseline while it starts.

    >>> nt = NarrativeTracker(window=3)
    >>> quiet = {"order": {"a1"}, "late": {"a2"}}
    >>> for m in range(600):                       # ten hours of the usual words
    ...     _ = nt.close(m, quiet, {}, [(["order"], False), (["late"], False)], authors=2)
    >>> ta = {"recall": {"u1", "u2"}, "order": {"u3"}}
    >>> posts = [(["recall"], True), (["recall", "order"], True), (["order"], False)]
    >>> nt.close(600, ta, {"recall": {"u1", "u2"}}, posts, authors=3)
    (2, 2, ['recall'])
    """

    __slots__ = (
        "alpha",
        "count_all",
        "max_repeat",
        "min_authors",
        "neg_majority",
        "prior",
        "recent",
        "table",
        "window",
    )

    def __init__(
        self,
        window: int = 5,
        half_life_min: float = 360.0,
        alpha: float = 1e-4,
        min_authors: int = 2,
        neg_majority: float = 0.5,
        prior: float = 0.5,
        max_terms: int = 2048,
        max_repeat: float = 1.5,
        count_all: bool = False,
    ) -> None:
        self.window, self.alpha, self.prior = int(window), alpha, prior
        self.max_repeat, self.count_all = max_repeat, bool(count_all)
        self.min_authors, self.neg_majority = min_authors, neg_majority
        self.table = TermTable(half_life_min, max_terms)
        # last window-1 minutes: (minute, authors, posts per term, authors per term, negative ones)
        self.recent: list[
            tuple[int, int, dict[str, int], dict[str, set[str]], dict[str, set[str]]]
        ] = []

    def close(
        self,
        minute: int,
        term_authors: dict[str, set[str]],
        term_neg: dict[str, set[str]],
        post_terms: Iterable[tuple[Sequence[str], bool]],
        authors: int,
    ) -> tuple[int, int, list[str]]:
        """(posts with a burst term, negative posts with a negative burst term, top terms).
        ``authors``: the minute's distinct authors (with or without terms). ``post_terms`` (a
        list or a :class:`PostTerms`) is iterated up to three times."""
        recent = [r for r in self.recent if r[0] > minute - self.window]
        win_authors = authors + sum(r[1] for r in recent)
        term_posts: dict[str, int] = {}
        get_posts = term_posts.get
        for ts, _ in post_terms:
            for t in ts:
                term_posts[t] = get_posts(t, 0) + 1
        burst: dict[str, float] = {}
        neg_burst: set[str] = set()
        min_authors, prior, alpha = self.min_authors, self.prior, self.alpha
        # TermTable.share inlined with its decay weight computed once (same float operations)
        table = self.table
        w = table._w(minute)
        denom = table.total / w + 1.0
        values = table.values
        in_recent = set().union(*(r[3] for r in recent))
        # a term whose tail is surely >= alpha is no burst: skip the exact tail (most terms)
        skip_common = 0.0 < alpha <= 0.5
        for t, who in term_authors.items():
            seen = t in in_recent
            if len(who) < min_authors and not seen:
                continue
            earlier = [a for r in recent if (a := r[3].get(t))] if seen else []
            before = sum(map(len, earlier)) if earlier else 0
            v = values.get(t)
            lam = (max(0.0, (0.0 if v is None else v / w) - before) + prior) / denom * win_authors
            # the tail falls with k: surely common at the most authors the window can hold
            # (no set union needed) is surely common at k
            most = len(who) + before
            if skip_common and most > 0 and lam > 0.0 and _surely_common(most, lam, alpha):
                continue
            k = len(who.union(*earlier)) if earlier else len(who)  # a new set: ``who`` stays
            if k < min_authors:
                continue
            if skip_common and k > 0 and lam > 0.0 and _surely_common(k, lam, alpha):
                continue
            p = poisson_sf(k, lam)
            if p < alpha:
                burst[t] = -math.log10(max(p, 1e-300)) + k  # rank: surprise, then authors
                # negative narrative: carried by negative posts, and by people rather than
                # a few accounts posting it again and again (a bot burst's spam words)
                hits = [r for r in recent if r[3].get(t)]  # the window's minutes with it
                n_posts = get_posts(t, 0) + sum(r[2].get(t, 0) for r in hits)
                neg_set = set(term_neg.get(t, ()))
                for r in hits:
                    neg_set |= r[4].get(t, set())
                if (
                    len(neg_set) >= min_authors
                    and len(neg_set) >= self.neg_majority * k
                    and n_posts <= self.max_repeat * k
                ):
                    neg_burst.add(t)
        self.table.learn({t: len(a) for t, a in term_authors.items()}, minute, authors)
        recent.append((minute, authors, term_posts, term_authors, term_neg))
        self.recent = recent[-(self.window - 1) :] if self.window > 1 else []
        if not burst:
            return 0, 0, []
        n_posts = sum(1 for ts, _ in post_terms if any(t in burst for t in ts))
        n_neg = sum(
            1
            for ts, neg in post_terms
            if (neg or self.count_all) and any(t in neg_burst for t in ts)
        )
        top = sorted(burst, key=lambda t: (t not in neg_burst, -burst[t], t))[:5]
        return n_posts, n_neg, top

    def nbytes(self) -> int:
        """Approximate memory: the term table plus the recent window's author sets."""
        win = sum(
            sys.getsizeof(s)
            for _, _, _, ta, tn in self.recent
            for s in (*ta.values(), *tn.values())
        )
        return self.table.nbytes() + win
