"""Post-crisis report (issue 8): pure numbers, and the acceptance test on real ClickHouse.

The acceptance test simulates a product defect on telvana (competitor orbitel in the same group),
scores it with the real detectors (Deduplicator, MinuteAggregator, CrisisScorer; sentiment comes
from the simulator's labels so it is deterministic), inserts posts/brand_minutes/alerts into the
per-test database and checks the report against the simulator's ground truth.
"""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from crisis_radar.report import timeline as tlm
from crisis_radar.report.timeline import Alert, Minute

T0 = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
CHROMIUM = Path("/usr/bin/chromium")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SCORE = {"negative": -0.6, "neutral": 0.0, "positive": 0.6}


def _m(i: int, posts: int, neg: int, sent: float | None = None) -> Minute:
    return Minute(T0 + timedelta(minutes=i), posts, neg, -0.5 * neg if sent is None else sent)


# ---------------------------------------------------------------- pure numbers (no services)


def test_timeline_milestones_on_a_hand_made_crisis() -> None:
    ms = [_m(i, 10 + i % 3, 2) for i in range(60)]  # quiet: 20% negative
    ms += [_m(60 + i, 40 + 10 * i, 30 + 8 * i) for i in range(5)]  # ramp
    ms += [_m(65 + i, 90 - 8 * i, 60 - 6 * i) for i in range(10)]  # decay from the peak at 65
    ms += [_m(75 + i, 10, 2) for i in range(30)]  # back to normal
    alerts = [
        Alert(T0 + timedelta(minutes=62), 2, T0 + timedelta(minutes=63, seconds=30)),
        Alert(T0 + timedelta(minutes=64), 3, T0 + timedelta(minutes=65, seconds=10)),
    ]
    tl = tlm.compute_timeline(ms, alerts, recover_minutes=5)
    assert tl.first_anomalous == T0 + timedelta(minutes=60)
    assert tl.detection == T0 + timedelta(minutes=62)
    assert tl.page == T0 + timedelta(minutes=65, seconds=10)
    assert tl.peak == T0 + timedelta(minutes=65) and tl.peak_posts == 90
    # pooled over 5 minutes: from 73 (12+6+6 of 74 posts, 32%) still out of the band, from 74
    # (6+2*4 of 58, 24%) within 2 binomial SE + 0.05 of the baseline 18%
    assert tl.recovery == T0 + timedelta(minutes=74)
    assert tl.delay(tl.detection) == 2.0
    before, during, after = tlm.phases(ms, tl)
    assert before.minutes == 60 and before.negative_share == pytest.approx(120 / 660)
    assert during.minutes == 14 and during.negative_share > 0.6
    assert after.minutes == 31 and after.negative_share == pytest.approx((6 + 30 * 2) / 318)
    assert before.mean_sentiment == pytest.approx(-0.5 * 120 / 660)


def test_no_recovery_while_sentiment_stays_bad() -> None:
    ms = [_m(i, 10, 2) for i in range(40)] + [_m(40 + i, 50, 40) for i in range(20)]
    tl = tlm.compute_timeline(ms, [Alert(T0 + timedelta(minutes=41), 3, T0)], recover_minutes=5)
    assert tl.first_anomalous == T0 + timedelta(minutes=40)
    assert tl.recovery is None
    assert [p.name for p in tlm.phases(ms, tl)] == ["before", "during", "after"]
    assert tlm.phases(ms, tl)[2].posts == 0


def test_missing_data_after_the_peak_is_not_a_recovery() -> None:
    ms = [_m(i, 10, 2) for i in range(40)] + [_m(40 + i, 60, 50) for i in range(5)]
    ms += [_m(45 + i, 0, 0) for i in range(30)]  # nothing stored yet (replay still running)
    tl = tlm.compute_timeline(ms, [Alert(T0 + timedelta(minutes=41), 3, T0)], recover_minutes=5)
    assert tl.peak == T0 + timedelta(minutes=40) and tl.recovery is None


def test_no_alert_uses_first_third_as_baseline_and_the_peak_as_anchor() -> None:
    ms = [_m(i, 10, 2) for i in range(90)]
    ms[70] = _m(70, 100, 90)
    tl = tlm.compute_timeline(ms, [], recover_minutes=3)
    assert tl.baseline_end == T0 + timedelta(minutes=30)
    assert tl.detection is None and tl.page is None
    assert tl.first_anomalous == tl.peak == T0 + timedelta(minutes=70)
    assert tl.recovery == T0 + timedelta(minutes=71)


def test_quiet_window_has_no_crisis_milestones() -> None:
    ms = [_m(i, 5, 1) for i in range(60)]
    tl = tlm.compute_timeline(ms, [])
    assert tl.first_anomalous is None and tl.recovery is None and tl.peak == T0
    before, during, after = tlm.phases(ms, tl)
    assert before.minutes == 60 and during.posts == after.posts == 0


def test_fill_gaps_gives_one_row_per_minute() -> None:
    got = tlm.fill_gaps([_m(2, 5, 1)], T0, T0 + timedelta(minutes=4))
    assert [(m.minute - T0) // timedelta(minutes=1) for m in got] == [0, 1, 2, 3]
    assert [m.posts for m in got] == [0, 0, 5, 0]


def test_rolling_pools_posts_not_minute_shares() -> None:
    ms = [_m(0, 1, 1, -1.0), _m(1, 0, 0), _m(2, 3, 0, 0.0)]
    got = tlm.rolling(ms, 2)
    assert [(t - T0) // timedelta(minutes=1) for t, _, _ in got] == [0, 1, 2]
    assert [share for _, share, _ in got] == [1.0, 1.0, 0.0]
    assert got[0][2] == -1.0 and tlm.rolling(ms, 3)[2][1] == 0.25


def test_top_terms_prefers_words_new_in_the_crisis() -> None:
    before = ["love my telvana plan", "telvana support was quick", "nice coverage today"] * 5
    during = [
        "telvana outage again, no signal",
        "outage all morning #telvanadown",
        "no signal since 9, outage",
        "refund me telvana",
    ] * 3
    terms = [t.term for t in tlm.top_terms(during, before, brand_words=["telvana"])]
    assert terms[0] == "outage"
    assert "signal" in terms and "telvana" not in terms and "the" not in terms


def test_render_escapes_text_and_embeds_only_data_uris() -> None:
    from crisis_radar.report.build import Report
    from crisis_radar.report.queries import TopPost
    from crisis_radar.report.render import html, markdown

    ms = [_m(i, 10, 2) for i in range(30)]
    tl = tlm.compute_timeline(ms, [])
    post = TopPost(T0, "x", "@a", 10, 1, "negative", "<script>alert(1)</script> a|b", "u")
    rep = Report(
        "acme",
        T0,
        T0 + timedelta(minutes=30),
        None,
        ms,
        [],
        tl,
        tlm.phases(ms, tl),
        [post],
        [],
        [],
        [],
        [],
        {"volume": PNG_MAGIC + b"x"},
    )
    page = html(rep)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert re.findall(r'src="([^"]*)"', page) == [
        "data:image/png;base64," + base64.b64encode(PNG_MAGIC + b"x").decode()
    ]
    md = markdown(rep)
    assert "![Volume](volume.png)" in md and "a\\|b" in md


# ---------------------------------------------------------------- acceptance (real ClickHouse)


def _simulate() -> tuple[list[Any], dict[str, Any], dict[str, Any]]:
    """Posts (pydantic Post), the simulator's labels and truth: 6 h, a defect at 09:00."""
    from crisis_radar.settings import get_settings
    from crisis_radar.simulate import EventSpec, Scenario, Simulator, load_brands
    from schemas.models import Post

    brands = [
        b for b in load_brands(get_settings().watchlist_path) if b.id in ("telvana", "orbitel")
    ]
    params = {
        "ramp_min": 10,
        "peak_multiple": 8.0,
        "plateau_min": 20,
        "decay_min": 15,
        "negative_share": 0.8,
    }
    sc = Scenario(
        start=T0,
        minutes=360,
        brands=brands,
        seed=7,
        authors=5000,
        benign_bursts_per_day=0.0,
        foreign_share=0.0,
        offtopic_rate=0.0,
        events=[EventSpec("product_defect", "telvana", T0 + timedelta(hours=3), params)],
    )
    sim = Simulator(sc, record_labels=True)
    posts = [Post.model_validate(p) for p in sim.posts()]
    assert sim.labels is not None
    return posts, sim.labels, sim.truth_doc()


def _score(
    posts: list[Any], labels: dict[str, Any], matcher: Any = None
) -> tuple[list[Any], list[Any], list[Any]]:
    """ScoredPosts, BrandMinutes and (minute, severity, score, summary) of severity changes.
    With a ``BrandMatcher``: brand replies (posts of official accounts) and ``addressed``, as
    the enrich stage decides them."""
    from detectors.aggregate import MinuteAggregator
    from detectors.crisis import CrisisScorer
    from detectors.dedup import Deduplicator
    from schemas.models import ScoredPost

    dedup, agg, scorer = (
        Deduplicator(horizon_s=6 * 3600, seed=0),
        MinuteAggregator(120),
        CrisisScorer(),
    )
    scored, minutes, changes = [], [], []
    for p in posts:
        own = matcher.official_of(p.platform, p.author.id, p.author.handle) if matcher else None
        if own is not None:  # the brand's own voice: a reply, never a crowd post
            sp = ScoredPost(
                post=p,
                brand=own,
                sentiment_label="neutral",
                sentiment_score=0.0,
                cluster_id=f"reply:{p.key}",
                is_duplicate=False,
                scored_at=p.created_at,
                brand_reply=True,
            )
            scored.append(sp)
            agg.add(sp)
            continue
        brand, label = labels[p.post_id][0], labels[p.post_id][1]
        if not brand:
            continue
        to = (
            matcher.addressed(p.text, p.mentions)
            if matcher and label == "negative" and p.repost_of is None
            else ()
        )
        d = dedup.process_one(p.text, p.author.id, p.created_at, p.repost_of, post_id=p.post_id)
        sp = ScoredPost(
            post=p,
            brand=brand,
            sentiment_label=label,
            sentiment_score=SCORE[label],
            cluster_id=d.cluster_id,
            is_duplicate=not d.is_first,
            cluster_size=d.cluster_size,
            cluster_authors=d.distinct_authors,
            campaign=d.campaign,
            scored_at=p.created_at,
            addressed=brand in to,
        )
        scored.append(sp)
        agg.add(sp)
        for bm in agg.advance(p.created_at):
            minutes.append(bm)
    minutes += agg.advance(posts[-1].created_at + timedelta(minutes=10))
    for bm in minutes:
        a = scorer.process_one(bm)
        if a.changed and a.severity > 0 and bm.version == 1:
            changes.append(a)
    return scored, minutes, changes


def _insert(client: Any, scored: list[Any], minutes: list[Any], changes: list[Any]) -> list[Any]:
    from detectors.crisis import alert_id
    from streams.rows import BRAND_REPLIES

    own = [s for s in scored if s.brand_reply]
    scored = [s for s in scored if not s.brand_reply]
    if own:
        client.execute(
            f"INSERT INTO brand_replies ({', '.join(BRAND_REPLIES.names)}) VALUES",
            [BRAND_REPLIES.slow_row(s) for s in own],
        )
    client.execute(
        "INSERT INTO posts (brand, created_at, post_key, platform, post_id, author_id, "
        "author_handle, followers, text, lang, url, reply_to, repost_of, hashtags, mentions, "
        "likes, reposts, replies, quotes, sentiment_label, sentiment_score, cluster_id, "
        "is_duplicate, cluster_size, cluster_authors, campaign, addressed, scored_at) VALUES",
        [
            (
                s.brand,
                s.post.created_at.replace(microsecond=0),
                f"simulated:{s.post.post_id}",
                s.post.platform,
                s.post.post_id,
                s.post.author.id,
                s.post.author.handle or "",
                s.post.author.followers or 0,
                s.post.text,
                s.post.lang or "",
                s.post.url or "",
                s.post.reply_to or "",
                s.post.repost_of or "",
                s.post.hashtags,
                s.post.mentions,
                s.post.engagement.likes,
                0,
                0,
                0,
                s.sentiment_label,
                s.sentiment_score,
                s.cluster_id,
                int(s.is_duplicate),
                s.cluster_size,
                s.cluster_authors,
                int(s.campaign),
                int(s.addressed),
                s.scored_at.replace(microsecond=0),
            )
            for s in scored
        ],
    )
    client.execute(
        "INSERT INTO brand_minutes (brand, minute, posts, unique_posts, unique_authors, negative,"
        " neutral, positive, sentiment_sum, reach, duplicates, campaign_posts, new_clusters, "
        "late_posts, version) VALUES",
        [
            (
                m.brand,
                m.minute,
                m.posts,
                m.unique_posts,
                m.unique_authors,
                m.negative,
                m.neutral,
                m.positive,
                m.sentiment_sum,
                m.reach,
                m.duplicates,
                m.campaign_posts,
                m.new_clusters,
                m.late_posts,
                m.version,
            )
            for m in minutes
        ],
    )
    rows = [
        (
            a.brand,
            a.minute,
            alert_id(a.brand, a.minute, a.severity),
            int(a.severity),
            a.severity.label,
            int(a.previous_severity),
            a.score,
            a.summary,
            "[]",
            "[]",
            [],
            "[]",
            a.minute + timedelta(minutes=3),
        )
        for a in changes
    ]  # closed after lateness
    client.execute(
        "INSERT INTO alerts (brand, minute, alert_id, severity, severity_label, "
        "previous_severity, score, summary, signals, top_posts, top_terms, top_clusters, "
        "created_at) VALUES",
        rows,
    )
    return rows


def _chromium_console_errors(html: Path, tmp: Path) -> tuple[Path, list[str]]:
    shot = tmp / "shot.png"
    proc = subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1200,2400",
            f"--screenshot={shot}",
            html.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )
    errors = [
        line
        for line in proc.stderr.splitlines()
        if "Uncaught" in line or ":CONSOLE(" in line or "ERR_FILE_NOT_FOUND" in line
    ]
    assert proc.returncode == 0, proc.stderr[-2000:]
    return shot, errors


@pytest.mark.stack
def test_report_of_a_simulated_crisis_matches_ground_truth(
    clickhouse: Any, clickhouse_database: str, settings: Any, tmp_path: Path
) -> None:
    from PIL import Image

    from crisis_radar.clickhouse import migrate
    from crisis_radar.report import write_report
    from crisis_radar.report.build import build_report

    migrate(settings, clickhouse_database)
    posts, labels, truth = _simulate()
    scored, minutes, changes = _score(posts, labels)
    alert_rows = _insert(clickhouse, scored, minutes, changes)
    event = truth["events"][0]
    ev_start = datetime.fromisoformat(event["start"].replace("Z", "+00:00"))
    ev_end = datetime.fromisoformat(event["end"].replace("Z", "+00:00"))
    start, end = T0, T0 + timedelta(hours=6)

    page = next(r for r in alert_rows if r[3] == 3)  # first crisis alert
    html = write_report(
        clickhouse,
        clickhouse_database,
        "telvana",
        start,
        end,
        tmp_path / "rep",
        alert_id=page[2],
        progress=lambda _: None,
    )
    rep = build_report(clickhouse, "telvana", start, end, page[2], progress=lambda _: None)
    tl = rep.timeline

    # Peak: the minute with the most telvana posts in the simulation, inside the event.
    per_minute = Counter(
        s.post.created_at.replace(second=0, microsecond=0) for s in scored if s.brand == "telvana"
    )
    assert tl.peak == min(t for t, c in per_minute.items() if c == max(per_minute.values()))
    assert ev_start <= tl.peak < ev_end
    # Detection: the first warning-or-worse alert of the real scorer, a few minutes in.
    first_warning = min(r[1] for r in alert_rows if r[3] >= 2)
    assert tl.detection == first_warning
    assert 0 <= (tl.detection - ev_start) / timedelta(minutes=1) <= 20
    assert tl.page == page[12]
    assert tl.first_anomalous is not None
    assert abs((tl.first_anomalous - ev_start) / timedelta(minutes=1)) <= 10
    assert tl.recovery is not None and tl.peak < tl.recovery <= ev_end + timedelta(minutes=30)
    # Sentiment before/during/after against what the simulator drew (labels = truth here).
    prof = truth["brands"]["telvana"]
    before, during, after = rep.phases
    assert before.negative_share == pytest.approx(prof["neg_share"], abs=0.06)
    assert during.negative_share > before.negative_share + 0.3
    assert abs(after.negative_share - before.negative_share) < 0.08
    lab = [
        labels[s.post.post_id][1]
        for s in scored
        if s.brand == "telvana" and s.post.created_at < tl.first_anomalous
    ]
    assert before.posts == len(lab)
    assert before.negative_share == pytest.approx(lab.count("negative") / len(lab))
    # The rest of the report is there and sane.
    assert rep.competitors and rep.competitors[0].brand == "orbitel"
    assert rep.competitors[0].during_negative_share < 0.5  # spillover, not a crisis
    assert rep.top_posts and rep.top_posts[0].followers >= rep.top_posts[-1].followers
    assert rep.terms and rep.clusters and all(c.authors >= 1 for c in rep.clusters)
    assert [p.platform for p in rep.platforms] == ["simulated"]
    # per language: what posts.lang holds for the window (the simulator's tag, '' -> und)
    langs = Counter(
        (s.post.lang or "und")
        for s in scored
        if s.brand == "telvana" and start <= s.post.created_at < end
    )
    assert [(x.lang, x.posts) for x in rep.languages] == sorted(
        langs.items(), key=lambda kv: (-kv[1], kv[0])
    )
    assert sum(x.negative for x in rep.languages) == sum(
        1
        for s in scored
        if s.brand == "telvana"
        and s.sentiment_label == "negative"
        and start <= s.post.created_at < end
    )
    assert "Posts per language" in html.read_text(encoding="utf-8")

    out = html.parent
    assert sorted(p.name for p in out.iterdir()) == [
        "competitors.png",
        "platforms.png",
        "report.html",
        "report.md",
        "sentiment.png",
        "volume.png",
    ]
    text = html.read_text(encoding="utf-8")
    srcs = re.findall(r'src="([^"]*)"', text)
    assert len(srcs) == 4 and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert "<link" not in text and "<script" not in text
    import matplotlib.image as mpimg

    for src in srcs:
        png = base64.b64decode(src.split(",", 1)[1])
        assert png.startswith(PNG_MAGIC)
        with Image.open(io.BytesIO(png)) as im:
            im.verify()
        assert mpimg.imread(io.BytesIO(png), format="png").shape[0] > 100
    md = (out / "report.md").read_text(encoding="utf-8")
    assert all(f"({stem}.png)" in md for stem in ("volume", "sentiment", "competitors"))
    assert f"{tl.peak:%Y-%m-%d %H:%M}" in md and f"{tl.peak:%Y-%m-%d %H:%M}" in text

    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium (apt-get install -y chromium) to open the HTML")
    shot, errors = _chromium_console_errors(html, tmp_path)
    assert errors == []
    assert shot.read_bytes().startswith(PNG_MAGIC)
    with Image.open(shot) as im:
        lo, hi = im.convert("L").getextrema()
        assert im.size[0] >= 1000 and hi - lo > 100  # not a blank page


def _simulate_with_replies() -> tuple[list[Any], dict[str, Any], dict[str, Any]]:
    """As ``_simulate``, and telvana and orbitel answer their complaints; telvana goes silent 10
    minutes into its crisis until the event ends (``crisis-radar simulate
    --silent-during-crisis 10``), then answers again."""
    from crisis_radar.settings import get_settings
    from crisis_radar.simulate import EventSpec, Scenario, Simulator, load_brands
    from crisis_radar.simulate.replies import BrandReplies, policies_for
    from schemas.models import Post

    brands = [
        b for b in load_brands(get_settings().watchlist_path) if b.id in ("telvana", "orbitel")
    ]
    params = {
        "ramp_min": 10,
        "peak_multiple": 8.0,
        "plateau_min": 30,
        "decay_min": 20,
        "negative_share": 0.8,
    }
    sc = Scenario(start=T0, minutes=540, brands=brands, seed=11, authors=5000, rate_scale=6.0,
                  benign_bursts_per_day=0.0, foreign_share=0.0, offtopic_rate=0.0,
                  events=[EventSpec("product_defect", "telvana", T0 + timedelta(hours=3),
                                    params)])  # fmt: skip
    sim = Simulator(sc, record_labels=True)
    assert sim.labels is not None
    answers = BrandReplies(brands, sim.labels, policies_for(brands, sim.truth, 0.8, 300.0, 10.0),
                           seed=11)  # fmt: skip
    posts = [Post.model_validate(p) for p in answers.run(sim.posts())]
    return posts, sim.labels, sim.truth_doc() | {"replies": answers.truth()}


@pytest.mark.stack
def test_report_response_section_matches_the_simulation(
    clickhouse: Any, clickhouse_database: str, settings: Any
) -> None:
    """Issue 18: "response before / during / after" against the simulation's ground truth: the
    complaints it recorded, each with its first reply time, cut at the report's own phases."""
    from statistics import median

    from crisis_radar.clickhouse import migrate
    from crisis_radar.report.build import build_report
    from crisis_radar.report.render import markdown
    from detectors.brands import BrandMatcher, Watchlist

    migrate(settings, clickhouse_database)
    posts, labels, truth = _simulate_with_replies()
    matcher = BrandMatcher(Watchlist.from_yaml(settings.watchlist_path))
    scored, minutes, changes = _score(posts, labels, matcher)
    _insert(clickhouse, scored, minutes, changes)
    start, end = T0, T0 + timedelta(hours=9)
    rep = build_report(clickhouse, "telvana", start, end, progress=lambda _: None)
    tl = rep.timeline
    assert tl.first_anomalous is not None and tl.recovery is not None

    def at(s: str) -> datetime:  # as stored: ClickHouse DateTime keeps whole seconds
        return datetime.fromisoformat(s.replace("Z", "+00:00")).replace(microsecond=0)

    def phase(t: datetime) -> str:
        assert tl.first_anomalous is not None and tl.recovery is not None
        return "before" if t < tl.first_anomalous else "during" if t < tl.recovery else "after"

    said = [c for c in truth["replies"]["complaints"] if c["brand"] == "telvana"]
    own = [
        t
        for p in posts
        if p.author.handle == "telvana_care" and (t := at(p.created_at.isoformat())) < end
    ]  # replies posted in the window
    by_phase = {p.name: p for p in rep.response}
    assert list(by_phase) == ["before", "during", "after"]
    for name, got in by_phase.items():
        mine = [c for c in said if phase(at(c["created_at"])) == name]
        delays = [(at(c["first_reply_at"]) - at(c["created_at"])).total_seconds()
                  for c in mine if c["first_reply_at"]]  # fmt: skip
        assert got.complaints == len(mine) > 5, name
        assert got.answered == len(delays), name
        assert got.answered_15m == sum(d <= 900 for d in delays), name
        assert got.answered_1h == sum(d <= 3600 for d in delays), name
        assert got.replies == sum(phase(t) == name for t in own), name
        if delays:
            assert got.median_first_response_s == pytest.approx(median(delays)), name
    before, during, after = rep.response
    # the silence shows: telvana answered most complaints before and after, few during
    assert before.answered_1h_share is not None and before.answered_1h_share > 0.6
    assert during.answered_1h_share is not None and during.answered_1h_share < 0.3
    assert after.answered_1h_share is not None and after.answered_1h_share > 0.6
    assert during.replies_per_complaint is not None and before.replies_per_complaint is not None
    assert during.replies_per_complaint < before.replies_per_complaint
    # replies never count as crowd posts: the report's volume is the crowd's
    crowd = Counter(s.post.created_at.replace(second=0, microsecond=0) for s in scored
                    if s.brand == "telvana" and not s.brand_reply)  # fmt: skip
    assert {m.minute: m.posts for m in rep.minutes if m.posts} == dict(crowd)
    md = markdown(rep)
    assert "## Response before / during / after" in md
    assert f"| during | {during.complaints} |" in md


@pytest.mark.stack
def test_report_command_with_latest_alert_and_errors(
    clickhouse: Any,
    clickhouse_database: str,
    settings: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from crisis_radar.clickhouse import migrate
    from crisis_radar.commands import report as cmd
    from crisis_radar.settings import get_settings

    migrate(settings, clickhouse_database)
    monkeypatch.setenv("CRISIS_RADAR_CLICKHOUSE_DATABASE", clickhouse_database)
    get_settings.cache_clear() if hasattr(get_settings, "cache_clear") else None
    assert cmd.main(["--alert", "latest", "--out", str(tmp_path / "a")]) == 1
    assert "no alert 'latest'" in capsys.readouterr().err
    minute = T0 + timedelta(hours=1)
    clickhouse.execute(
        "INSERT INTO brand_minutes (brand, minute, posts, negative, sentiment_sum) VALUES",
        [
            (
                "telvana",
                T0 + timedelta(minutes=i),
                10 if i != 60 else 90,
                2 if i != 60 else 80,
                -1.0,
            )
            for i in range(120)
        ],
    )
    clickhouse.execute(
        "INSERT INTO alerts (brand, minute, alert_id, severity, summary, created_at) VALUES",
        [("telvana", minute, "a1", 3, "telvana: crisis", minute + timedelta(minutes=2))],
    )
    assert (
        cmd.main(
            [
                "--alert",
                "latest",
                "--out",
                str(tmp_path / "b"),
                "--before",
                "60",
                "--after",
                "60",
                "--database",
                clickhouse_database,
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out.strip()
    assert printed == str(tmp_path / "b" / "report.html")
    assert "2026-11-23 07:00 UTC (90 posts)" in Path(printed).read_text(encoding="utf-8")
    assert (
        cmd.main(
            [
                "--brand",
                "telvana",
                "--from",
                "2026-11-23T08:00Z",
                "--to",
                "2026-11-23T07:00Z",
                "--database",
                clickhouse_database,
            ]
        )
        == 2
    )
    assert cmd.main(["--brand", "x", "--database", "bad-name"]) == 2
    capsys.readouterr()
    # a brand neither stored nor watched (a typo): one line naming the brands there are
    assert (
        cmd.main(
            ["--brand", "telvanna", "--out", str(tmp_path / "c"), "--database", clickhouse_database]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "no brand 'telvanna'" in err and "brands with data: telvana" in err
    assert not (tmp_path / "c").exists()
    # a watched brand with nothing stored yet still gets its (quiet) report
    assert (
        cmd.main(
            [
                "--brand",
                "orbitel",
                "--out",
                str(tmp_path / "d"),
                "--from",
                "2026-11-23T06:00Z",
                "--to",
                "2026-11-23T07:00Z",
                "--database",
                clickhouse_database,
            ]
        )
        == 0
    )
    shutil.rmtree(tmp_path / "b")


def _insert_100k_posts(client: Any, minute: datetime) -> None:
    """100k post rows in the 10 minutes around ``minute``: one columnar insert (~0.2 s)."""
    n = 100_000
    cols = [
        "brand",
        "created_at",
        "post_key",
        "platform",
        "post_id",
        "author_id",
        "text",
        "sentiment_label",
        "sentiment_score",
        "cluster_id",
        "scored_at",
    ]
    times = [minute + timedelta(seconds=(i * 600) // n - 300) for i in range(n)]
    data = [
        ["telvana"] * n,
        times,
        [f"k{i}" for i in range(n)],
        ["simulated"] * n,
        [str(i) for i in range(n)],
        [f"a{i % 9000}" for i in range(n)],
        [f"telvana outage number {i % 500}" for i in range(n)],
        ["negative" if i % 3 else "neutral" for i in range(n)],
        [-0.6 if i % 3 else 0.0 for i in range(n)],
        [f"c{i % 500}" for i in range(n)],
        times,
    ]
    client.execute(f"INSERT INTO posts ({', '.join(cols)}) VALUES", data, columnar=True)


@pytest.mark.stack
def test_explain_with_100k_posts_in_the_alert_window(
    clickhouse: Any,
    clickhouse_database: str,
    settings: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Issue 8 wants explain within 1 s at 100k posts: bench/explain.py measures that; here only
    a generous bound (10 s) so a loaded shared CI machine does not make the test flaky."""
    import time

    from crisis_radar.clickhouse import migrate
    from crisis_radar.commands import explain

    migrate(settings, clickhouse_database)
    minute = T0 + timedelta(hours=2)
    _insert_100k_posts(clickhouse, minute)
    clickhouse.execute(
        "INSERT INTO alerts (brand, minute, alert_id, severity, summary, top_terms, created_at)"
        " VALUES",
        [("telvana", minute, "big", 3, "telvana: crisis", ["outage"], minute)],
    )
    t = time.perf_counter()
    rc = explain.main(["--alert-id", "big", "--database", clickhouse_database])
    elapsed = time.perf_counter() - t
    out = capsys.readouterr().out
    assert rc == 0 and "telvana: crisis" in out and "outage" in out
    assert elapsed < 10
    assert explain.main(["--alert-id", "latest", "--database", clickhouse_database]) == 0
    assert "id big)" in capsys.readouterr().out


def test_timeline_doctest() -> None:
    import doctest

    assert doctest.testmod(tlm).failed == 0


# ---------------------------------------------------------------- same report on current ClickHouse


class _ChdbClient:
    """chdb (current ClickHouse, in-process) in the call shape the report uses. Values are
    escaped by clickhouse-driver's own escaping (what the native client does before sending)."""

    def __init__(self, db: Any) -> None:
        self.db = db

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        import json

        from clickhouse_driver.util.escape import escape_params

        if params:
            sql = sql % escape_params(params, None)
        out = self.db._s.query(sql, "JSONCompact")
        text = out.bytes().decode()
        if not text.strip():
            return []
        doc = json.loads(text)
        conv = [_conv(m["type"]) for m in doc["meta"]]
        return [tuple(c(v) for c, v in zip(conv, row, strict=True)) for row in doc["data"]]


def _conv(ch_type: str) -> Any:
    if ch_type.startswith("DateTime"):
        return lambda v: datetime.strptime(v, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    if "Int" in ch_type:
        return int
    if "Float" in ch_type:
        return float
    return lambda v: v


@pytest.mark.stack
def test_report_numbers_equal_on_18_16_and_current_clickhouse(
    stack: Any, clickhouse: Any, clickhouse_database: str
) -> None:
    """tests/sqlcheck.py's seeded data set (telvana turns at 10:30) on both servers: the report's
    SQL must run on both and give the same numbers."""
    pytest.importorskip("chdb", reason="chdb not installed: pip install -e '.[sqlcheck]'")
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from sqlcheck import T0 as S0
    from sqlcheck import Chdb, ClickHouseHttp, seed_statements

    from crisis_radar.report.build import build_report

    stmts = seed_statements()
    ClickHouseHttp(
        stack.base.clickhouse_host, stack.base.clickhouse_http_port, clickhouse_database
    ).run_all(stmts)
    current = Chdb()
    try:
        current.run_all(stmts)
        reps = [
            build_report(c, "telvana", S0, S0 + timedelta(hours=3), progress=lambda _: None)
            for c in (clickhouse, _ChdbClient(current))
        ]
    finally:
        current.close()
    old, new = reps
    assert old.timeline.first_anomalous is not None and old.timeline.peak is not None
    assert old.timeline == new.timeline
    assert old.minutes == new.minutes and old.phases == new.phases
    assert old.top_posts == new.top_posts and old.competitors == new.competitors
    assert old.terms == new.terms
    # complaints joined to their first reply (ANY LEFT JOIN, a miss read by n_replies)
    assert old.response == new.response and sum(p.complaints for p in old.response) == 180
    assert sum(p.answered for p in old.response) == sum(p.replies for p in old.response) == 54
    assert [(c.cluster_id, c.posts, c.authors, c.campaign, c.reach) for c in old.clusters] == [
        (c.cluster_id, c.posts, c.authors, c.campaign, c.reach) for c in new.clusters
    ]
    assert [(p.platform, p.posts, p.negative) for p in old.platforms] == [
        (p.platform, p.posts, p.negative) for p in new.platforms
    ]
    assert [p.mean_sentiment for p in old.platforms] == pytest.approx(
        [p.mean_sentiment for p in new.platforms], abs=1e-5
    )


def test_page_time_of_a_replay_is_the_end_of_the_deciding_minute() -> None:
    from crisis_radar.report.timeline import Alert, page_time

    minute = datetime(2026, 11, 23, 10, 3, tzinfo=UTC)
    live = Alert(minute, 3, minute + timedelta(minutes=1, seconds=4))
    replay = Alert(minute, 3, minute + timedelta(hours=6, minutes=28))
    assert page_time(live) == live.created_at
    assert page_time(replay) == minute + timedelta(minutes=1)


# ---------------------------------------------------------------- fonts (issue 19)
# Posts quote emoji and every script. Each probe is rendered by Debian's chromium in the report's
# HTML, then again with as many codepoints that no font has (U+0378: unassigned, drawn as the
# empty box, "tofu"). Missing fonts draw the probe as the same boxes: identical pixels.
NO_GLYPH = "\u0378"
PROBES = {
    "emoji": "\U0001f525\U0001f621\U0001f44d",  # fire, pouting face, thumbs up
    "arabic": "\u0627\u0646\u0642\u0637\u0627\u0639",  # "outage"
    "cjk": "\u670d\u52a1\u4e2d\u65ad",  # "service outage" (Chinese)
}


def _shot_of_post(text: str, tmp: Path, name: str) -> Any:
    """Screenshot (RGB pixels) of a report whose one top post says ``text``."""
    from PIL import Image

    from crisis_radar.report.build import Report
    from crisis_radar.report.queries import TopPost
    from crisis_radar.report.render import html

    ms = [_m(i, 10, 2) for i in range(30)]
    tl = tlm.compute_timeline(ms, [])
    post = TopPost(T0, "x", "@a", 10, 1, "negative", text, "u")
    rep = Report("acme", T0, T0 + timedelta(minutes=30), None, ms, [], tl, tlm.phases(ms, tl),
                 [post], [], [], [], [], {})  # fmt: skip
    page = tmp / f"{name}.html"
    page.write_text(html(rep), encoding="utf-8")
    shot = tmp / f"{name}.png"
    proc = subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={tmp / ('profile-' + name)}",
         "--hide-scrollbars", "--window-size=1000,1200", f"--screenshot={shot}", page.as_uri()],
        capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    with Image.open(shot) as im:
        return im.convert("RGB")


def _colourful(im: Any) -> int:
    """Pixels with a strong colour (the report's text, borders and headers are grey)."""
    import numpy as np

    hsv = np.asarray(im.convert("HSV"))
    return int(((hsv[..., 1] > 100) & (hsv[..., 2] > 60)).sum())


@pytest.mark.parametrize("script", sorted(PROBES))
def test_report_renders_emoji_and_non_latin_text_not_tofu(script: str, tmp_path: Path) -> None:
    from PIL import ImageChops

    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium (crisis-radar stack test-tools) to render the HTML")
    probe = PROBES[script]
    glyphs = _shot_of_post(probe, tmp_path, "glyphs")
    tofu = _shot_of_post(NO_GLYPH * len(probe), tmp_path, "tofu")
    box = ImageChops.difference(glyphs, tofu).getbbox()
    assert box is not None, f"{script} drawn as empty boxes: no font for {probe!r}"
    if script == "emoji":  # drawn by a colour emoji font, not a monochrome fallback
        assert _colourful(tofu) == 0
        assert _colourful(glyphs.crop(box)) > 50, "emoji drawn without colour"


def test_charts_draw_non_latin_text_with_a_font_that_has_it() -> None:
    """Matplotlib warns "Glyph ... missing from font(s)" and draws a box for a character none
    of its fonts has: the charts' font fallback chain must cover these labels."""
    import warnings

    from crisis_radar.report.charts import platform_chart

    names = [f"{script} {probe}" for script, probe in sorted(PROBES.items())]
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # "Glyph N missing from font(s) ..."
        png = platform_chart(names, [3, 2, 1], [1, 1, 0])
    assert png.startswith(PNG_MAGIC)
