"""Watchlist parsing and brand matching."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.brands import Brand, BrandMatcher, Watchlist, WatchlistError

ROOT = Path(__file__).resolve().parents[1]

BRANDS = [
    {
        "id": "acme",
        "name": "Acme",
        "keywords": ["acme", "acme corp"],
        "hashtags": ["acme", "acmefail"],
        "handles": ["acmesupport"],
        "exclude": ["acme anvil museum"],
        "languages": ["en"],
        "group": "telecom",
        "team": "crisis-desk",
    },
    {"id": "apple", "name": "Apple", "keywords": ["apple"], "exclude": ["apple pie", "orchard"]},
    {"id": "nexa", "keywords": ["nexa", "nexa mobile"], "handles": ["nexa"], "group": "telecom"},
    {"id": "nexa-lounge", "keywords": ["nexa lounge"]},
]


@pytest.fixture(scope="module")
def m() -> BrandMatcher:
    return BrandMatcher(Watchlist.from_dict({"brands": BRANDS}))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ACME is down again!", ["acme"]),
        ("(acme) acme's, 'acme'", ["acme"]),
        ("acmeville and macme and acme_x", []),
        ("I work at ACME\t  Corp", ["acme"]),
        ("#AcmeFail today", ["acme"]),
        ("#acmefailure is not a tag we watch", []),
        ("ping @AcmeSupport please", ["acme"]),
        ("mail bob@acmesupport.com", []),
        ("@acmesupport.bsky.social help", ["acme"]),
        ("visited the Acme Anvil Museum", []),  # exclusion overlaps the only keyword hit
        ("acme anvil museum, then acme broke my phone", ["acme"]),  # second hit survives
        ("acme anvil museum @acmesupport", ["acme"]),  # handles are never vetoed
        ("apple pie", []),
        ("the orchard sells apple cider", []),  # context veto
        ("Apple keeps crashing", ["apple"]),
        ("pineapple", []),
        ("nexa lounge opening", ["nexa", "nexa-lounge"]),  # overlapping terms, two brands
        ("apple vs acme vs nexa", ["acme", "apple", "nexa"]),
        ("", []),
    ],
)
def test_match_text(m: BrandMatcher, text: str, expected: list[str]) -> None:
    assert m.match(text) == expected


def test_hashtag_and_mention_lists_and_language(m: BrandMatcher) -> None:
    assert m.match("so broken", hashtags=["AcmeFail"]) == ["acme"]
    assert m.match("so broken", hashtags=["#acme"]) == ["acme"]
    assert m.match("so broken", mentions=["@AcmeSupport"]) == ["acme"]
    assert m.match("so broken", mentions=["nexa.bsky.social"]) == ["nexa"]
    assert m.match("so broken", hashtags=["acmefailure"], mentions=["other"]) == []
    assert m.match("acme kaputt", lang="de") == []
    assert m.match("acme down", lang="EN-us") == ["acme"]
    assert m.match("acme down", lang=None) == ["acme"]
    assert m.match("nexa kaputt", lang="de") == ["nexa"]  # no languages = any


def test_metadata_and_pickle(m: BrandMatcher) -> None:
    b = m.brand("acme")
    assert (b.name, b.group, b.team) == ("Acme", "telecom", "crisis-desk")
    assert b.labels() == {"brand": "acme", "group": "telecom", "team": "crisis-desk"}
    assert m.brand("nexa-lounge").name == "nexa-lounge"  # name defaults to the id
    clone = pickle.loads(pickle.dumps(m))
    for text in ("acme corp", "apple pie", "#acmefail @nexa", "nothing"):
        assert clone.match(text) == m.match(text)
    assert clone.watchlist == m.watchlist


def test_shipped_watchlist_loads_and_matches_its_brands() -> None:
    wl = Watchlist.from_yaml(ROOT / "deploy" / "watchlist.yaml")
    m = BrandMatcher(wl)
    assert len(wl) >= 3
    for b in wl:
        assert isinstance(b, Brand) and b.group and b.team
        if b.keywords:
            assert b.id in m.match(f"what is going on with {b.keywords[0]} today", lang="en")
        if b.handles:
            assert b.id in m.match("hello", mentions=[b.handles[0]])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"brands": "acme"}, "brands: Input should be a valid list"),
        ({"brands": []}, "brands: empty list"),
        ({}, "brands: missing: a watchlist is a top-level 'brands:' list"),
        ({"brands": ["acme"]}, "brands[0]: expected a mapping"),
        ({"brands": [{"name": "x", "keywords": ["x"]}]}, "brands[0].id: Field required"),
        ({"brands": [{"id": "Acme Inc", "keywords": ["x"]}]}, "brands[0].id: must be a lowercase"),
        ({"brands": [{"id": "acme", "keywords": "acme"}]}, "brands[0].keywords: Input should be"),
        ({"brands": [{"id": "acme", "keywords": ["ok", ""]}]}, "keywords: empty entry ''"),
        ({"brands": [{"id": "acme", "keywords": []}]}, "brands[0].keywords: empty list"),
        ({"brands": [{"id": "acme", "hashtags": ["acme fail"]}]}, "hashtags: entry 'acme fail'"),
        ({"brands": [{"id": "acme", "keyword": ["acme"]}]}, "brands[0].keyword: unknown field"),
        ({"brands": [{"id": "acme", "exclude": ["x"]}]}, "brands[0]: needs at least one of"),
        ({"brands": [{"id": "acme", "keywords": ["a"], "team": 3}]}, "brands[0].team: Input"),
        (
            {"brands": [{"id": "acme", "keywords": ["a"]}, {"id": "acme", "keywords": ["b"]}]},
            "brands[1].id: duplicate id 'acme' (also brands[0])",
        ),
        (
            {"brands": [{"id": "a", "handles": ["@Help"]}, {"id": "b", "handles": ["x", "help"]}]},
            "brands[1].handles: handle 'help' is also a handle of brand 'a' (brands[0])",
        ),
    ],
)
def test_malformed_watchlists_say_where(data: dict[str, object], message: str) -> None:
    with pytest.raises(WatchlistError) as e:
        Watchlist.from_dict(data)
    assert message in str(e.value)


def test_yaml_file_errors_give_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(WatchlistError, match=r"missing\.yaml: cannot read"):
        Watchlist.from_yaml(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("brands: [\n  - id: acme\n")
    with pytest.raises(WatchlistError, match=r"bad.yaml:2: invalid YAML"):
        Watchlist.from_yaml(bad)
    typo = tmp_path / "typo.yaml"
    typo.write_text("brands:\n  - id: acme\n    keywords: [a]\n  - id: b\n    keywords: b\n")
    with pytest.raises(WatchlistError, match=r"typo.yaml:5: brands\[1\]\.keywords: Input should"):
        Watchlist.from_yaml(typo)
    dup = tmp_path / "dup.yaml"  # a bare list of brands: the path still says brands[i]
    dup.write_text("- id: acme\n  keywords: [a]\n- id: acme\n  keywords: [b]\n")
    with pytest.raises(WatchlistError, match=r"dup.yaml:3: brands\[1\]\.id: duplicate id"):
        Watchlist.from_yaml(dup)


# Property: with no exclusions the matcher equals a per-term regex oracle on random posts.
_TERMS = ["zen", "zen air", "kiro", "kiro-x", "ola", "ola ola", "b2b", "mü"]
_FILL = ["a", "zenith", "kiros", "the", "air", "x", "ol", "olaf", "bmü", "!", ",", "'s", "-"]
_ORACLE = {t: re.compile(rf"(?<!\w){re.escape(t)}(?!\w)") for t in _TERMS}


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_TERMS + _FILL), max_size=12), st.sampled_from(["", " "]))
def test_matches_equal_regex_oracle(tokens: list[str], sep: str) -> None:
    wl = Watchlist.from_dict([{"id": f"b{i}", "keywords": [t]} for i, t in enumerate(_TERMS)])
    text = " ".join(tokens) if sep else "".join(tokens)
    expected = sorted(f"b{i}" for i, t in enumerate(_TERMS) if _ORACLE[t].search(text.lower()))
    assert BrandMatcher(wl).match(text.upper()) == expected
