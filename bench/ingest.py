"""Ingest throughput: a generated canonical JSONL file -> the local Kafka's posts.raw.

Prints generation, validation-only (dry run) and end-to-end produce rates (posts/s, MB/s) and
writes bench/results/ingest.json. Needs the local stack's Kafka (``crisis-radar stack up``);
its topics live under a throwaway prefix and are deleted afterwards.

    .venv/bin/python -m bench.ingest            # 200k posts
    .venv/bin/python -m bench.ingest --n 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
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


def run(n: int, keep: bool) -> dict[str, float | int | str]:
    from crisis_radar.ingest.pipeline import Pipeline, read_records, sniff_format
    from crisis_radar.ingest.producer import AioBatchSink, Sink, make_producer
    from crisis_radar.ingest.producer import run as ingest_run
    from crisis_radar.settings import get_settings

    tmp = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    path = tmp / "posts.jsonl"
    t = time.perf_counter()
    size = generate(path, n)
    gen_s = time.perf_counter() - t
    print(f"generated {n:,} posts ({size / 1e6:.0f} MB) in {gen_s:.1f}s")
    result: dict[str, float | int | str] = {"n": n, "bytes": size, "generate_s": round(gen_s, 3)}

    fmt = sniff_format(str(path), "auto")
    dry = Pipeline(fmt)
    t, c = time.perf_counter(), time.process_time()
    ingest_run(read_records(str(path)), dry, Sink(get_settings(), None))
    dry_s, dry_cpu = time.perf_counter() - t, time.process_time() - c
    print(f"validate only ({fmt} fast path): {n / dry_s:,.0f} posts/s wall, "
          f"{n / dry_cpu:,.0f} posts per CPU-second")  # fmt: skip
    result |= {
        "validate_posts_per_s": round(n / dry_s),
        "validate_posts_per_cpu_s": round(n / dry_cpu),
    }

    for engine in ("kafka-python", "aiokafka"):
        prefix = f"bench{uuid.uuid4().hex[:6]}."
        settings = get_settings().model_copy(update={"topic_prefix": prefix})
        pipeline = Pipeline(fmt)
        t, c = time.perf_counter(), time.process_time()
        if engine == "aiokafka":
            aio = AioBatchSink.start(settings)
            ingest_run(read_records(str(path)), pipeline, aio)
            aio.flush()
            aio.close()
        else:
            producer = make_producer(settings)
            sink = Sink(settings, producer)
            ingest_run(read_records(str(path)), pipeline, sink)
            sink.flush(timeout=300)
            producer.close(timeout=10)
        wall, cpu = time.perf_counter() - t, time.process_time() - c
        assert pipeline.stats.sent == n, pipeline.stats.summary()
        print(f"ingest into Kafka with {engine}: {n / wall:,.0f} posts/s wall, "
              f"{size / wall / 1e6:.1f} MB/s, {wall:.1f}s; {n / cpu:,.0f} posts per CPU-second "
              f"(all threads); target >= 50,000/s")  # fmt: skip
        key = engine.replace("-", "_")
        result |= {f"{key}_posts_per_s": round(n / wall), f"{key}_posts_per_cpu_s": round(n / cpu),
                   f"{key}_s": round(wall, 3)}  # fmt: skip
        if not keep:
            _delete_topics(settings.kafka_bootstrap, prefix)
    load = os.getloadavg()[0]
    print(f"load average during the run: {load:.1f} on {os.cpu_count()} CPUs")
    result["loadavg_1m"] = round(load, 2)
    path.unlink()
    tmp.rmdir()
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
    args = ap.parse_args(argv)
    result = run(args.n, args.keep)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ingest.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
