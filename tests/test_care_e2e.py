"""Issue 18 acceptance on the real local stack: a brand that goes silent during its crisis.

``crisis-radar simulate --replies --silent-during-crisis 10``: telvana (renamed per run) answers
its complaints through its official account ``telvana_care`` and stops 10 minutes into its
product defect (10:00). The posts go through a real worker subprocess (``python -m streams``) on
an isolated topic prefix and database; Prometheus scrapes the worker (ports 8000-8002) and
evaluates the care rule; Alertmanager posts to the test webhook (127.0.0.1:5001).

Checked:
- within 2 minutes of event time (docs/response.md, "How fast silence shows"): with no post
  produced beyond SILENT_AT + 2 min + the allowed lateness, the worker's gauges and Prometheus
  already show the silence (no reply in the last closed minute, minutes since the last reply);
- the care rule pages: BrandNotAnswering reaches the webhook (severity care, the crisis desk);
- the worker path: the replies are in ``brand_replies`` (ClickHouse), never in ``posts``; the
  response figures are in ``brand_minutes`` and in the gauges;
- the replies never raise the brand's volume or negative share: every closed minute's volume
  and negative count in ``brand_minutes`` are those of the crowd posts stored in ``posts``.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from paging_support import Paging, renamed_watchlist

pytestmark = [pytest.mark.stack, pytest.mark.slow]
CRISIS_AT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
SILENT_AT = CRISIS_AT + timedelta(minutes=10)
LATENESS_S = 5
PACE_S = 1.0  # wall seconds per simulated minute from shortly before the crisis
SIM = [  # as tests/test_paging_e2e.py: ten quiet hours give the scorer its baselines
    "--days", "0.47", "--start", "2026-11-23T00:00Z", "--rate-scale", "1.5", "--seed", "0",
    "--events", "product_defect:{brand}@10:00",
    # fast answers before the silence, so that the brand visibly was answering
    "--silent-during-crisis", "10", "--reply-median", "120", "--reply-share", "0.9",
]  # fmt: skip


def _prom(url: str, expr: str) -> list[dict[str, Any]]:
    q = f"{url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(q, timeout=10) as resp:
        return list(json.load(resp)["data"]["result"])


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S")


def test_silent_brand_shows_within_two_minutes_and_pages(
    settings: Any, clickhouse: Any, worker_paging: Paging, tmp_path: Path
) -> None:
    from kafka import KafkaProducer

    from crisis_radar.clickhouse import migrate
    from crisis_radar.commands.simulate import _parser, build_scenario, reply_spec
    from crisis_radar.commands.simulate import run as simulate_run
    from streams import runner
    from streams.processing import load_brand_labels

    port, prometheus_url = worker_paging.port, worker_paging.prometheus_url
    tag = uuid.uuid4().hex[:6]  # fresh Alertmanager groups (paging_support.renamed_watchlist)
    brand, other = f"telvana{tag}", f"orbitel{tag}"
    watchlist = renamed_watchlist(
        settings.watchlist_path, tmp_path, {"telvana": brand, "orbitel": other}
    )
    settings = settings.model_copy(
        update={"metrics_port": port, "topic_partitions": 1, "allowed_lateness_s": LATENESS_S,
                "watchlist_path": watchlist}
    )  # fmt: skip
    migrate(settings)
    # simulated under the original ids (a brand's simulated profile depends on its id), read
    # by the worker under the run's ids: the posts name keywords and handles, never an id
    args = _parser().parse_args(
        [*(a.format(brand="telvana") for a in SIM), "--brands", "telvana,orbitel", "--out", "-"]
    )
    posts_file, truth_file = tmp_path / "posts.jsonl", tmp_path / "truth.json"
    simulate_run(build_scenario(args), str(posts_file), truth_file, replies=reply_spec(args))
    lines = posts_file.read_bytes().splitlines()
    docs = [json.loads(x) for x in lines]
    own = [d for d in docs if d["author"]["handle"] == "telvana_care"]
    assert own and all(_at(d) < SILENT_AT for d in own)  # silent to the end of the scenario
    assert sum(CRISIS_AT <= _at(d) < SILENT_AT for d in own) >= 3  # answering in the crisis
    n_own = len(own)
    # the first whole silent minute (SILENT_AT + 1) ends this many minutes after the last reply:
    # the worker's gauge says exactly that once that minute is closed, never before
    silent_at_t1 = (SILENT_AT + timedelta(minutes=2) - max(map(_at, own))) // timedelta(minutes=1)
    group, team = load_brand_labels(watchlist)[brand]
    labels = {"brand": brand, "group": group, "team": team}
    sel = f'brand="{brand}"'
    shows_after = SILENT_AT + timedelta(minutes=2, seconds=LATENESS_S)
    paced_from = CRISIS_AT - timedelta(minutes=3)

    def pages() -> list[tuple[float, dict[str, Any]]]:
        return worker_paging.pages(brand, "BrandNotAnswering")

    log = tmp_path / "worker.log"
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, linger_ms=5)
    topic = settings.topic("posts.raw")
    shown: dict[str, float] = {}
    with runner.running_worker(settings, log) as proc:
        runner.wait_ready(proc, port, log, timeout=60)
        current = None
        paused = False
        for line, d in zip(lines, docs, strict=True):
            t = _at(d)
            if not paused and t > shows_after:
                # Event time has just passed SILENT_AT + 2 min + lateness: produce nothing more
                # (an idle partition's clock moves at wall speed only after 10 s, and by the
                # idle time: < 1 min here) and the silence must already show.
                producer.send(topic, line)
                producer.flush()
                paused = True
                deadline = time.time() + 25
                while time.time() < deadline:
                    m = runner.scrape(port)
                    prom_silent = _prom(
                        prometheus_url, f"crisis_radar_brand_silent_minutes{{{sel}}}"
                    )
                    if (
                        runner.sample(m, "crisis_radar_brand_silent_minutes", **labels)
                        == silent_at_t1
                        and runner.sample(m, "crisis_radar_brand_reply_posts", **labels) == 0
                        and prom_silent and float(prom_silent[0]["value"][1]) == silent_at_t1
                    ):  # fmt: skip
                        shown = {k: runner.sample(m, f"crisis_radar_brand_{k}", **labels)
                                 for k in ("silent_minutes", "unanswered_complaints",
                                           "reply_posts", "severity")}  # fmt: skip
                        shown["own_posts"] = runner.sample(
                            m, "crisis_radar_brand_own_posts_total", brand=brand
                        )
                        break
                    assert proc.poll() is None, log.read_text()[-3000:]
                    time.sleep(0.5)
                assert shown, (
                    f"silence not shown with event time at {shows_after:%H:%M:%S}; worker "
                    f"gauges {[kv for kv in runner.scrape(port).items() if brand in str(kv[0])]}"
                )
                continue
            if t >= paced_from and d["created_at"][:16] != current:
                producer.flush()
                if pages():
                    break
                time.sleep(PACE_S)  # the previous simulated minute is over
                current = d["created_at"][:16]
            producer.send(topic, line)
        producer.flush()
        deadline = time.time() + 60
        while not pages() and time.time() < deadline:
            time.sleep(0.5)
        metrics = runner.scrape(port)
    producer.close()

    # the care rule paged through Alertmanager
    got = pages()
    assert got, (
        f"no BrandNotAnswering for {brand}; webhook got "
        f"{[a['labels'] for _, p in worker_paging.payloads for a in p.get('alerts', [])]}\n"
        f"worker log:\n{log.read_text()[-2000:]}"
    )
    _, page = got[0]
    assert page["labels"]["severity"] == "care" and page["labels"]["team"] == "crisis-desk"
    assert page["annotations"]["summary"].startswith(f"{brand}: no reply for ")
    assert page["annotations"]["care"] == f"crisis-radar care --brand {brand}"
    assert all(
        a["labels"]["alertname"] != "BrandNotAnswering" for _, a in worker_paging.alerts_for(other)
    )  # orbitel keeps answering
    # the gauges at the moment the silence showed: the brand was answering before
    assert shown["reply_posts"] == 0 and shown["own_posts"] > 0

    # ClickHouse: the worker's rows
    stored = clickhouse.execute(
        "SELECT post_id, reply_to, author_handle FROM brand_replies FINAL WHERE brand = %(b)s",
        {"b": brand},
    )
    assert len(stored) == n_own and {r[2] for r in stored} == {"telvana_care"}
    assert {r[0] for r in stored} == {d["post_id"] for d in own}
    assert all(r[1] for r in stored)
    [(in_posts,)] = clickhouse.execute(
        "SELECT count() FROM posts WHERE author_handle IN ('telvana_care', 'orbitel_care')"
    )
    assert in_posts == 0  # a reply is never a crowd post
    cut = SILENT_AT + timedelta(minutes=31)  # minutes long closed when the page came
    rows = clickhouse.execute(
        "SELECT minute, posts, negative, brand_replies, complaints, silent_min, unanswered_1h "
        "FROM brand_minutes FINAL WHERE brand = %(b)s AND minute < %(cut)s ORDER BY minute",
        {"b": brand, "cut": cut.replace(tzinfo=None)},
    )
    by_minute = {_utc(r[0]): r for r in rows}
    assert sum(r[3] for r in rows) == n_own  # every reply counted as a reply
    assert sum(r[3] for t, r in by_minute.items() if t >= SILENT_AT) == 0
    first = by_minute[SILENT_AT + timedelta(minutes=1)]
    assert first[3] == 0 and first[5] >= 1  # the first whole silent minute shows it
    at30 = by_minute[SILENT_AT + timedelta(minutes=30)]
    # the care condition; unanswered complaints pile up (at T + 1 they may not have risen yet:
    # the complaints of an hour ago drop out of the window as the new ones come in)
    assert at30[5] >= 30 and at30[6] >= 5 and at30[6] > first[6]
    # volume and negative share are the crowd's: per minute, what posts holds for the brand
    crowd = {
        _utc(t): (n, neg)
        for t, n, neg in clickhouse.execute(
            "SELECT toStartOfMinute(created_at) AS m, count(), countIf(sentiment_label = "
            "'negative') FROM posts FINAL WHERE brand = %(b)s AND created_at < %(cut)s "
            "GROUP BY m ORDER BY m",
            {"b": brand, "cut": cut.replace(tzinfo=None)},
        )
    }
    volume = {t: (r[1], r[2]) for t, r in by_minute.items() if r[1]}
    assert volume == crowd
    assert any(r[3] and r[1] for r in rows)  # minutes with both replies and crowd posts
    # the gauges of the last closed minute (a reply counter for every reply)
    assert runner.sample(metrics, "crisis_radar_brand_own_posts_total", brand=brand) == n_own
    print(
        f"\ncare e2e: silence shown at event time {shows_after:%H:%M:%S} (silent "
        f"{shown['silent_minutes']:.0f} min, {shown['unanswered_complaints']:.0f} unanswered, "
        f"severity {shown['severity']:.0f}); paged: {page['annotations']['summary']}"
    )


def _at(d: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(d["created_at"].replace("Z", "+00:00"))


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
