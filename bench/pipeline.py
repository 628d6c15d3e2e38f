"""Full-pipeline benchmark on the local stack: N posts -> posts.raw -> one worker -> ClickHouse.

Prints sustained posts/s (first post produced -> last (post, brand) row in ClickHouse),
p50/p99 event-to-ClickHouse latency (post created_at = produce time, to the row's inserted_at;
second resolution, and with --rate 0 it includes the backlog queue), and the worker's peak RSS.

    .venv/bin/python -m bench.pipeline            # 200k posts
    .venv/bin/python -m bench.pipeline --n 1000000 --rate 4000
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from tqdm import tqdm

from crisis_radar.stack._proc import free_port

RESULTS = Path(__file__).parent / "results"
WORDS = [
    "network",
    "outage",
    "refund",
    "support",
    "order",
    "delivery",
    "late",
    "broken",
    "love",
    "great",
    "new",
    "price",
    "app",
    "update",
    "crash",
    "store",
    "phone",
    "bill",
    "service",
    "recall",
    "taste",
    "fresh",
    "launch",
    "deal",
    "slow",
    "fast",
]



def _peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _posts(
    n: int, brands: list[str], seed: int
) -> Iterator[bytes]:  # one JSON line per post, created_at = now
    rng = random.Random(seed)
    for i in range(n):
        b = rng.choice(brands)
        words = " ".join(rng.choices(WORDS, k=8))
        now = datetime.now(UTC).isoformat()
        author = f'{{"id":"u{rng.randrange(50000)}","followers":{rng.randrange(5000)}}}'
        text = f"{b} {words} #{i % 997}"
        yield (
            f'{{"platform":"simulated","post_id":"b{i}","author":{author},'
            f'"text":"{text}","created_at":"{now}"}}'
        ).encode()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.pipeline", description=__doc__)
    ap.add_argument("--n", type=int, default=200_000, help="posts to send (default 200k)")
    ap.add_argument(
        "--rate", type=float, default=0, help="posts/s to produce (0: as fast as possible)"
    )
    ap.add_argument("--timeout", type=float, default=600)
    args = ap.parse_args(argv)

    from kafka import KafkaProducer

    from crisis_radar.clickhouse import make_client, migrate
    from crisis_radar.settings import get_settings
    from detectors.brands import Watchlist
    from streams import runner

    tag = f"bench{int(time.time())}"
    base = get_settings()
    settings = base.model_copy(
        update={"topic_prefix": f"{tag}.", "clickhouse_database": tag, "metrics_port": free_port()}
    )
    migrate(settings)
    brands = [b.id for b in Watchlist.from_yaml(settings.watchlist_path).brands][:8]
    log = settings.stack_dir / "logs" / f"{tag}-worker.log"
    ch = make_client(settings)
    result: dict[str, float | int | str] = {"n": args.n, "rate": args.rate}
    try:
        with runner.running_worker(settings, log) as proc:
            runner.wait_ready(proc, settings.metrics_port, log, timeout=90)
            producer = KafkaProducer(
                bootstrap_servers=settings.kafka_bootstrap,
                linger_ms=20,
                batch_size=512 * 1024,
                acks=1,
            )
            t0 = time.monotonic()
            for i, raw in enumerate(
                tqdm(
                    _posts(args.n, brands, 0),
                    total=args.n,
                    desc="produce",
                    file=sys.stderr,
                    unit="post",
                )
            ):
                producer.send(settings.topic("posts.raw"), raw)
                if args.rate and i % 200 == 0:
                    ahead = i / args.rate - (time.monotonic() - t0)
                    if ahead > 0:
                        time.sleep(ahead)
            producer.flush()
            produced_s = time.monotonic() - t0
            bar = tqdm(total=args.n, desc="pipeline", file=sys.stderr, unit="post")
            deadline = t0 + args.timeout
            stored = 0
            while time.monotonic() < deadline:
                stored = ch.execute("SELECT count() FROM posts")[0][0]
                bar.update(min(stored, args.n) - bar.n)
                if stored >= args.n:
                    break
                time.sleep(0.5)
            elapsed = time.monotonic() - t0
            bar.close()
            result["worker_peak_rss_mb"] = round(_peak_rss_mb(proc.pid), 1)
        p50, p99 = ch.execute(
            "SELECT quantiles(0.5, 0.99)(toInt64(inserted_at) - toInt64(created_at)) FROM posts"
        )[0][0]
        result.update(
            stored_rows=stored,
            produce_s=round(produced_s, 2),
            elapsed_s=round(elapsed, 2),
            posts_per_s=round(stored / elapsed, 1),
            latency_p50_s=float(p50),
            latency_p99_s=float(p99),
        )
        if stored < args.n:
            result["error"] = f"timeout: only {stored} of {args.n} rows after {args.timeout}s"
    finally:
        ch.execute(f"DROP DATABASE IF EXISTS {tag}")
        ch.disconnect()
    for k, v in result.items():
        print(f"{k:>20}: {v}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "pipeline.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0 if "error" not in result else 1


if __name__ == "__main__":
    raise SystemExit(main())
