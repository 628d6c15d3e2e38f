"""Multilingual crowds of ``crisis-radar simulate`` (issue 21): language mixes, per-language
texts, determinism, the English scenario kept, CLI options and their errors."""

from __future__ import annotations

import doctest
import json
import random
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import chain
from pathlib import Path
from typing import Any

import pytest

from crisis_radar.commands import simulate as cmd
from crisis_radar.settings import PROJECT_ROOT
from crisis_radar.simulate import EventSpec, Scenario, Simulator, load_brands, post_json
from crisis_radar.simulate import langs as lg
from detectors.language import identify
from schemas.models import Post

BRANDS = {b.id: b for b in load_brands(PROJECT_ROOT / "deploy" / "watchlist.yaml")}
T0 = datetime(2026, 11, 23, 8, tzinfo=UTC)
DEFECT = EventSpec(
    "product_defect", "telvana", T0 + timedelta(minutes=60),
    {"ramp_min": 5, "peak_multiple": 10, "plateau_min": 30, "decay_min": 15,
     "negative_share": 0.85, "narrative": "outage"},
)  # fmt: skip


def sim(minutes: int = 150, seed: int = 3, **kw):  # type: ignore[no-untyped-def]
    event = replace(DEFECT, params=dict(DEFECT.params))
    brands = [BRANDS["telvana"], BRANDS["orbitel"]]
    sc = Scenario(start=T0, minutes=minutes, brands=brands, seed=seed, events=[event], **kw)
    s = Simulator(sc, record_labels=True)
    return s, list(s.posts())


def test_doctests() -> None:
    res = doctest.testmod(lg)
    assert res.attempted > 0 and res.failed == 0


def test_every_language_has_every_kind_of_text() -> None:
    assert set(lg.PACKS) | {"en"} == set(lg.LANGS)
    for lang, pack in lg.PACKS.items():
        assert set(pack.background) == {"negative", "neutral", "positive"}, lang
        assert set(pack.narratives) == {"outage", "recall", "defect", "breach"}, lang
        assert pack.launch and pack.rush and set(pack.products) == {"telecom", "food", "tech"}
        every = [*chain(*pack.background.values()), *chain(*pack.narratives.values())]
        for tpl in [*every, *pack.launch, *pack.rush]:
            assert "{b}" in tpl, (lang, tpl)  # every post names the brand


@pytest.mark.parametrize("lang", lg.WITH_MODEL)
def test_texts_read_as_their_language(lang: str) -> None:
    """The identifier (no platform tag) names the language of nearly every simulated post."""
    r = random.Random(lang)
    brands = list(BRANDS.values())
    texts = [lg.background_text(r, lang, r.choice(brands), s)
             for s in ("negative", "neutral", "positive") for _ in range(60)]  # fmt: skip
    texts += [lg.crisis_text(r, lang, r.choice(brands), n)
              for n in ("outage", "recall", "defect", "breach") for _ in range(30)]  # fmt: skip
    got = Counter(identify(t) for t in texts)
    # romanised Hindi is told by a short word list only: more of it reads as English
    assert got[lang] / len(texts) >= (0.7 if lang == "hi" else 0.9), got.most_common(4)


@pytest.mark.parametrize("lang", lg.WITHOUT_MODEL)
def test_untagged_texts_without_a_model_are_not_read_as_a_modelled_language(lang: str) -> None:
    r = random.Random(lang)
    texts = [lg.background_text(r, lang, r.choice(list(BRANDS.values())), s)
             for s in ("negative", "neutral", "positive") for _ in range(60)]  # fmt: skip
    got = Counter(identify(t) for t in texts)
    assert sum(got[x] for x in lg.WITH_MODEL) / len(texts) <= 0.2, got.most_common(4)


def test_english_scenario_unchanged_and_crisis_language_changes_only_its_texts() -> None:
    """A language mix draws from its own stream: the posts, authors, times and intended labels
    are the English scenario's; only the event's (or the crowd's) texts and tags change."""
    en_sim, en = sim()
    _, same = sim(crowd_langs={"*": {"en": 1.0}})
    assert [post_json(p) for p in same] == [post_json(p) for p in en]
    pt_sim, pt = sim(event_langs={"pt": 1.0})
    assert len(pt) == len(en)
    changed = 0
    for a, b in zip(en, pt, strict=True):
        text_fields = ("text", "lang", "hashtags", "mentions")
        assert {k: v for k, v in a.items() if k not in text_fields} == {
            k: v for k, v in b.items() if k not in text_fields
        }
        assert en_sim.labels is not None and pt_sim.labels is not None
        lab = pt_sim.labels[b["post_id"]]
        assert lab == en_sim.labels[a["post_id"]]
        if lab[3] == "product_defect":
            assert b["lang"] == "pt"
            changed += a["text"] != b["text"]
        else:  # the baseline stays as it was (English, and the few foreign_share posts)
            assert (b["lang"], b["text"]) == (a["lang"], a["text"])
    assert changed > 200
    assert pt_sim.truth[0].params["langs"] == {"pt": 1.0}
    assert "event_langs" in pt_sim.truth_doc()["scenario"]
    assert "event_langs" not in en_sim.truth_doc()["scenario"]  # English truth files unchanged


def test_crowd_mix_shares_per_brand_and_valid_posts() -> None:
    s, posts = sim(minutes=600, crowd_langs={"*": {"en": 0.8, "pt": 0.2},
                                             "orbitel": {"en": 0.5, "tr": 0.5}})  # fmt: skip
    assert s.labels is not None
    by_brand: dict[str, Counter[str]] = {"telvana": Counter(), "orbitel": Counter()}
    for p in posts:
        brand, _, event, role = s.labels[p["post_id"]]
        if role == "baseline" and event == -1:
            by_brand[brand][p["lang"]] += 1
        Post.model_validate(p)
    for brand, want in (("telvana", {"pt": 0.2}), ("orbitel", {"tr": 0.5})):
        n = sum(by_brand[brand].values())
        assert n > 400
        for lang, share in want.items():
            assert abs(by_brand[brand][lang] / n - share) < 0.06, (brand, by_brand[brand])
    assert set(by_brand["telvana"]) == {"en", "pt"} and set(by_brand["orbitel"]) == {"en", "tr"}


def test_same_seed_same_bytes_with_languages() -> None:
    kw: dict[str, Any] = {"crowd_langs": {"*": {"en": 0.6, "de": 0.2, "ar": 0.2}},
                          "event_langs": {"hi": 1.0}}  # fmt: skip
    a = [post_json(p) for p in sim(**kw)[1]]
    b = [post_json(p) for p in sim(**kw)[1]]
    c = [post_json(p) for p in sim(seed=4, **kw)[1]]
    assert a == b and a != c


def test_language_keywords_of_the_watchlist_name_the_brand() -> None:
    b = replace(BRANDS["telvana"], lang_keywords=(("ar", "تلفانا"),))
    r = random.Random(0)
    texts = [lg.background_text(r, "ar", b, "negative") for _ in range(200)]
    assert 60 < sum("تلفانا" in t for t in texts) < 140
    assert not any("تلفانا" in lg.background_text(r, "pt", b, "negative") for _ in range(100))


@pytest.mark.parametrize(
    "spec, want",
    [("en=0.8,pt=0.2", {"en": 0.8, "pt": 0.2}), ("PT", {"pt": 1.0}),
     ("en=3,tr=1", {"en": 0.75, "tr": 0.25}), ("en=1,pt=0", {"en": 1.0})],
)  # fmt: skip
def test_parse_mix(spec: str, want: dict[str, float]) -> None:
    assert lg.parse_mix(spec) == want


@pytest.mark.parametrize("spec", ["", "xx=1", "en=a", "en=-1", "en=1,en=2", "pt=0", "en=nan"])
def test_parse_mix_rejects(spec: str) -> None:
    with pytest.raises(ValueError):
        lg.parse_mix(spec)


def test_cli_languages_labels_and_untagged(tmp_path: Path) -> None:
    out, truth, labels = tmp_path / "p.jsonl", tmp_path / "t.json", tmp_path / "l.jsonl"
    args = ["--days", "0.1", "--brands", "telvana,orbitel", "--start", "2026-11-23T08:00Z",
            "--events", "product_defect:telvana@09:00", "--crisis-lang", "pt=0.9,es=0.1",
            "--crowd-langs", "en=0.7,fr=0.3", "--crowd-langs", "orbitel:tr", "--no-lang-tags",
            "--quiet", "--out", str(out), "--truth", str(truth),
            "--labels", str(labels)]  # fmt: skip
    assert cmd.main(args) == 0
    posts = [json.loads(x) for x in out.read_text().splitlines()]
    labs = {x["post_id"]: x for x in map(json.loads, labels.read_text().splitlines())}
    assert all(p["lang"] is None for p in posts)  # the worker will identify the text
    langs = Counter((labs[p["post_id"]]["brand"], labs[p["post_id"]]["role"],
                     labs[p["post_id"]]["lang"]) for p in posts)  # fmt: skip
    assert langs[("orbitel", "baseline", "tr")] > 0 and not langs[("orbitel", "baseline", "en")]
    assert langs[("telvana", "baseline", "fr")] > 0 and langs[("telvana", "baseline", "en")] > 0
    assert langs[("telvana", "product_defect", "pt")] > langs[("telvana", "product_defect", "es")]
    doc = json.loads(truth.read_text())
    assert doc["events"][0]["params"]["langs"] == {"pt": 0.9, "es": 0.1}
    assert doc["scenario"]["crowd_langs"] == {"*": {"en": 0.7, "fr": 0.3}, "orbitel": {"tr": 1.0}}
    assert doc["scenario"]["lang_tags"] is False


@pytest.mark.parametrize(
    "bad, says",
    [(["--crowd-langs", "en=1,xx=1"], "language 'xx'"),
     (["--crowd-langs", "nosuch:en=1"], "brand 'nosuch'"),
     (["--crowd-langs", "en=1", "--crowd-langs", "pt=1"], "twice"),
     (["--crisis-lang", "klingon"], "--crisis-lang")],
)  # fmt: skip
def test_cli_rejects_bad_language_options(bad: list[str], says: str, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    argv = ["--days", "0.01", "--brands", "telvana", "--quiet", "--out", str(tmp_path / "x"), *bad]
    assert cmd.main(argv) == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err
