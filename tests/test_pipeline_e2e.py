"""End to end on the real stack: a small simulated crisis through a worker subprocess.

posts.raw of an isolated topic prefix -> worker -> crisis.alerts, ClickHouse (isolated database),
/metrics. About 2k posts over 4 simulated hours; a product defect on telvana at 08:30.
"""

from __future__ import annotations

import json
import pickle
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crisis_radar.clickhouse import migrate
from crisis_radar.commands.simulate import _parser as simulate_parser
from crisis_radar.commands.simulate import build_scenario
from crisis_radar.commands.simulate import run as simulate_run
from crisis_radar.stack._proc import free_port
from schemas.models import Post, Severity
from streams import runner
from streams.processing import load_brand_labels

pytestmark = [pytest.mark.stack, pytest.mark.slow]
CRISIS_AT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
# Ten quiet hours teach the detectors each brand's baseline; the defect starts at 10:00.
SIM_ARGS = [
    "--days",
    "0.47",
    "--brands",
    "telvana,orbitel",
    "--start",
    "2026-11-23T00:00Z",
    "--events",
    "product_defect:telvana@10:00",
    "--rate-scale",
    "1.5",
    "--seed",
    "0",
]


def expected_pairs(path: Path, watchlist: Path) -> int:
    """(post, brand) pairs the matcher finds in the valid input: the posts table's row count."""
    from detectors.brands import BrandMatcher, Watchlist

    matcher = BrandMatcher(Watchlist.from_yaml(watchlist))
    n = 0
    for line in path.read_text().splitlines():
        p = Post.model_validate(json.loads(line))
        n += len(matcher.match(p.text, p.lang, p.hashtags, p.mentions))
    return n


def test_simulated_crisis_end_to_end(settings, clickhouse, tmp_path: Path) -> None:
    # One partition per topic keeps event order through every hop of a replay as fast as this
    # (docs/architecture.md, "Event time"); the partitioned path is covered by the same code.
    settings = settings.model_copy(update={"metrics_port": free_port(), "topic_partitions": 1})
    migrate(settings)
    scenario = build_scenario(simulate_parser().parse_args([*SIM_ARGS, "--out", "-"]))
    posts_file = tmp_path / "posts.jsonl"
    log = tmp_path / "worker.log"
    with runner.running_worker(settings, log) as proc:
        runner.wait_ready(proc, settings.metrics_port, log, timeout=60)
        n = simulate_run(
            scenario,
            str(posts_file),
            None,
            settings.topic("posts.raw"),
            bootstrap=settings.kafka_bootstrap,
        )
        want = expected_pairs(posts_file, settings.watchlist_path)
        deadline = time.monotonic() + 90
        alerts, stored = [], -1
        while time.monotonic() < deadline:
            alerts = [a for a in runner.read_alerts(settings) if a.brand == "telvana"]
            stored = clickhouse.execute("SELECT count() FROM posts FINAL")[0][0]
            if stored >= want and any(a.severity >= Severity.WARNING for a in alerts):
                break
            assert proc.poll() is None, log.read_text()[-3000:]
            time.sleep(1)
        # Consumer lag is set by a 5 s timer: a fast run can be done before its first tick.
        lag_deadline = time.monotonic() + 20
        while True:
            metrics = runner.scrape(settings.metrics_port)
            if any(name == "crisis_radar_consumer_lag" for name, _ in metrics):
                break
            if time.monotonic() > lag_deadline:
                break
            time.sleep(1)
    assert n > 1000
    hot = [a for a in alerts if a.severity >= Severity.WARNING]
    assert hot, f"no telvana alert; worker log tail:\n{log.read_text()[-2000:]}"
    first = min(hot, key=lambda a: a.minute)
    assert CRISIS_AT <= first.minute <= CRISIS_AT.replace(hour=11)
    assert first.signals and first.top_posts and first.top_terms and first.summary
    # ClickHouse: every matched (post, brand) once, no duplicates, the alert stored.
    assert stored == want
    total, distinct = clickhouse.execute("SELECT count(), uniqExact(post_key, brand) FROM posts")[0]
    assert total == distinct == want
    ids = {r[0] for r in clickhouse.execute("SELECT alert_id FROM alerts FINAL")}
    assert first.alert_id in ids
    assert clickhouse.execute("SELECT count() FROM brand_minutes FINAL")[0][0] > 100
    # Prometheus metrics of the worker.
    group, team = load_brand_labels(settings.watchlist_path)["telvana"]
    labels = {"brand": "telvana", "group": group, "team": team}
    assert runner.sample(metrics, "crisis_radar_brand_crisis_score", **labels) >= 0.0
    assert ("crisis_radar_brand_severity", tuple(sorted(labels.items()))) in metrics
    assert runner.sample(metrics, "crisis_radar_posts_in_total", stage="posts.valid") == n
    assert (
        runner.sample(metrics, "crisis_radar_clickhouse_insert_rows_total", table="posts") >= want
    )
    assert any(name == "crisis_radar_consumer_lag" for name, _ in metrics)
    # Detector state is in the changelog, so a restarted worker resumes it.
    from detectors.crisis import CrisisScorer

    scorer, severity, learned = latest_state(settings, b"telvana")  # learned: streams/state.py
    final = [a for a in runner.read_alerts(settings) if a.brand == "telvana"]
    assert isinstance(scorer, CrisisScorer)
    assert severity == max(final, key=lambda a: a.minute).severity  # state and alerts agree
    assert learned >= max(final, key=lambda a: a.minute).minute  # the last minute it learned


def latest_state(settings, key: bytes):
    from kafka import KafkaConsumer

    topic = f"{settings.topic_prefix}{settings.worker_id}-crisis-state-changelog"
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        consumer_timeout_ms=1000,
    )
    try:
        blobs = [m.value for m in consumer if m.key == key]
    finally:
        consumer.close()
    assert blobs, f"no changelog entry for {key!r} in {topic}"
    return pickle.loads(blobs[-1])


def _replay(settings, lines: list[bytes], log: Path):
    """Produce recorded posts into a fresh prefix/database; return alerts and minutes."""
    from kafka import KafkaProducer

    from crisis_radar.clickhouse import make_client

    migrate(settings)
    with runner.running_worker(settings, log) as proc:
        runner.wait_ready(proc, settings.metrics_port, log, timeout=60)
        producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, linger_ms=20)
        for raw in lines:
            producer.send(settings.topic("posts.raw"), raw)
        producer.flush()
        producer.close()
        assert runner.wait_caught_up(proc, settings.metrics_port, len(lines), 90), log.read_text()[
            -2000:
        ]
        alerts = runner.read_alerts(settings)
    ch = make_client(settings)
    try:
        minutes = ch.execute(
            "SELECT brand, minute, posts, negative, unique_authors, duplicates FROM brand_minutes "
            "FINAL WHERE minute < '2026-11-23 11:00:00' ORDER BY brand, minute"
        )
        ch.execute(f"DROP DATABASE IF EXISTS {settings.clickhouse_database}")
    finally:
        ch.disconnect()
    return sorted((a.alert_id, a.brand, a.minute, a.severity, a.top_terms) for a in alerts), minutes


def test_replay_is_deterministic(settings, tmp_path: Path) -> None:
    """The same recorded stream ingested twice gives the same minutes and the same alerts."""
    posts_file = tmp_path / "posts.jsonl"
    simulate_run(
        build_scenario(simulate_parser().parse_args([*SIM_ARGS, "--out", "-"])), str(posts_file)
    )
    lines = posts_file.read_bytes().splitlines()
    runs = []
    for tag in ("a", "b"):
        s = settings.model_copy(
            update={
                "metrics_port": free_port(),
                "topic_partitions": 1,
                "topic_prefix": f"{settings.topic_prefix}{tag}.",
                "clickhouse_database": f"{settings.clickhouse_database}_{tag}",
            }
        )
        runs.append(_replay(s, lines, tmp_path / f"worker-{tag}.log"))
    (alerts_a, minutes_a), (alerts_b, minutes_b) = runs
    assert len(minutes_a) > 100 and minutes_a == minutes_b
    assert alerts_a and alerts_a == alerts_b
