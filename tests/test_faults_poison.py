"""Hostile input through a real worker: absurd-but-valid-JSON messages are dead-lettered with a
reason (dead_letters table, posts.dlq, crisis_radar_dlq_total) and late posts are counted and
stored, while every good post still lands exactly once."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import faults_support as fs
import pytest

from crisis_radar.clickhouse import migrate
from streams import runner

pytestmark = [
    pytest.mark.faults,
    pytest.mark.stack,
    pytest.mark.filterwarnings(r"ignore:.*Use files\(\) instead:DeprecationWarning"),
]


def _poison(now: Any) -> list[tuple[str, bytes]]:
    """(expected reason, message). All but the last two are valid JSON."""

    def post(i: int, **over: Any) -> dict[str, Any]:
        p: dict[str, Any] = {
            "platform": "x",
            "post_id": f"bad{i}",
            "author": {"id": "evil"},
            "text": "telvana poison",
            "created_at": now.isoformat(),
        }
        p.update(over)
        return p

    nested: Any = "x"
    for _ in range(20_000):
        nested = [nested]
    return [
        ("future_timestamp", post(0, created_at=(now + timedelta(days=400)).isoformat())),
        ("ancient_timestamp", post(1, created_at="1970-01-01T00:00:00Z")),
        ("schema", post(2, author={"id": "evil", "followers": -5})),
        ("absurd_count", post(3, engagement={"likes": 2**80})),
        ("too_large", post(4, text="telvana " + "A" * 1_000_000)),
        ("schema", post(5, text={"nested": {"deeper": [1, 2, 3]}})),
        ("not_object", [1, 2, 3]),
        ("bad_json", '{"a":' * 5_000 + "1" + "}" * 5_000),  # nesting too deep, valid JSON
        ("bad_json", json.dumps(post(6))[:-5]),
        ("bad_utf8", b"\xff\xfe{}"),
    ]  # type: ignore[list-item]


def _encode(v: Any) -> bytes:
    if isinstance(v, bytes):
        return v
    if isinstance(v, str):
        return v.encode()
    try:
        return json.dumps(v).encode()
    except RecursionError:  # json.dumps cannot write 20k levels: build the text by hand
        return b"[" * 20_000 + b'"x"' + b"]" * 20_000


def test_poison_messages_and_late_posts(settings: Any, clickhouse: Any, tmp_path: Path) -> None:
    settings = settings.model_copy(update={"metrics_port": fs.free_port(), "topic_partitions": 1})
    migrate(settings)
    now = fs.now_utc()
    good = fs.make_posts(600, now - timedelta(minutes=20), span_s=600, seed=1)
    poison = _poison(now)
    # After the good posts: one inside max lateness (amends a closed minute), one beyond it.
    late = fs.make_posts(2, now - timedelta(minutes=15), span_s=1, seed=2, prefix="late")
    late[1]["created_at"] = (now - timedelta(hours=3)).isoformat()
    raw: list[Any] = [*good[:300], *(_encode(v) for _, v in poison), *good[300:]]
    log = tmp_path / "worker.log"
    with runner.running_worker(settings, log) as proc:
        runner.wait_ready(proc, settings.metrics_port, log, timeout=90)
        fs.produce(settings.kafka_bootstrap, settings.topic("posts.raw"), raw)
        # Lateness is relative to the watermark when a post is processed: send the late ones
        # once the on-time minutes have been closed (else one batch may hold them all).
        fs.wait_until(
            lambda: clickhouse.execute("SELECT count() FROM brand_minutes")[0][0] > 5,
            90,
            "closed minutes",
            alive=lambda: None if proc.poll() is None else log.read_text()[-3000:],
        )
        fs.produce(settings.kafka_bootstrap, settings.topic("posts.raw"), late)
        want = {fs.post_key(p) for p in good + late}

        def done() -> bool:
            n = clickhouse.execute("SELECT count() FROM dead_letters")[0][0]
            return n >= len(poison) and len(fs.stored_keys(clickhouse)) >= len(want)

        fs.wait_until(
            done,
            90,
            "posts and dead letters in ClickHouse",
            alive=lambda: None if proc.poll() is None else log.read_text()[-3000:],
        )
        fs.wait_until(
            lambda: (
                runner.sample(
                    runner.scrape(settings.metrics_port),
                    "crisis_radar_late_posts_total",
                    stage="brand.minutes",
                )
                >= 2
            ),
            30,
            "late post count",
        )
        # The post inside max lateness amends its minute (version > 1, late_posts counted).
        amend_sql = "SELECT count() FROM brand_minutes FINAL WHERE late_posts > 0 AND version >= 2"
        fs.wait_until(lambda: clickhouse.execute(amend_sql)[0][0] >= 1, 30, "amended minute")
        metrics = runner.scrape(settings.metrics_port)
    keys = fs.stored_keys(clickhouse)
    assert Counter(keys) == Counter(want), "lost or duplicated posts"
    assert not any(k.startswith("x:bad") for k in keys)
    reasons = Counter(r for (r,) in clickhouse.execute("SELECT reason FROM dead_letters"))
    assert reasons == Counter(r for r, _ in poison)
    for reason, n in Counter(r for r, _ in poison).items():
        assert (
            runner.sample(metrics, "crisis_radar_dlq_total", stage="posts.valid", reason=reason)
            == n
        )
    # Every dead letter keeps its original bytes (replayable) and a readable error.
    errors = clickhouse.execute("SELECT reason, error, length(original) FROM dead_letters")
    assert all(err and size > 0 for _, err, size in errors)
    assert runner.sample(metrics, "crisis_radar_late_posts_total", stage="brand.minutes") >= 2
