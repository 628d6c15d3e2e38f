"""ClickHouse down under load, on a throw-away ClickHouse (own ports and folder): the sink retries
with backoff, the worker's memory stays bounded, nothing is lost or duplicated (FINAL), and the
insert error counter behind the CrisisRadarClickHouseInsertErrors rule rises, then stops.

The outage lasts ``CRISIS_RADAR_FAULTS_CLICKHOUSE_OUTAGE_S`` seconds (default 60, the issue's
figure; set it lower for a quicker local run)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import faults_support as fs
import pytest

from crisis_radar.clickhouse import make_client, migrate
from streams import runner

pytestmark = [
    pytest.mark.faults,
    pytest.mark.stack,
    pytest.mark.slow,
    pytest.mark.filterwarnings(r"ignore:.*Use files\(\) instead:DeprecationWarning"),
]
OUTAGE_S = fs.env_seconds("CRISIS_RADAR_FAULTS_CLICKHOUSE_OUTAGE_S", 60)
RSS_GROWTH_MAX_MIB = 300  # 3k posts queued are a few MiB; an unbounded leak/retry loop is more


def _errors(port: int) -> float:
    m = runner.scrape(port)
    return sum(
        v for (name, _), v in m.items() if name == "crisis_radar_clickhouse_insert_errors_total"
    )


def test_clickhouse_down_under_load(settings: Any, tmp_path: Path) -> None:
    with fs.throwaway_stack(tmp_path, ["clickhouse"], settings) as s:
        s = s.model_copy(update={"metrics_port": fs.free_port(), "topic_partitions": 2})
        migrate(s)
        now = fs.now_utc()
        posts = fs.make_posts(3000, now - timedelta(minutes=30), span_s=1200, seed=4)
        log = tmp_path / "worker.log"
        with runner.running_worker(s, log) as proc:
            runner.wait_ready(proc, s.metrics_port, log, timeout=90)

            def alive() -> str | None:
                return None if proc.poll() is None else "worker died:\n" + log.read_text()[-3000:]

            ch = make_client(s)
            fs.produce(s.kafka_bootstrap, s.topic("posts.raw"), posts[:500])
            fs.wait_until(lambda: len(fs.stored_keys(ch)) >= 500, 60, "first posts", alive=alive)
            ch.disconnect()
            rss0 = fs.rss_mib(proc.pid)
            assert _errors(s.metrics_port) == 0
            fs.stop("clickhouse", s)
            feeder = threading.Thread(
                target=fs.produce,
                args=(s.kafka_bootstrap, s.topic("posts.raw"), posts[500:]),
                kwargs={"rate": 300.0},
            )
            feeder.start()
            peak, t_end = rss0, time.monotonic() + OUTAGE_S
            while time.monotonic() < t_end:
                assert alive() is None, alive()
                peak = max(peak, fs.rss_mib(proc.pid))
                time.sleep(0.5)
            feeder.join()
            during = _errors(s.metrics_port)
            assert during >= 2, "the sink did not retry while ClickHouse was down"
            fs.start("clickhouse", s)
            ch = make_client(s)
            want = Counter(fs.post_key(p) for p in posts)
            fs.wait_until(
                lambda: len(fs.stored_keys(ch)) >= len(want),
                120,
                "every post stored after ClickHouse came back",
                alive=alive,
            )
            after = _errors(s.metrics_port)
            time.sleep(3)
            assert _errors(s.metrics_port) == after, "inserts still failing after recovery"
            got = Counter(fs.stored_keys(ch))
            ch.disconnect()
    # Exponential backoff capped at 10 s: a handful of attempts per table, not a hot loop.
    assert during <= 4 * (10 + OUTAGE_S / 10)
    assert peak - rss0 < RSS_GROWTH_MAX_MIB, f"RSS grew {peak - rss0:.0f} MiB during the outage"
    assert got == want, f"lost {len(want - got)}, duplicated {sum((got - want).values())} (FINAL)"
