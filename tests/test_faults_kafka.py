"""Broker restart mid-stream on a throw-away Kafka (own ports, own folder; the shared stack is
never touched): the worker reconnects, resumes from committed offsets, and every post reaches
ClickHouse exactly once as analysts see it (FINAL)."""

from __future__ import annotations

import threading
import time
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
    pytest.mark.slow,
    pytest.mark.filterwarnings(r"ignore:.*Use files\(\) instead:DeprecationWarning"),
]
OUTAGE_S = fs.env_seconds("CRISIS_RADAR_FAULTS_KAFKA_OUTAGE_S", 10)


def test_broker_restart_mid_stream(settings: Any, clickhouse: Any, tmp_path: Path) -> None:
    with fs.throwaway_stack(tmp_path, ["kafka"], settings) as s:
        s = s.model_copy(update={"metrics_port": fs.free_port(), "topic_partitions": 2})
        migrate(s)
        now = fs.now_utc()
        posts = fs.make_posts(3000, now - timedelta(minutes=30), span_s=1200, seed=3)
        log = tmp_path / "worker.log"
        with runner.running_worker(s, log) as proc:
            runner.wait_ready(proc, s.metrics_port, log, timeout=90)

            def alive() -> str | None:
                return None if proc.poll() is None else "worker died:\n" + log.read_text()[-3000:]

            feeder = threading.Thread(
                target=fs.produce,
                args=(s.kafka_bootstrap, s.topic("posts.raw"), posts[:1500]),
                kwargs={"rate": 500.0},
            )
            feeder.start()
            # Stop the broker while the worker is busy: some posts stored, not all.
            fs.wait_until(
                lambda: len(fs.stored_keys(clickhouse)) >= 200,
                60,
                "first posts stored",
                every=0.2,
                alive=alive,
            )
            feeder.join()
            fs.stop("kafka", s)
            time.sleep(OUTAGE_S)
            assert proc.poll() is None, "worker exited while the broker was down"
            fs.start("kafka", s)
            fs.produce(s.kafka_bootstrap, s.topic("posts.raw"), posts[1500:])
            want = Counter(fs.post_key(p) for p in posts)
            fs.wait_until(
                lambda: len(fs.stored_keys(clickhouse)) >= len(want),
                150,
                "every post stored after the restart",
                alive=alive,
            )
            time.sleep(2)  # a late duplicate insert would show up now
            metrics = runner.scrape(s.metrics_port)
        got = Counter(fs.stored_keys(clickhouse))
        assert got == want, (
            f"lost {len(want - got)}, duplicated {sum((got - want).values())} (FINAL)"
        )
        # At-least-once: the counter may exceed the input after redelivery, never fall short.
        assert runner.sample(metrics, "crisis_radar_posts_in_total", stage="posts.valid") >= 1500
