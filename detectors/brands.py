"""Watched brands: the watchlist format and a fast multi-brand matcher.

One Aho-Corasick automaton (pyahocorasick) holds every keyword, ``#hashtag``, ``@handle`` and
exclusion phrase of every brand, so a post costs one pass over its text whatever the size of
the watchlist. Matches are case-insensitive and whole-word. An exclusion phrase vetoes the
keyword/hashtag occurrences it overlaps ("apple pie" is not Apple, but "apple pie at the Apple
store" still is); an exclusion phrase that overlaps no occurrence vetoes all keyword/hashtag
matches of its brand in that post (a context veto). ``@handle`` matches and the post's own
``mentions`` list are explicit addressing and are never vetoed.

Scripts: combining marks are part of a word (a Devanagari keyword does not match the start of a
longer word); in scripts written without spaces (Chinese, Japanese, Thai...) a keyword matches as
a substring; an Arabic keyword also matches behind the clitics و ف ب ل ك (and, so, with, for,
like) and ال. Keywords and exclusions can be given per language (``schemas.watchlist``); they
count only in posts of that language, and a brand's ``languages`` filter applies to the post's
decided language (docs/languages.md, "Keywords per language"). ``scan`` finds the occurrences
without a language and ``resolve`` decides them once the language is known, so a worker
identifies the language of candidate posts only.

>>> wl = Watchlist.from_dict({"brands": [
...     {"id": "apple", "name": "Apple", "keywords": ["apple"], "hashtags": ["apple"],
...      "handles": ["apple"], "exclude": ["apple pie"], "group": "tech", "team": "desk"},
...     {"id": "acme", "name": "Acme", "keywords": ["acme", "acme corp"], "languages": ["en"]},
... ]})
>>> m = BrandMatcher(wl)
>>> m.match("My Apple watch and my ACME Corp phone both died")
['acme', 'apple']
>>> m.match("grandma's apple pie recipe"), m.match("pineapple"), m.match("#ApplePie")
([], [], [])
>>> m.match("apple pie at the Apple store"), m.match("apple pie", mentions=["@apple"])
(['apple'], ['apple'])
>>> m.match("acme is down", lang="de"), m.match("acme is down", lang="en-GB")
([], ['acme'])
>>> m2 = BrandMatcher(Watchlist.from_dict([{"id": "huawei", "keywords": ["华为", "huawei"]},
...     {"id": "jio", "keywords": {"all": ["jio"], "hi": ["जियो"]},
...      "exclude": {"hi": ["जियो और"]}}]))
>>> m2.match("华为手机又坏了"), m2.match("जियो का नेटवर्क बंद है", lang="hi")
(['huawei'], ['jio'])
>>> m2.match("जियो का नेटवर्क बंद है", lang="en"), m2.match("जियो और जीने दो", lang="hi")
([], [])
>>> m.brand("apple").team
'desk'
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ahocorasick

from detectors.marks import MARKS
from detectors.text import NOSPACE, fold
from schemas.watchlist import BrandSpec, WatchlistError, load_watchlist, parse_watchlist

__all__ = ["Brand", "BrandMatcher", "Watchlist", "WatchlistError"]

_KW, _TAG, _HANDLE, _EXCL = 0, 1, 2, 3
_MENTION = re.compile(r"@([\w.\-]+\w)")
_MARK = re.compile(f"[{MARKS}]")
_ARABIC = re.compile("[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff]")
# Arabic writes "and", "so", "with", "for", "like" and "the" joined to the next word.
_AR_CLITICS = frozenset(
    ["و", "ف", "ب", "ل", "ك", "ال", "وال", "فال", "بال", "كال", "لل", "ولل", "وب", "ول", "فب", "فل"]
)
# (occurrences that cannot be vetoed, keyword/hashtag spans, exclusion spans) of one post, before
# its language is known; spans are (start, end, language or "" for every language).
Scan = tuple[set[int], dict[int, list[tuple[int, int, str]]], dict[int, list[tuple[int, int, str]]]]


@dataclass(frozen=True, slots=True)
class Brand:
    """One watched brand and who cares about it."""

    id: str
    name: str
    keywords: tuple[str, ...] = ()
    hashtags: tuple[str, ...] = ()
    handles: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    languages: frozenset[str] = frozenset()
    group: str = ""
    team: str = ""
    # platform -> the brand's own accounts (folded handles or author ids): its replies
    official: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # (language, term) pairs of the keywords / exclusions that count in one language only
    lang_keywords: tuple[tuple[str, str], ...] = ()
    lang_exclude: tuple[tuple[str, str], ...] = ()

    def labels(self) -> dict[str, str]:
        """Prometheus labels for this brand."""
        return {"brand": self.id, "group": self.group, "team": self.team}


def _lang(code: str) -> str:
    """Primary language subtag: 'en-GB' -> 'en'."""
    return code.strip().casefold().replace("_", "-").split("-", 1)[0]


def _lang_code(lang: str | None) -> str | None:
    """A post's language as a filter key; None when unknown ("und", empty): it matches all."""
    if lang is None:
        return None
    code = _lang(lang)
    return None if code in ("", "und") else code


def _brand(spec: BrandSpec) -> Brand:
    keywords = spec.terms_by_language("keywords")
    exclude = spec.terms_by_language("exclude")
    return Brand(
        id=spec.id,
        name=spec.name if spec.name is not None else spec.id,
        keywords=tuple(t for lang, t in keywords if not lang),
        hashtags=tuple(spec.hashtags or ()),
        handles=tuple(spec.handles or ()),
        exclude=tuple(t for lang, t in exclude if not lang),
        languages=spec.language_codes,
        group=spec.group or "",
        team=spec.team or "",
        official=tuple(sorted((k, tuple(v)) for k, v in (spec.official or {}).items())),
        lang_keywords=tuple(x for x in keywords if x[0]),
        lang_exclude=tuple(x for x in exclude if x[0]),
    )


class Watchlist:
    """The watched brands, validated; index by id (``wl["acme"]``)."""

    def __init__(self, brands: Iterable[Brand]) -> None:
        self.brands: tuple[Brand, ...] = tuple(brands)
        self._by_id: dict[str, Brand] = {}
        for b in self.brands:
            if b.id in self._by_id:  # brands built in code, not through parse_watchlist
                raise WatchlistError(f"duplicate brand id {b.id!r}")
            self._by_id[b.id] = b

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | Sequence[Any]) -> Watchlist:
        """From ``{"brands": [...]}`` (the YAML document) or a bare list of brand mappings;
        validated by ``schemas.watchlist`` (``WatchlistError`` names the path)."""
        return cls(_brand(b) for b in parse_watchlist(data).brands)

    @classmethod
    def from_yaml(cls, path: str | Path) -> Watchlist:
        """From a file; errors say ``file:line``."""
        return cls(_brand(b) for b in load_watchlist(path).brands)

    @property
    def ids(self) -> list[str]:
        return [b.id for b in self.brands]

    def __getitem__(self, brand_id: str) -> Brand:
        return self._by_id[brand_id]

    def __contains__(self, brand_id: object) -> bool:
        return brand_id in self._by_id

    def __iter__(self) -> Iterator[Brand]:
        return iter(self.brands)

    def __len__(self) -> int:
        return len(self.brands)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Watchlist) and other.brands == self.brands

    __hash__ = None  # type: ignore[assignment]


def _vetoed(spans: Sequence[tuple[int, int, str]], vetoes: Sequence[tuple[int, int, str]]) -> bool:
    """True when exclusions cancel every occurrence, or one excludes by context alone."""

    def overlaps(a: tuple[int, int, str], b: tuple[int, int, str]) -> bool:
        return a[0] <= b[1] and b[0] <= a[1]

    if not vetoes:
        return False
    if any(not any(overlaps(v, s) for s in spans) for v in vetoes):
        return True  # context veto: e.g. "museum" anywhere in the post
    return all(any(overlaps(v, s) for v in vetoes) for s in spans)


def _is_word(c: str) -> bool:
    """A character that continues a word: letters, digits, '_' and combining marks."""
    return c.isalnum() or c == "_" or (not c.isascii() and _MARK.match(c) is not None)


def _after_clitic(t: str, start: int) -> bool:
    """An Arabic keyword at ``start`` behind a clitic that begins the word ("بفودافون")."""
    if not _ARABIC.match(t[start]):
        return False
    ws = start
    while ws > 0 and start - ws < 3 and _is_word(t[ws - 1]):
        ws -= 1
    return (ws == 0 or not _is_word(t[ws - 1])) and t[ws:start] in _AR_CLITICS


class BrandMatcher:
    """Finds the watched brands a post talks about. Picklable (rebuilds its automaton)."""

    def __init__(self, watchlist: Watchlist) -> None:
        self.watchlist = watchlist
        self._build()

    def _build(self) -> None:
        brands = self.watchlist.brands
        terms: dict[str, list[tuple[int, int, str]]] = {}
        self._tags: dict[str, list[int]] = {}
        self._handles: dict[str, list[int]] = {}
        for bi, b in enumerate(brands):
            for kind, words, prefix in (
                (_KW, [("", w) for w in b.keywords] + list(b.lang_keywords), ""),
                (_TAG, [("", w) for w in b.hashtags], "#"),
                (_HANDLE, [("", w) for w in b.handles], "@"),
                (_EXCL, [("", w) for w in b.exclude] + list(b.lang_exclude), ""),
            ):
                for lang, w in words:
                    key = prefix + w
                    if not key.isascii():  # posts are matched in NFC
                        key = unicodedata.normalize("NFC", key)
                    terms.setdefault(key, []).append((bi, kind, lang))
            for t in b.hashtags:
                self._tags.setdefault(t, []).append(bi)
            for h in b.handles:
                self._handles.setdefault(h, []).append(bi)
        # (platform, folded handle or author id) -> brand ids whose official account it is
        self._official: dict[tuple[str, str], str] = {}
        self._official_names: dict[str, list[int]] = {}  # @account -> brands (addressing)
        for bi, b in enumerate(brands):
            for platform, accounts in b.official:
                for a in accounts:
                    self._official[(platform, a)] = b.id
                    self._official_names.setdefault(a, []).append(bi)
        self._ids = [b.id for b in brands]
        self._langs = [b.languages for b in brands]
        self._auto: Any = None
        if terms:
            auto = ahocorasick.Automaton(ahocorasick.STORE_ANY, ahocorasick.KEY_STRING)
            for key, entries in terms.items():
                auto.add_word(key, (len(key), tuple(entries)))
            auto.make_automaton()
            self._auto = auto

    def __getstate__(self) -> dict[str, Any]:
        return {"watchlist": self.watchlist}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.watchlist = state["watchlist"]
        self._build()

    def official_of(self, platform: str, author_id: str, handle: str | None) -> str | None:
        """The brand whose official account wrote a post (handle or id, case-insensitive)."""
        if not self._official:
            return None
        if handle:
            hit = self._official.get((platform, handle.casefold().lstrip("@")))
            if hit is not None:
                return hit
        return self._official.get((platform, author_id.casefold()))

    def addressed(self, text: str, mentions: Iterable[str] = ()) -> set[str]:
        """Brands a post addresses explicitly: ``@handle`` in its text, or a handle or official
        account in its ``mentions`` (a complaint *to* the brand, not only about it)."""
        out: set[int] = set()
        for mention in mentions:
            h = fold(mention).lstrip("@")
            for table in (self._handles, self._official_names):
                out.update(table.get(h) or table.get(h.split(".", 1)[0]) or ())
        t = fold(text)
        if self._auto is not None and "@" in t:
            n = len(t)
            for end, (length, entries) in self._auto.iter(t):
                start = end - length + 1
                if t[start] != "@" or (end + 1 < n and (_is_word(t[end + 1]) or t[end + 1] == "-")):
                    continue
                out.update(e[0] for e in entries if e[1] == _HANDLE)  # (brand, kind, language)
        for at in _MENTION.findall(t):
            out.update(self._official_names.get(at) or ())
        return {self._ids[bi] for bi in out}

    def brand(self, brand_id: str) -> Brand:
        """Metadata (name, group, team) of a brand id returned by :meth:`match`."""
        return self.watchlist[brand_id]

    def match(
        self,
        text: str,
        lang: str | None = None,
        hashtags: Iterable[str] = (),
        mentions: Iterable[str] = (),
    ) -> list[str]:
        """Sorted, unique ids of the brands ``text`` (and its tags/mentions) refers to:
        ``resolve(scan(...), lang)``.

        ``lang`` filters brands that list ``languages`` and picks the per-language keywords and
        exclusions; an unknown language (None, "und") matches all and counts them all.
        """
        found = self.scan(text, hashtags, mentions)
        return [] if found is None else self.resolve(found, lang)

    def scan(self, text: str, hashtags: Iterable[str] = (), mentions: Iterable[str] = ()
             ) -> Scan | None:  # fmt: skip
        """The brand occurrences in a post, before its language is known; None when no brand
        can match whatever the language (most posts: they need no language)."""
        sure: set[int] = set()  # explicit addressing: never vetoed
        hits: dict[int, list[tuple[int, int, str]]] = {}  # keyword/hashtag spans, may be vetoed
        excl: dict[int, list[tuple[int, int, str]]] = {}
        for tag in hashtags:
            for bi in self._tags.get(fold(tag).lstrip("#"), ()):
                hits.setdefault(bi, []).append((-1, -1, ""))  # a list tag overlaps no exclusion
        for mention in mentions:
            h = fold(mention).lstrip("@")
            sure.update(self._handles.get(h) or self._handles.get(h.split(".", 1)[0]) or ())
        t = fold(text)
        if self._auto is not None and t:
            if not t.isascii():
                t = unicodedata.normalize("NFC", t)
            n = len(t)
            for end, (length, entries) in self._auto.iter(t):
                start = end - length + 1
                # no word boundaries inside scripts without spaces: a keyword is a substring
                if (
                    start > 0
                    and _is_word(t[start - 1])
                    and not (t[start] >= "\u0e00" and NOSPACE.match(t[start]))
                    and not (t[start] >= "\u0600" and _after_clitic(t, start))
                ):
                    continue
                if end + 1 < n:
                    nxt = t[end + 1]
                    if (_is_word(nxt) and not (t[end] >= "\u0e00" and NOSPACE.match(t[end]))) or (
                        nxt == "-" and t[start] == "@"
                    ):
                        continue
                for bi, kind, lang in entries:
                    if kind == _HANDLE:
                        sure.add(bi)
                    elif kind == _EXCL:
                        excl.setdefault(bi, []).append((start, end, lang))
                    else:
                        hits.setdefault(bi, []).append((start, end, lang))
        if not sure and not hits:
            return None
        return sure, hits, excl

    def resolve(self, found: Scan, lang: str | None) -> list[str]:
        """The brands of a ``scan`` in a post of language ``lang`` (None, "und": unknown)."""
        sure, hits, excl = found
        code = _lang_code(lang)
        out = set(sure)
        for bi, spans in hits.items():
            if bi in out:
                continue
            vetoes = excl.get(bi, ())
            if code is not None:  # another language's terms do not count
                spans = [s for s in spans if not s[2] or s[2] == code]
                vetoes = [v for v in vetoes if not v[2] or v[2] == code]
            if spans and not _vetoed(spans, vetoes):
                out.add(bi)
        if code is not None:
            out = {bi for bi in out if not self._langs[bi] or code in self._langs[bi]}
        return sorted(self._ids[bi] for bi in out)
