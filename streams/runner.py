"""Run a worker as a subprocess and watch it: shared by ``crisis-radar demo``, the end-to-end test
and the pipeline benchmark."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from radar_base.settings import Settings
from schemas.models import CrisisAlert


def worker_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        CRISIS_RADAR_TOPIC_PREFIX=settings.topic_prefix,
        CRISIS_RADAR_CLICKHOUSE_DATABASE=settings.clickhouse_database,
        CRISIS_RADAR_KAFKA_BOOTSTRAP=settings.kafka_bootstrap,
        CRISIS_RADAR_CLICKHOUSE_HOST=settings.clickhouse_host,
        CRISIS_RADAR_CLICKHOUSE_PORT=str(settings.clickhouse_port),
        CRISIS_RADAR_TOPIC_PARTITIONS=str(settings.topic_partitions),
        CRISIS_RADAR_METRICS_PORT=str(settings.metrics_port),
        CRISIS_RADAR_STACK_DIR=str(settings.stack_dir),
        CRISIS_RADAR_ALLOWED_LATENESS_S=str(settings.allowed_lateness_s),
        CRISIS_RADAR_WATCHLIST_PATH=str(settings.watchlist_path),
        # Faust patch switches (streams/faust_runtime): the patches-off tests turn them off
        CRISIS_RADAR_FAUST_FASTPATH=str(int(settings.faust_fastpath)),
        CRISIS_RADAR_FAUST_SEEK_FIX=str(int(settings.faust_seek_fix)),
        # A cluster's topics (docs/scaling.md): replicas and writes' in-sync copies
        CRISIS_RADAR_TOPIC_REPLICATION_FACTOR=str(settings.topic_replication_factor),
        CRISIS_RADAR_TOPIC_MIN_INSYNC_REPLICAS=str(settings.topic_min_insync_replicas),
    )
    if settings.enrich_subprocess is not None:
        env["CRISIS_RADAR_ENRICH_SUBPROCESS"] = str(int(settings.enrich_subprocess))
    return env


@contextmanager
def running_worker(settings: Settings, log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``python -m streams`` with ``settings``; SIGTERM it (then SIGKILL) on exit."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streams", "--loglevel", "info"],
            env=worker_env(settings),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """All samples of a /metrics page: (name, sorted labels) -> value; {} if not up."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:
            text = resp.read().decode()
    except OSError:
        return {}
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = float(s.value)
    return out


def sample(
    metrics: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return metrics.get((name, tuple(sorted(labels.items()))), 0.0)


def wait_ready(proc: subprocess.Popen[bytes], port: int, log_path: Path, timeout: float) -> None:
    """Wait for /metrics and for the Faust worker to report Ready in its log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"worker exited with {proc.returncode}; see {log_path}")
        if scrape(port) and b"Worker]: Ready" in log_path.read_bytes():
            return
        time.sleep(0.5)
    raise TimeoutError(f"worker not ready after {timeout:.0f}s; see {log_path}")


def read_alerts(settings: Settings, timeout_s: float = 30.0) -> list[CrisisAlert]:
    """Every alert on crisis.alerts so far: from the beginning up to the end offsets taken at
    the call. Reading to known end offsets (not "until nothing came for a while") means a slow
    broker or a busy machine gives a slower answer, never a short one."""
    from kafka import KafkaConsumer, TopicPartition

    topic = settings.topic("crisis.alerts")
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False)
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            return []  # no alert topic yet: nothing was ever produced
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        deadline = time.monotonic() + timeout_s
        alerts: list[CrisisAlert] = []
        while any(consumer.position(tp) < end[tp] for tp in tps):
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"read {len(alerts)} alerts of {topic} in {timeout_s:.0f}s, "
                    f"not up to its end offsets {dict((tp.partition, o) for tp, o in end.items())}"
                )
            for records in consumer.poll(timeout_ms=200).values():
                alerts.extend(CrisisAlert.model_validate_json(r.value) for r in records)
        return alerts
    finally:
        consumer.close()


def caught_up(metrics: dict[tuple[str, tuple[tuple[str, str], ...]], float], n: int) -> bool:
    """True when the worker validated ``n`` posts and every later stage consumed all the
    records its upstream stage produced (a few more minutes may still close on idle time)."""

    def c(kind: str, stage: str) -> float:
        return sample(metrics, f"crisis_radar_posts_{kind}_total", stage=stage)

    return (
        c("in", "posts.valid") >= n
        and c("in", "posts.scored") >= c("out", "posts.valid")
        and c("in", "brand.minutes") >= c("out", "posts.scored")
        and c("in", "crisis.alerts") >= c("out", "brand.minutes") > 0
    )


def wait_caught_up(
    proc: subprocess.Popen[bytes],
    port: int,
    n: int,
    timeout: float,
    quiet_s: float = 3.0,
    on_progress: Any = None,
) -> bool:
    """Wait until ``caught_up`` holds and no minute was scored for ``quiet_s`` seconds."""
    deadline = time.monotonic() + timeout
    last, since = -1.0, time.monotonic()
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        m = scrape(port)
        if on_progress is not None:
            on_progress(m)
        scored = sample(m, "crisis_radar_posts_in_total", stage="crisis.alerts")
        if scored != last:
            last, since = scored, time.monotonic()
        if caught_up(m, n) and time.monotonic() - since > quiet_s:
            return True
        time.sleep(0.5)
    return False
