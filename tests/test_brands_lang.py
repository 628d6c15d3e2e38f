"""Brand matching in many languages (issue 21 part 3): brand names in non-Latin scripts,
per-language keywords and exclusions, the brands' language filter on the decided language."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from detectors.brands import BrandMatcher, Watchlist, WatchlistError
from schemas.models import Author, Post

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)

BRANDS: list[dict[str, Any]] = [
    {"id": "vodafone", "keywords": ["vodafone", "فودافون"]},
    {"id": "jio", "keywords": {"all": ["jio"], "hi": ["जियो"]}, "exclude": {"hi": ["जियो और"]}},
    {"id": "huawei", "keywords": ["华为", "huawei"]},
    {"id": "sony", "keywords": ["ソニー"]},
    {"id": "ais", "keywords": ["เอไอเอส"]},
    {
        "id": "vale",
        "keywords": {"all": ["vale s.a."], "pt": ["vale"]},
        "exclude": {"pt": ["vale a pena"]},
    },
    {"id": "acme", "keywords": ["acme"], "languages": ["en"]},
    {"id": "telvana", "keywords": ["telvana"], "languages": ["en", "pt"]},
]


@pytest.fixture(scope="module")
def m() -> BrandMatcher:
    return BrandMatcher(Watchlist.from_dict(BRANDS))


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        ("شبكة فودافون مقطوعة منذ الصباح", "ar", ["vodafone"]),
        ("مشكلة بفودافون ولفودافون", "ar", ["vodafone"]),  # behind the clitics ب and ل
        ("فودافونات", "ar", []),  # a longer word
        ("जियो का नेटवर्क बंद है", "hi", ["jio"]),
        ("जियोफाइबर खराब", "hi", []),  # a longer word
        ("जियो और जीने दो", "hi", []),  # a Hindi exclusion
        ("जियो का नेटवर्क बंद है", "en", []),  # a Hindi keyword in a post said to be English
        ("jio network down", "en", ["jio"]),  # the 'all' keyword
        ("我的华为手机又坏了", "zh", ["huawei"]),  # a substring: no spaces around it
        ("ソニーのテレビが壊れた", "ja", ["sony"]),
        ("เน็ตเอไอเอสล่มอีกแล้ว", "th", ["ais"]),
        ("a Vale vai pagar a multa", "pt", ["vale"]),
        ("não vale a pena", "pt", []),  # the Portuguese exclusion vetoes the Portuguese keyword
        ("Vale S.A. shares fell", "en", ["vale"]),
        ("the vale was lovely", "en", []),  # 'vale' counts in Portuguese only
    ],
)
def test_non_latin_names_and_per_language_terms(
    m: BrandMatcher, text: str, lang: str, expected: list[str]
) -> None:
    assert m.match(text, lang=lang) == expected


def test_a_devanagari_keyword_does_not_match_inside_a_word_by_its_vowel_sign() -> None:
    m = BrandMatcher(Watchlist.from_dict([{"id": "x", "keywords": ["जिय"]}]))
    assert m.match("जियो") == []  # 'ो' continues the word
    assert m.match("जिय है") == ["x"]


def test_unknown_language_counts_every_language_and_filters_nothing(m: BrandMatcher) -> None:
    for lang in (None, "und", ""):
        assert m.match("jio जियो", lang=lang) == ["jio"]
        assert m.match("não vale a pena", lang=lang) == []  # every exclusion counts
        assert m.match("acme telvana", lang=lang) == ["acme", "telvana"]
    assert m.match("acme telvana", lang="pt-BR") == ["telvana"]


def test_scan_then_resolve_is_match(m: BrandMatcher) -> None:
    assert m.scan("nothing to see here") is None  # no language needed
    found = m.scan("telvana: vale a pena")
    assert found is not None
    assert m.resolve(found, "pt") == m.match("telvana: vale a pena", lang="pt")
    assert m.resolve(found, "pt") == ["telvana"] and m.resolve(found, "en") == ["telvana"]
    assert m.resolve(found, "de") == []


@pytest.mark.parametrize(
    ("brand", "message"),
    [
        ({"keywords": {"pt": []}}, "brands[0].keywords.pt: empty list"),
        ({"keywords": {}}, "brands[0].keywords: empty mapping"),
        ({"keywords": {"portuguese": ["x"]}}, "brands[0].keywords.portuguese: 'portuguese' is not"),
        ({"keywords": {"pt": ["x", ""]}}, "brands[0].keywords.pt: empty entry ''"),
        ({"keywords": {"pt": "x"}}, "brands[0].keywords.pt: Input should be a valid list"),
        ({"keywords": 5}, "brands[0].keywords: Input should be a valid list, got 5 (a list, or a"),
        ({"keywords": {"pt": ["x"], "pt-BR": ["y"]}}, "keywords.pt-BR: language 'pt' given twice"),
        (
            {"keywords": {"pt": ["x"]}, "languages": ["en"]},
            "brands[0].keywords.pt: language 'pt' is not one of the brand's languages (en)",
        ),
        (
            {"keywords": ["x"], "exclude": {"de": ["y"]}, "languages": ["en", "pt"]},
            "brands[0].exclude.de: language 'de' is not one of the brand's languages (en, pt)",
        ),
    ],
)
def test_per_language_errors_name_the_path(brand: dict[str, Any], message: str) -> None:
    with pytest.raises(WatchlistError) as e:
        Watchlist.from_dict([{"id": "acme", **brand}])
    assert message in str(e.value)


def test_per_language_errors_in_a_file_give_the_line(tmp_path: Path) -> None:
    path = tmp_path / "wl.yaml"
    path.write_text("- id: acme\n  keywords:\n    all: [acme]\n    pt: []\n")
    with pytest.raises(WatchlistError, match=r"wl.yaml:4: brands\[0\]\.keywords\.pt: empty list"):
        Watchlist.from_yaml(path)


def _post(i: int, text: str, lang: str | None = None) -> Post:
    return Post(
        platform="mastodon",
        post_id=str(i),
        author=Author(id=f"u{i}"),
        text=text,
        lang=lang,
        created_at=T0,
    )


def test_enricher_filters_languages_on_the_decided_language(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """A brand with `languages: [en]` drops an *untagged* Portuguese post too (before, only a
    tagged one); only posts where a brand occurs have their language identified."""
    import streams.processing as processing

    path = tmp_path / "wl.yaml"
    path.write_text(
        "brands:\n"
        "  - {id: acme, keywords: [acme], languages: [en]}\n"
        "  - {id: telvana, keywords: {all: [telvana], pt: [operadora telvana]},"
        " languages: [en, pt]}\n"
    )
    identified: list[str] = []
    real = processing.identify_many

    def counting(texts: Any, hints: Any = None) -> list[str]:
        identified.extend(texts)
        return real(texts, hints)

    monkeypatch.setattr(processing, "identify_many", counting)
    posts = [
        _post(0, "A Acme cobrou duas vezes a minha fatura e ninguém responde, que vergonha"),
        _post(1, "acme charged me twice this month and support never answers"),
        _post(2, "acme charged me twice", "pt"),  # the platform's tag wins
        _post(3, "@acme 😡😡😡"),  # und: cannot be told, still acme's
        _post(4, "A Telvana cobrou duas vezes a minha fatura e ninguém responde, que vergonha"),
        _post(5, "nothing about any watched brand in this post at all"),
        _post(6, "A operadora Telvana cobrou duas vezes a minha fatura, que vergonha"),
    ]
    enricher = processing.Enricher(path, dedup_horizon_s=3600)
    out = enricher.process(posts, T0)
    got = sorted((s.post.post_id, s.brand, s.lang) for s in out)
    assert got == [
        ("1", "acme", "en"),
        ("3", "acme", "und"),
        ("4", "telvana", "pt"),
        ("6", "telvana", "pt"),
    ]
    assert enricher.unmatched == 3
    assert posts[5].text not in identified and len(identified) == 6
    pt = next(s for s in out if s.post.post_id == "4")
    assert "vergonha" in pt.terms and not {"que", "minha"} & set(pt.terms)
