"""Issue 18: the brand's own voice and its response figures, through the worker's own stages
(``OfflinePipeline``: enrich, aligned minute windows, crisis scoring), on simulated brands that
answer (``crisis_radar.simulate.replies``) and one that goes silent during a crisis."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from functools import cache
from statistics import median
from typing import Any

import pytest

from crisis_radar.settings import PROJECT_ROOT, Settings
from crisis_radar.simulate import EventSpec, Scenario, Simulator, load_brands, post_json
from crisis_radar.simulate.replies import BrandReplies, ReplyPolicy
from detectors.response import ResponseTracker
from schemas.models import BrandMinute
from schemas.watchlist import WatchlistError, parse_watchlist

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
CRISIS_AT = T0 + timedelta(minutes=120)
SILENT_AT = CRISIS_AT + timedelta(minutes=10)  # telvana stops answering 10 min into its crisis
MINUTES = 300
WATCHLIST = PROJECT_ROOT / "deploy" / "watchlist.yaml"


def simulate(replies: bool, silent: bool = True, seed: int = 3) -> tuple[list[str], dict[str, Any]]:
    """Post lines (event-time order) of telvana (a product defect at CRISIS_AT) and orbitel."""
    brands = [b for b in load_brands(WATCHLIST) if b.id in ("telvana", "orbitel")]
    sc = Scenario(
        start=T0, minutes=MINUTES, brands=brands, seed=seed, benign_bursts_per_day=0, rate_scale=6,
        events=[EventSpec("product_defect", "telvana", CRISIS_AT,
                          {"ramp_min": 8, "peak_multiple": 10, "decay_min": 120})],
    )  # fmt: skip
    sim = Simulator(sc, record_labels=True)
    assert sim.labels is not None
    quiet = ((SILENT_AT, T0 + timedelta(minutes=MINUTES + 600)),) if silent else ()
    policies = {
        "telvana": ReplyPolicy(answer_share=0.8, median_s=300, silent=quiet),
        "orbitel": ReplyPolicy(answer_share=0.6, median_s=600),
    }
    br = BrandReplies(brands, sim.labels, policies if replies else {}, seed=seed)
    lines = [post_json(p) for p in br.run(sim.posts())]
    return lines, br.truth() | {"events": sim.truth_doc()["events"]}


def _key(line: str) -> bytes:
    d = json.loads(line)  # as ingest and replay_posts key posts.raw
    return f"{d['platform']}:{d['post_id']}".encode()


def replay(lines: list[str]) -> tuple[dict[tuple[str, datetime], BrandMinute], list[Any]]:
    from crisis_radar.history.offline import OfflinePipeline

    pipe = OfflinePipeline.from_settings(Settings(), child=False)
    minutes: list[BrandMinute] = []
    assessed: list[Any] = []
    # one batch per event minute: the same crowd posts in the same batches with or without the
    # replies (the cluster table's LRU order depends on how partitions interleave in a batch)
    batches: dict[str, list[str]] = {}
    for ln in lines:
        batches.setdefault(json.loads(ln)["created_at"][:16], []).append(ln)
    for batch in batches.values():
        step = pipe.feed([(_key(ln), ln.encode()) for ln in batch])
        minutes += step.minutes
        assessed += step.assessed
    end = pipe.finish()
    minutes += end.minutes
    assessed += end.assessed
    last: dict[tuple[str, datetime], BrandMinute] = {}
    for m in minutes:  # the latest version of each minute, as ClickHouse FINAL reads
        if (m.brand, m.minute) not in last or m.version >= last[(m.brand, m.minute)].version:
            last[(m.brand, m.minute)] = m
    return last, assessed


@cache
def runs() -> dict[str, Any]:
    with_lines, truth = simulate(replies=True)
    without_lines, _ = simulate(replies=False)
    return {
        "with": replay(with_lines),
        "without": replay(without_lines),
        "truth": truth,
        "n_replies": len(with_lines) - len(without_lines),
    }


CROWD = ("posts", "unique_posts", "unique_authors", "negative", "neutral", "positive", "reach",
         "duplicates", "campaign_posts", "new_clusters", "burst_term_posts")  # fmt: skip


def test_replies_never_raise_volume_or_negative_share() -> None:
    r = runs()
    with_, without = r["with"][0], r["without"][0]
    assert r["n_replies"] > 50
    assert sum(m.brand_replies for m in with_.values()) == r["n_replies"]
    assert sum(m.brand_replies for m in without.values()) == 0
    assert without.keys() <= with_.keys()  # replies after the last crowd post add quiet minutes
    assert all(m.posts == 0 for k, m in with_.items() if k not in without)
    for key, w in without.items():
        m = with_[key]
        assert [getattr(m, f) for f in CROWD] == [getattr(w, f) for f in CROWD], key
        assert (
            m.negative_share == w.negative_share and abs(m.sentiment_sum - w.sentiment_sum) < 1e-6
        )
    # and detection sees the same minutes: same severities and scores
    scored = [
        {(x.minute.brand, x.minute.minute): (x.severity, round(x.score, 9)) for x in run[1]}
        for run in (r["with"], r["without"])
    ]
    assert {k: scored[0][k] for k in scored[1]} == scored[1]
    assert any(sev >= 2 for sev, _ in scored[1].values())  # telvana's crisis was detected


def test_silent_brand_shows_in_the_response_figures_within_two_minutes() -> None:
    """Event time: the minute that closes first after the silence starts (SILENT_AT's minute + 1,
    emitted once the watermark passes its end + the allowed lateness) already shows no reply
    and the unanswered complaints rising; the care condition (30 min) follows on event time."""
    minutes = runs()["with"][0]
    tel = [minutes[k] for k in sorted(minutes) if k[0] == "telvana"]
    before = [m for m in tel if CRISIS_AT <= m.minute < SILENT_AT]
    assert sum(m.brand_replies for m in before) >= 5  # it was answering during the crisis
    first = minutes[("telvana", SILENT_AT + timedelta(minutes=1))]
    assert first.brand_replies == 0 and first.silent_min >= 1
    prior = minutes[("telvana", SILENT_AT - timedelta(minutes=1))]
    assert first.unanswered_1h > prior.unanswered_1h
    after = [m for m in tel if m.minute >= SILENT_AT + timedelta(minutes=1)]
    assert all(m.brand_replies == 0 for m in after)
    at30 = minutes[("telvana", SILENT_AT + timedelta(minutes=31))]
    assert at30.silent_min >= 30 and at30.unanswered_1h >= 5
    # 15 min after the silence, complaints fall due unanswered
    late = minutes[("telvana", SILENT_AT + timedelta(minutes=20))]
    assert late.due_15m > 0 and late.answered_15m == 0
    # orbitel keeps answering
    orb = [m for (b, _), m in sorted(minutes.items()) if b == "orbitel" and m.minute > SILENT_AT]
    assert sum(m.brand_replies for m in orb) > 0 and max(m.silent_min for m in orb) < 30


def test_response_figures_match_the_ground_truth() -> None:
    """Before the silence: the median first-response time the pipeline measures is that of the
    simulation's replies (the pipeline's complaints are those the model also finds negative)."""
    r = runs()
    minutes = r["with"][0]
    last_due = T0 + timedelta(minutes=MINUTES - 61)  # later complaints fall due after the run
    due_by = last_due.strftime("%Y-%m-%dT%H:%M")
    truth = [
        c for c in r["truth"]["complaints"]
        if c["brand"] == "orbitel" and c["created_at"][:16] < due_by
    ]  # fmt: skip
    parse = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
    delays = [
        (parse(c["first_reply_at"]) - parse(c["created_at"])).total_seconds()
        for c in truth if c["first_reply_at"]
    ]  # fmt: skip
    measured = sum(
        m.responses_1h for (b, t), m in minutes.items() if b == "orbitel" and t.minute == 0
    )
    assert measured > 0
    answered = sum(m.answered_1h for (b, _), m in minutes.items() if b == "orbitel")
    due = sum(m.due_1h for (b, _), m in minutes.items() if b == "orbitel")
    in_1h = sum(
        1 for c, d in zip(truth, delays_all(truth), strict=True) if d is not None and d <= 3600
    )
    # the pipeline's complaints are those its model also finds negative: every answer it counts
    # is one of the simulation's, and it finds most of them
    assert due > 20 and 0.6 * in_1h <= answered <= in_1h
    meds = [
        m.response_median_s
        for (b, _), m in minutes.items()
        if b == "orbitel" and m.responses_1h >= 5
    ]
    assert meds and abs(median(meds) - median(delays)) / median(delays) < 0.35


def delays_all(truth: list[dict[str, Any]]) -> list[float | None]:
    def parse(s: str) -> datetime:
        return datetime.fromisoformat(s.replace("Z", "+00:00"))

    return [
        (parse(c["first_reply_at"]) - parse(c["created_at"])).total_seconds()
        if c["first_reply_at"] else None
        for c in truth
    ]  # fmt: skip


def test_tracker_is_deterministic_on_event_time() -> None:
    """The same posts in another arrival order (a reply before its complaint) give the same
    figures."""
    t0 = T0
    posts = [
        (t0 + timedelta(seconds=5), "x:c1", None, False, True),
        (t0 + timedelta(seconds=30), "x:c2", "x:b0", False, False),  # replies to a brand post
        (t0 + timedelta(seconds=2), "x:b0", None, True, False),
        (t0 + timedelta(minutes=3), "x:r1", "x:c1", True, False),
        (t0 + timedelta(minutes=20), "x:r2", "x:c2", True, False),
    ]

    def run(order: list[int]) -> list[Any]:
        tr = ResponseTracker()
        for i in order:
            at, key, to, reply, complaint = posts[i]
            tr.add(at, key, to, reply=reply, complaint=complaint)
        return [tr.close(t0 + timedelta(minutes=k)) for k in range(80)]

    a, b = run([0, 1, 2, 3, 4]), run([4, 3, 2, 1, 0])
    assert a == b
    assert a[0].complaints == 2
    assert (a[15].due_15m, a[15].answered_15m) == (2, 1)  # c2 answered after 19.5 min
    assert (a[60].due_1h, a[60].answered_1h) == (2, 2)


def test_official_accounts_are_validated() -> None:
    base = {"id": "acme", "keywords": ["acme"]}
    ok = parse_watchlist(
        [base | {"official": {"x": ["@AcmeHelp"], "bluesky": ["acme.bsky.social"]}}]
    )
    assert ok.brands[0].official == {"x": ("acmehelp",), "bluesky": ("acme.bsky.social",)}
    for bad, says in (
        ({"twitter": ["a"]}, "unknown platform 'twitter'; allowed: bluesky"),
        ({"x": []}, "x: empty list"),
        (["acmehelp"], "Input should be a valid dictionary, got ['acmehelp']"),
    ):
        with pytest.raises(WatchlistError, match=r"brands\[0\]\.official") as e:
            parse_watchlist([base | {"official": bad}])
        assert says in str(e.value)
    with pytest.raises(WatchlistError, match="speaks for one brand"):
        parse_watchlist([base | {"official": {"x": ["s"]}},
                         {"id": "b", "keywords": ["b"], "official": {"x": ["S"]}}])  # fmt: skip


def test_care_unknown_brand_is_one_line_exit_2() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "crisis_radar.cli", "care", "--brand", "nosuchbrand"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "unknown brand 'nosuchbrand'" in lines[0], proc.stderr
    assert proc.stdout == ""
