"""Scenario simulator: determinism, realistic baseline, the signal of each event kind, CLI."""

from __future__ import annotations

import doctest
import gzip
import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from crisis_radar.commands import simulate as cmd
from crisis_radar.settings import PROJECT_ROOT
from crisis_radar.simulate import (
    IS_CRISIS,
    EventSpec,
    Scenario,
    Simulator,
    load_brands,
    post_json,
    random_events,
)
from crisis_radar.simulate import events as sim_events
from crisis_radar.simulate import generator as sim_generator
from crisis_radar.simulate import text as sim_text
from schemas.models import Post

WATCHLIST = PROJECT_ROOT / "deploy" / "watchlist.yaml"
BRANDS = {b.id: b for b in load_brands(WATCHLIST)}
T0 = datetime(2026, 11, 23, tzinfo=UTC)  # a Monday


def at(h: int, m: int = 0, day: int = 0) -> datetime:
    return T0 + timedelta(days=day, hours=h, minutes=m)


def run(ids: list[str], minutes: int, events: list[EventSpec] = (), seed: int = 1, **kw):  # type: ignore[assignment]
    sc = Scenario(
        start=T0,
        minutes=minutes,
        brands=[BRANDS[i] for i in ids],
        seed=seed,
        events=list(events),
        **kw,
    )
    sim = Simulator(sc, record_labels=True)
    return sim, list(sim.posts())


def minute_of(post: dict) -> int:  # type: ignore[type-arg]
    t = datetime.fromisoformat(post["created_at"].replace("Z", "+00:00"))
    return int((t - T0).total_seconds() // 60)


def window(sim: Simulator, posts: list[dict], brand: str, lo: int, hi: int) -> dict:  # type: ignore[type-arg]
    """Volume and intended sentiment shares of one brand's posts in minutes [lo, hi)."""
    assert sim.labels is not None
    labs = [sim.labels[p["post_id"]] for p in posts if lo <= minute_of(p) < hi]
    labs = [lab for lab in labs if lab[0] == brand]
    n = len(labs)
    c = Counter(lab[1] for lab in labs)
    return {
        "n": n,
        "neg": c["negative"] / max(n, 1),
        "pos": c["positive"] / max(n, 1),
        "expected": sum(sim.expected_rate(brand, m) for m in range(lo, hi)),
    }


# --- the module's own doctests run here (tests/ is what CI collects) -----------------------
@pytest.mark.parametrize("mod", [sim_generator, sim_events, sim_text])
def test_doctests(mod: object) -> None:
    res = doctest.testmod(mod)  # type: ignore[arg-type]
    assert res.attempted > 0 and res.failed == 0


# --- determinism ---------------------------------------------------------------------------
EVENTS_ALL = [
    EventSpec("product_defect", "telvana", at(1)),
    EventSpec("viral_complaint", "orbitel", at(1, 30)),
    EventSpec("copy_paste_campaign", "crunchly", at(2)),
    EventSpec("bot_burst", "pixelon", at(0, 30)),
    EventSpec("launch_spike", "nimbus", at(1)),
    EventSpec("competitor_crisis", "nexa", at(2), {"competitor": "telvana"}),
]


def _bytes(seed: int) -> str:
    sc = Scenario(
        start=T0, minutes=180, brands=list(BRANDS.values()), seed=seed, events=EVENTS_ALL[:-1]
    )
    sim = Simulator(sc)
    return "\n".join(post_json(p) for p in sim.posts()) + json.dumps(sim.truth_doc())


def test_same_seed_same_bytes_and_different_seeds_differ() -> None:
    a, b, c = _bytes(7), _bytes(7), _bytes(8)
    assert a == b
    assert a != c
    assert a.count("\n") > 1000


def test_cli_gzip_output_is_byte_identical(tmp_path: Path) -> None:
    args = [
        "--days",
        "0.05",
        "--brands",
        "3",
        "--seed",
        "3",
        "--quiet",
        "--events",
        "viral_complaint:telvana@00:10",
    ]
    assert cmd.main([*args, "--out", str(tmp_path / "a.jsonl.gz")]) == 0
    assert cmd.main([*args, "--out", str(tmp_path / "b.jsonl.gz")]) == 0
    assert (tmp_path / "a.jsonl.gz").read_bytes() == (tmp_path / "b.jsonl.gz").read_bytes()


# --- every post is a canonical schemas.Post ------------------------------------------------
def test_every_line_validates_and_is_canonical() -> None:
    _, posts = run(list(BRANDS), 240, EVENTS_ALL)
    assert len(posts) > 5000
    keys = set()
    seen: set[str] = set()
    replies = 0
    last = T0
    for p in posts:
        line = post_json(p)
        model = Post.model_validate_json(line)
        assert model.model_dump_json() == line  # byte-identical to pydantic's own output
        keys.add(model.key)
        for ref in (model.reply_to, model.repost_of, model.quote_of):
            assert ref is None or ref in seen  # references point to earlier posts
        replies += model.reply_to is not None
        seen.add(model.post_id)
        assert model.created_at >= last  # event-time order
        assert "." in p["created_at"]  # so the strings sort like the times
        last = model.created_at
        assert model.hashtags == re.findall(r"#(\w+)", model.text)
    assert len(keys) == len(posts)
    assert replies > 50


# --- baseline realism ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def baseline_week():
    # Two brands with different time zones, a week, no events.
    return run(
        ["crunchly", "telvana"],
        7 * 1440,
        offtopic_rate=0.0,
        foreign_share=0.0,
        benign_bursts_per_day=0.0,
    )


def test_daily_rhythm_night_below_day(baseline_week) -> None:
    sim, posts = baseline_week
    for bid in ("crunchly", "telvana"):
        tz = sim.profiles[sim.index[bid]].tz_hours
        per_hour = Counter(
            (minute_of(p) // 60 + tz) % 24 for p in posts if sim.labels[p["post_id"]][0] == bid
        )
        night = sum(per_hour[h] for h in (2, 3, 4, 5))
        day = sum(per_hour[h] for h in (11, 12, 13, 14))
        assert day > 3 * night, (bid, night, day)


def test_weekly_rhythm_and_drift(baseline_week) -> None:
    sim, posts = baseline_week
    bi = sim.index["telvana"]
    prof = sim.profiles[bi]
    days = Counter(minute_of(p) // 1440 for p in posts if sim.labels[p["post_id"]][0] == "telvana")
    weekday = np.mean([days[d] for d in range(5)])  # Nov 23 2026 is a Monday
    weekend = np.mean([days[5], days[6]])
    assert (weekend < weekday) == (prof.weekend_factor < 1.0)
    # The level drifts: the rate-to-rhythm ratio is not constant.
    ratio = (
        sim.lam[bi] / sim_generator.daily_curve()[(np.arange(7 * 1440) + prof.tz_hours * 60) % 1440]
    )
    assert ratio[: 5 * 1440].std() / ratio[: 5 * 1440].mean() > 0.02


def test_poisson_dispersion_at_baseline(baseline_week) -> None:
    sim, posts = baseline_week
    counts = Counter((sim.labels[p["post_id"]][0], minute_of(p)) for p in posts)
    for bid in ("crunchly", "telvana"):
        lam = np.array([sim.expected_rate(bid, m) for m in range(7 * 1440)])
        c = np.array([counts[(bid, m)] for m in range(7 * 1440)])
        pearson = np.mean((c - lam) ** 2 / lam)  # ~1 for Poisson, >>1 if overdispersed
        assert 0.85 < pearson < 1.15, (bid, pearson)
        assert abs(c.sum() - lam.sum()) < 4 * np.sqrt(lam.sum())


def test_authors_sentiment_and_mentions(baseline_week) -> None:
    sim, posts = baseline_week
    by_author = Counter(p["author"]["id"] for p in posts)
    top = by_author.most_common(10)
    assert top[0][1] > 20 * np.median(list(by_author.values()))  # Zipf-like: a few chatty authors
    followers = np.array([p["author"]["followers"] for p in posts])
    assert followers.max() > 100 * np.median(followers)  # heavy tail
    assert 0 < np.mean([p["author"]["verified"] for p in posts]) < 0.2
    senti = Counter(sim.labels[p["post_id"]][1] for p in posts)
    assert senti["neutral"] > senti["negative"] and senti["neutral"] > senti["positive"] > 0
    # Texts mention the brand the way the watchlist describes it (rare typos aside).
    for bid in ("crunchly", "telvana"):
        b = BRANDS[bid]
        forms = [*b.keywords, b.name, *(f"#{h}" for h in b.hashtags), *(f"@{h}" for h in b.handles)]
        pat = re.compile("|".join(re.escape(f.lower()) for f in forms))
        own = [
            p["text"].lower()
            for p in posts
            if sim.labels[p["post_id"]][:1] == (bid,) and sim.labels[p["post_id"]][3] == "baseline"
        ]
        hit = np.mean([bool(pat.search(t)) for t in own])
        assert 0.9 < hit < 1.0, (bid, hit)  # 1.0 would mean no misspellings at all
    assert len({p["text"] for p in posts}) > 0.7 * len(posts)  # not a handful of strings


# --- events --------------------------------------------------------------------------------
def test_product_defect_raises_volume_and_negative_share() -> None:
    ev = EventSpec(
        "product_defect",
        "crunchly",
        at(10),
        {"ramp_min": 10, "plateau_min": 60, "decay_min": 20, "peak_multiple": 8},
    )
    sim, posts = run(["crunchly"], 1440, [ev])
    truth = sim.truth[0]
    assert truth.is_crisis and truth.end == at(10) + timedelta(minutes=130)
    before = window(sim, posts, "crunchly", 8 * 60, 10 * 60)
    peak = window(sim, posts, "crunchly", 10 * 60 + 10, 10 * 60 + 70)
    after = window(sim, posts, "crunchly", 14 * 60, 16 * 60)
    assert peak["n"] > 4 * peak["expected"]
    assert peak["neg"] > 0.5 > 0.35 > before["neg"]
    assert after["n"] < 1.5 * after["expected"]  # decayed back to baseline
    texts = " ".join(p["text"].lower() for p in posts if 600 <= minute_of(p) < 670)
    assert re.search(r"recall|salmonella|contaminat|listeria|unsafe", texts)


def test_launch_spike_is_positive_not_negative() -> None:
    sim, posts = run(["pixelon"], 1440, [EventSpec("launch_spike", "pixelon", at(14))])
    t = sim.truth[0]
    assert not t.is_crisis and t.severity == "none"
    ramp, plateau = t.params["ramp_min"], t.params["plateau_min"]
    lo = 14 * 60 + ramp
    peak = window(sim, posts, "pixelon", lo, lo + plateau)
    before = window(sim, posts, "pixelon", 11 * 60, 14 * 60)
    assert peak["n"] > 2.5 * peak["expected"]
    assert peak["pos"] > before["pos"] + 0.2
    assert peak["neg"] < before["neg"]


def test_launch_rush_is_loud_mixed_and_announced() -> None:
    """Issue 18's recurring launch-like pattern: volume up with a negative share up too (queue
    and sold-out grumbles), not a crisis; with ``announce`` the truth lists it as planned."""
    ev = EventSpec("launch_rush", "telvana", at(14), {"ramp_min": 10, "plateau_min": 60,
                   "decay_min": 20, "peak_multiple": 5, "negative_share": 0.4})  # fmt: skip
    sim, posts = run(["telvana"], 1440, [ev], announce=True)
    t = sim.truth[0]
    assert not t.is_crisis and t.severity == "watch"
    peak = window(sim, posts, "telvana", 14 * 60 + 10, 14 * 60 + 70)
    before = window(sim, posts, "telvana", 11 * 60, 14 * 60)
    assert peak["n"] > 3 * peak["expected"]
    assert peak["neg"] > before["neg"] + 0.15 and peak["neg"] < 0.5
    texts = " ".join(p["text"].lower() for p in posts if 850 <= minute_of(p) < 900)
    assert re.search(r"sold out|queue|crashed|timing out|drop", texts)
    planned = sim.truth_doc()["expected_events"]
    assert planned == [{"brand": "telvana", "kind": "launch", "from": "2026-11-23T14:00:00Z",
                        "to": "2026-11-23T16:10:00Z", "note": t.params["product"]}]  # fmt: skip
    plain, _ = run(["telvana"], 60)
    assert "expected_events" not in plain.truth_doc()  # truth files unchanged without it


def test_viral_complaint_many_reposts_of_one_post() -> None:
    ev = EventSpec("viral_complaint", "telvana", at(9), {"reposts": 2000})
    sim, posts = run(["telvana"], 12 * 60, [ev])
    reposts = Counter(p["repost_of"] for p in posts if p["repost_of"])
    origin, n = reposts.most_common(1)[0]
    assert n > 1000
    original = next(p for p in posts if p["post_id"] == origin)
    authors = {p["author"]["id"] for p in posts if p["repost_of"] == origin}
    assert len(authors) > 0.9 * n  # many distinct authors
    rt = [
        p for p in posts if p["text"] == f"RT @{original['author']['handle']}: {original['text']}"
    ]
    assert len(rt) > 200  # manual "RT @x:" copies too
    assert all(p["created_at"] > original["created_at"] for p in posts if p["repost_of"] == origin)
    assert sim.truth[0].is_crisis


def _shingles(t: str) -> set[str]:
    t = re.sub(r"https?://\S+|#\w+", "", t.lower())
    return {t[i : i + 5] for i in range(len(t) - 4)}


def test_copy_paste_campaign_near_identical_texts_many_authors() -> None:
    ev = EventSpec("copy_paste_campaign", "nimbus", at(16), {"authors": 400, "duration_min": 60})
    sim, posts = run(["nimbus"], 20 * 60, [ev])
    template = _shingles(sim.truth[0].params["text"])
    near = [
        p
        for p in posts
        if len(template & _shingles(p["text"])) / len(template | _shingles(p["text"])) > 0.6
    ]
    assert len({p["author"]["id"] for p in near}) > 300
    assert len({p["text"] for p in near}) > 0.8 * len(near)  # small edits: not exact copies
    assert all(16 * 60 <= minute_of(p) < 17 * 60 for p in near)


def test_bot_burst_few_low_follower_accounts_posting_a_lot() -> None:
    ev = EventSpec("bot_burst", "orbitel", at(11), {"bots": 5, "posts_per_bot": 80})
    sim, posts = run(["orbitel"], 16 * 60, [ev])
    t = sim.truth[0]
    assert not t.is_crisis and t.severity == "watch"
    bots = Counter(p["author"]["id"] for p in posts if sim.labels[p["post_id"]][3] == "bot_burst")
    assert len(bots) == 5 and min(bots.values()) > 40
    assert all(p["author"]["followers"] <= 25 for p in posts if p["author"]["id"] in bots)


def test_competitor_crisis_hits_the_competitor_not_the_named_brand() -> None:
    ev = EventSpec("competitor_crisis", "nexa", at(13), {"ramp_min": 10, "plateau_min": 90})
    sim, posts = run(["telvana", "orbitel", "nexa"], 1440, [ev])
    t = sim.truth[0]
    assert t.brand in ("telvana", "orbitel") and t.params["spillover_brand"] == "nexa"
    assert t.is_crisis
    comp = window(sim, posts, t.brand, 13 * 60 + 10, 13 * 60 + 100)
    named = window(sim, posts, "nexa", 13 * 60 + 10, 13 * 60 + 100)
    named_before = window(sim, posts, "nexa", 10 * 60, 13 * 60)
    assert comp["n"] > 2.5 * comp["expected"] and comp["neg"] > 0.5
    assert named["neg"] < named_before["neg"] + 0.1
    both = [p["text"] for p in posts if sim.labels[p["post_id"]][3] == "spillover"]
    b = BRANDS[t.brand]
    forms = [b.name.lower(), *(f"@{h}" for h in b.handles), *(f"#{h}" for h in b.hashtags)]
    two = np.mean([any(f in x.lower() for f in forms) for x in both])
    assert len(both) > 20 and two > 0.8  # comparison posts name both brands


def test_offtopic_texts_use_excluded_phrases() -> None:
    sim, posts = run(["nimbus"], 1440, offtopic_rate=0.2)
    off = [p["text"].lower() for p in posts if sim.labels[p["post_id"]][3] == "offtopic"]
    assert len(off) > 100
    assert all(any(x in t for x in BRANDS["nimbus"].exclude) for t in off)


def test_benign_bursts_raise_volume_but_not_negativity() -> None:
    sim, posts = run(["crunchly"], 3 * 1440, benign_bursts_per_day=2.0)
    assert len(sim.benign) >= 2 and sim.truth_doc()["benign_bursts"] == sim.benign
    checked = 0
    for b in sim.benign:
        lo = int((datetime.fromisoformat(b["start"]) - T0).total_seconds() // 60)
        hi = int((datetime.fromisoformat(b["end"]) - T0).total_seconds() // 60)
        w = window(sim, posts, "crunchly", lo, hi)
        if w["expected"] > 50:
            checked += 1
            assert w["n"] > 1.2 * w["expected"]
            assert w["neg"] < 0.4
    assert checked >= 1


def test_late_share_reorders_but_keeps_the_same_posts() -> None:
    _, on_time = run(["telvana", "crunchly"], 240)
    _, late = run(["telvana", "crunchly"], 240, late_share=0.05)
    assert sorted(map(post_json, on_time)) == sorted(map(post_json, late))
    t = [datetime.fromisoformat(p["created_at"].replace("Z", "+00:00")) for p in late]
    newest, behind = t[0], 0
    for x in t[1:]:
        behind += x < newest - timedelta(minutes=1)  # arrived after newer posts
        newest = max(newest, x)
    assert 0.01 < behind / len(t) < 0.1


def test_some_posts_are_not_english() -> None:
    sim, posts = run(["telvana"], 600, foreign_share=0.1)
    foreign = [p for p in posts if p["lang"] != "en"]
    assert {p["lang"] for p in foreign} == {"es", "de", "fr"}
    assert 0.05 < len(foreign) / len(posts) < 0.15
    assert all(sim.labels[p["post_id"]][0] == "" for p in foreign)


def test_random_events_do_not_overlap_per_brand() -> None:
    brands = list(BRANDS.values())
    specs = random_events(brands, T0, 4 * 7 * 1440, 32, seed=5)
    assert len(specs) == 32
    assert len({s.kind for s in specs}) >= 5
    sim = Simulator(Scenario(start=T0, minutes=4 * 7 * 1440, brands=brands, seed=5, events=specs))
    spans: dict[str, list[tuple[datetime, datetime]]] = {}
    for t in sim.truth:
        assert T0 <= t.start < t.end <= T0 + timedelta(weeks=4)
        involved = [t.brand, t.params.get("spillover_brand")]
        for b in filter(None, involved):
            assert all(t.end <= s or t.start >= e for s, e in spans.get(b, []))
            spans.setdefault(b, []).append((t.start, t.end))


# --- CLI -----------------------------------------------------------------------------------
def test_cli_writes_posts_and_truth(tmp_path: Path) -> None:
    out, truth, labels = tmp_path / "p.jsonl", tmp_path / "t.json", tmp_path / "l.jsonl"
    code = cmd.main(
        [
            "--days",
            "0.5",
            "--brands",
            "all",
            "--seed",
            "4",
            "--quiet",
            "--start",
            "2026-11-23T00:00Z",
            "--events",
            "product_defect:crunchly@03:00,launch_spike:pixelon@2026-11-23T05:00Z",
            "--random-events",
            "2",
            "--out",
            str(out),
            "--truth",
            str(truth),
            "--labels",
            str(labels),
        ]
    )
    assert code == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(labels.read_text().splitlines()) > 1000
    Post.model_validate_json(lines[0])
    doc = json.loads(truth.read_text())
    assert doc["seed"] == 4 and doc["scenario"]["minutes"] == 720
    assert len(doc["events"]) == 4
    for e in doc["events"]:
        assert set(e) == {"brand", "kind", "start", "end", "is_crisis", "severity", "params"}
        assert e["is_crisis"] == IS_CRISIS[e["kind"]] and e["brand"] in BRANDS
        assert e["start"].endswith("Z") and e["start"] < e["end"]
    assert doc["events"][0]["start"] == "2026-11-23T03:00:00Z"


def test_cli_brand_replies_and_a_brand_silent_during_its_crisis(tmp_path: Path) -> None:
    """--replies adds the official accounts' answers (a reply_to each, labelled brand_reply);
    --silent-during-crisis stops the crisis brand's answers inside its event, the others keep
    answering; the truth file lists every complaint with its first reply, as the posts show."""
    out, truth, labels = tmp_path / "p.jsonl", tmp_path / "t.json", tmp_path / "l.jsonl"
    base = [
        "--days",
        "0.3",
        "--brands",
        "telvana,orbitel",
        "--seed",
        "5",
        "--quiet",
        "--start",
        "2026-11-23T00:00Z",
        "--events",
        "product_defect:telvana@03:00",
    ]
    assert cmd.main([*base, "--silent-during-crisis", "15", "--out", str(out),
                     "--truth", str(truth), "--labels", str(labels)]) == 0  # fmt: skip
    posts = [json.loads(x) for x in out.read_text().splitlines()]
    doc = json.loads(truth.read_text())
    [event] = doc["events"]
    pol = doc["replies"]["policies"]
    assert pol["telvana"]["silent"] == [["2026-11-23T03:15:00Z", event["end"]]]
    assert pol["orbitel"]["silent"] == []
    officials = {"telvana_care": "telvana", "orbitel_care": "orbitel"}
    replies = [p for p in posts if p["author"]["handle"] in officials]
    assert replies and all(p["reply_to"] for p in replies)
    tel = [p["created_at"] for p in replies if p["author"]["handle"] == "telvana_care"]
    assert tel and not any("2026-11-23T03:15" <= t < event["end"] for t in tel)
    assert any(t < "2026-11-23T03:15" for t in tel) and any(t >= event["end"] for t in tel)
    orb = [p["created_at"] for p in replies if p["author"]["handle"] == "orbitel_care"]
    assert any("2026-11-23T03:15" <= t < event["end"] for t in orb)
    # ground truth: each answered complaint's first reply is in the stream, and only those
    first = {p["reply_to"]: p["created_at"] for p in reversed(replies)}
    complaints = doc["replies"]["complaints"]
    assert len(complaints) > 50
    assert {c["post_id"]: c["first_reply_at"] for c in complaints if c["first_reply_at"]} == first
    silenced = [c for c in complaints if c["brand"] == "telvana"
                and "2026-11-23T03:15" <= c["created_at"] < event["end"]]  # fmt: skip
    # only the long tail of delays reaches past the event's end
    assert len(silenced) > 20
    assert sum(c["first_reply_at"] is not None for c in silenced) < 0.2 * len(silenced)
    orb_c = [c for c in complaints if c["brand"] == "orbitel"]
    assert sum(c["first_reply_at"] is not None for c in orb_c) > 0.5 * len(orb_c)
    roles = Counter(json.loads(x)["role"] for x in labels.read_text().splitlines())
    assert roles["brand_reply"] == len(replies) and sum(roles.values()) == len(posts)
    # the crowd is the same with or without the replies
    assert cmd.main([*base, "--out", str(tmp_path / "crowd.jsonl")]) == 0
    crowd = (tmp_path / "crowd.jsonl").read_text().splitlines()
    assert crowd == [post_json(p) for p in posts if p["author"]["handle"] not in officials]
    assert cmd.main([*base, "--brands", "nexa", "--events", "", "--replies",
                     "--out", str(tmp_path / "n.jsonl")]) == 2  # fmt: skip


def test_cli_demo_preset_size(tmp_path: Path) -> None:
    out, truth = tmp_path / "demo.jsonl.gz", tmp_path / "t.json"
    assert cmd.main(["--preset", "demo", "--quiet", "--out", str(out), "--truth", str(truth)]) == 0
    with gzip.open(out, "rt", encoding="utf-8") as f:
        n = sum(1 for _ in f)
    assert 50_000 <= n <= 150_000
    kinds = sorted(e["kind"] for e in json.loads(truth.read_text())["events"])
    assert kinds == ["launch_spike", "product_defect"]


@pytest.mark.parametrize(
    "bad",
    [
        ["--events", "meltdown:telvana@10:00"],
        ["--events", "product_defect:nosuchbrand@10:00"],
        ["--events", "product_defect:telvana@25:99"],
        ["--brands", "99"],
        ["--brands", "crunchly", "--events", "competitor_crisis:crunchly@01:00"],
    ],
)
def test_cli_rejects_bad_input_with_clear_error(bad: list[str], tmp_path: Path, capsys) -> None:
    assert cmd.main(["--days", "0.1", "--quiet", "--out", str(tmp_path / "x.jsonl"), *bad]) == 2
    err = capsys.readouterr().err
    assert "crisis-radar simulate:" in err and "Traceback" not in err


def test_eval_preset_scenario_has_many_brand_weeks_of_random_events() -> None:
    args = cmd._parser().parse_args(
        ["--preset", "eval", "--weeks", "3", "--seed", "2", "--out", "-"]
    )
    sc = cmd.build_scenario(args)
    assert sc.minutes == 3 * 7 * 1440 and len(sc.brands) == len(BRANDS)
    assert len(sc.events) == 3 * len(BRANDS)  # ~1 per brand-week, leaving quiet weeks too
    again = cmd.build_scenario(args)
    assert [(e.kind, e.brand, e.start) for e in sc.events] == [
        (e.kind, e.brand, e.start) for e in again.events
    ]


def test_cli_needs_a_destination(capsys) -> None:
    assert cmd.main(["--days", "1"]) == 2
    assert "--out" in capsys.readouterr().err


@pytest.mark.stack
def test_cli_produces_to_real_kafka(kafka_bootstrap: str, topic_prefix: str) -> None:
    from kafka import KafkaConsumer

    topic = f"{topic_prefix}posts.raw"
    assert (
        cmd.main(
            [
                "--days",
                "0.02",
                "--brands",
                "2",
                "--seed",
                "9",
                "--quiet",
                "--kafka",
                "--topic",
                topic,
                "--bootstrap",
                kafka_bootstrap,
            ]
        )
        == 0
    )
    sc = Scenario(
        start=cmd.parse_time("2026-11-23T00:00Z"),
        minutes=28,
        brands=list(BRANDS.values())[:2],
        seed=9,
    )
    expected = {f"simulated:{p['post_id']}": post_json(p) for p in Simulator(sc).posts()}
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        auto_offset_reset="earliest",
        consumer_timeout_ms=5000,
        enable_auto_commit=False,
    )
    got = {m.key.decode(): m.value.decode() for m in consumer}
    consumer.close()
    assert len(expected) > 20
    assert got == expected
