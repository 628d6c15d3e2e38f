"""Ingest throughput: a generated canonical JSONL file -> the local Kafka's posts.raw.

Prints generation, validation-only (dry run) and end-to-end produce rates (posts/s, MB/s) and
writes bench/results/ingest.json. Needs the local stack's Kafka (``crisis-radar stack up``);
its topics live under a throwaway prefix and are deleted afterwards.

    .venv/bin/python -m bench.ingest            # 200k posts
    .venv/bin/python -m bench.ingest --n 1000000
    .venv/bin/python -m bench.ingest --engines kafka-python

Runs the real ``crisis-radar ingest`` command in this process, checks that posts.raw holds
exactly n records afterwards, and reports the broker's CPU time beside the ingest's own.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from bench import save

if TYPE_CHECKING:
    from crisis_radar.settings import Settings

WORDS = [
    "acme",
    "outage",
    "refund",
    "order",
    "love",
    "hate",
    "delay",
    "support",
    "phone",
    "app",
    "broken",
    "great",
    "slow",
]


def generate(path: Path, n: int, seed: int = 0) -> int:
    """Canonical Post JSON lines from a string template (pydantic would dominate the cost)."""
    import random

    rng = random.Random(seed)
    t0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    size = 0
    with path.open("w") as fh:
        for i in range(n):
            ts = (t0 + timedelta(milliseconds=i * 20)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            text = " ".join(rng.choices(WORDS, k=12))
            line = (
                f'{{"schema_version":1,"platform":"simulated","post_id":"b{i}",'
                f'"author":{{"id":"u{i % 5000}","handle":"user{i % 5000}","followers":{i % 977},'
                f'"verified":false}},"text":"@acme {text} #{WORDS[i % 13]}","lang":"en",'
                f'"created_at":"{ts}","hashtags":["{WORDS[i % 13]}"],"mentions":["acme"],'
                f'"engagement":{{"likes":{i % 31},"reposts":0,"replies":0,"quotes":0}}}}\n'
            )
            size += fh.write(line)
    return size


def _cpu_of(pid: int | str, children: bool = False) -> float:
    """CPU seconds of a process (with ``children``: plus its reaped children), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(f) for f in fields[11 : 15 if children else 13])
    return ticks / os.sysconf("SC_CLK_TCK")


def _broker_cpu() -> float | None:
    """CPU seconds the local broker has used (``.stack/run/kafka.pid``), None if unknown."""
    try:
        return _cpu_of((Path(__file__).parent.parent / ".stack/run/kafka.pid").read_text().strip())
    except (OSError, ValueError, IndexError):
        return None


def _workers_cpu() -> float:
    """CPU seconds of ``ingest --workers`` processes so far: they are children of the
    multiprocessing forkserver, which reaps them (0 before it starts)."""
    from multiprocessing import forkserver

    pid = forkserver._forkserver._forkserver_pid  # type: ignore[attr-defined]
    try:
        return _cpu_of(pid, children=True) if pid else 0.0
    except (OSError, ValueError, IndexError):
        return 0.0


def _timed(argv: list[str], settings: Settings) -> tuple[float, float, float | None]:
    """Run ``crisis-radar ingest`` in-process: wall s, CPU s of ingest (this process and any
    worker processes), broker CPU s."""
    from crisis_radar.commands import ingest as ingest_cmd

    b0, w0 = _broker_cpu(), _workers_cpu()
    t, c = time.perf_counter(), time.process_time()
    code = ingest_cmd.main(argv, settings=settings)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    time.sleep(0.3)  # let the forkserver reap the workers
    cpu += _workers_cpu() - w0
    b1 = _broker_cpu()
    if code != 0:
        raise SystemExit(f"ingest exited {code}")
    return wall, cpu, (b1 - b0) if b0 is not None and b1 is not None else None


def _count(settings: Settings, topic: str) -> int:
    """Records on a topic (sum of end offsets): proves nothing was lost or doubled."""
    from kafka import TopicPartition

    from crisis_radar.ingest.producer import make_consumer

    consumer = make_consumer(settings)
    try:
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        return sum(consumer.end_offsets(tps).values())
    finally:
        consumer.close()


def run(n: int, keep: bool, engines: list[str], workers: int) -> dict[str, float | int | str]:
    from crisis_radar.settings import get_settings
    from schemas import stages

    tmp = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    path = tmp / "posts.jsonl"
    t = time.perf_counter()
    size = generate(path, n)
    gen_s = time.perf_counter() - t
    print(f"generated {n:,} posts ({size / 1e6:.0f} MB) in {gen_s:.1f}s")
    load0 = os.getloadavg()[0]
    result: dict[str, float | int | str] = {
        "n": n, "bytes": size, "generate_s": round(gen_s, 3), "loadavg_1m_before": round(load0, 2)
    }  # fmt: skip
    try:
        wall, cpu, _ = _timed([str(path), "--dry-run", "--quiet", "--workers", "0"], get_settings())
        print(f"validate only (ingest --dry-run): {n / wall:,.0f} posts/s wall, "
              f"{n / cpu:,.0f} posts per CPU-second")  # fmt: skip
        result["validate_posts_per_s"] = round(n / wall)
        result["validate_posts_per_cpu_s"] = round(n / cpu)
        runs = [(e, ["--engine", e, "--workers", "0"]) for e in engines]
        if workers:
            runs.append((f"kafka-python-workers{workers}", ["--workers", str(workers)]))
        for engine, extra in runs:
            prefix = f"bench{uuid.uuid4().hex[:6]}."
            settings = get_settings().model_copy(update={"topic_prefix": prefix})
            wall, cpu, broker = _timed([str(path), "--quiet", *extra], settings)
            on_topic = _count(settings, settings.topic(stages.POSTS_RAW))
            assert on_topic == n, f"{on_topic} records on posts.raw, expected {n}"
            broker_note = f"; broker used {broker:.1f} CPU-s" if broker is not None else ""
            print(f"ingest into Kafka ({engine}): {n / wall:,.0f} posts/s wall, "
                  f"{size / wall / 1e6:.1f} MB/s, {wall:.1f}s; {n / cpu:,.0f} posts per CPU-second "
                  f"of ingest (all processes){broker_note}; target >= 50,000/s")  # fmt: skip
            key = engine.replace("-", "_")
            result[f"{key}_posts_per_s"] = round(n / wall)
            result[f"{key}_posts_per_cpu_s"] = round(n / cpu)
            result[f"{key}_s"] = round(wall, 3)
            if broker is not None:
                result[f"{key}_broker_cpu_s"] = round(broker, 2)
            if not keep:
                _delete_topics(settings.kafka_bootstrap, prefix)
    finally:
        path.unlink()
        tmp.rmdir()
    load = os.getloadavg()[0]
    print(f"load average (1 min) before {load0:.1f}, after {load:.1f}, on {os.cpu_count()} CPUs")
    result["loadavg_1m"] = round(load, 2)
    return result


def _delete_topics(bootstrap: str, prefix: str) -> None:
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        mine = [t for t in admin.list_topics() if t.startswith(prefix)]
        if mine:
            admin.delete_topics(mine)
    finally:
        admin.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__)
    ap.add_argument("--n", type=int, default=200_000, help="posts to generate and ingest")
    ap.add_argument("--keep", action="store_true", help="keep the bench topics")
    ap.add_argument("--engines", default="kafka-python,aiokafka", help="comma-separated")
    ap.add_argument("--workers", type=int, default=2, help="also run ingest --workers N (0: no)")
    args = ap.parse_args(argv)
    result = run(args.n, args.keep, args.engines.split(","), args.workers)
    save("ingest", result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
