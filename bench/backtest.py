"""Backtest core throughput and memory: ``History`` + ``OfflinePipeline`` on N posts, no printing.

Generates ``--n`` canonical posts (a cheap synthetic mix: ~70 % mention a watchlist brand, some
exact repeats, one negative burst per brand-day; ~150 posts per minute, so 1M posts are about
4.6 days) into a temp JSONL file, then runs ``crisis_radar.history.backtest.Backtest`` on it.
Prints posts/s (wall and per CPU-second, the enrich child's included), peak RSS (VmHWM; the
child's peak apart) and RSS after 25/50/75/100 % of the
posts (memory must stay flat), and writes ``bench/results/backtest.json``.

    .venv/bin/python -m bench.backtest                 # 1M posts
    .venv/bin/python -m bench.backtest --n 300000
    .venv/bin/python -m bench.backtest --text simulated   # the simulator's everyday English posts
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import machine_ms, save

WORDS = [
    "network", "outage", "refund", "support", "order", "delivery", "late", "broken", "love",
    "great", "new", "price", "app", "update", "crash", "store", "phone", "bill", "service",
    "recall", "taste", "fresh", "launch", "deal", "slow", "fast", "signal", "help", "today",
]  # fmt: skip
NEGATIVE = ["worst", "outage", "ever", "still", "broken", "support", "ignores", "me", "angry"]


def _status(field: str) -> float:
    """A ``/proc/self/status`` memory field in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_s() -> float:
    """CPU seconds of this process and its reaped children (the enrich child, stopped at the
    end of the run: ``OfflinePipeline.finish``)."""
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + kids.ru_utime + kids.ru_stime


def child_peak_kb() -> int:
    """Peak RSS (KB) of the largest reaped child: the enrich child process."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss


def process_figures() -> dict[str, Any]:
    """Peak RSS of this process and of its enrich child (the largest reaped child), load
    average and CPUs: the tail of the history benchmarks' figures."""
    child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "peak_rss_mb": round(_status("VmHWM"), 1),
        "child_peak_rss_mb": round(child_kb / 1024, 1),
        "loadavg": Path("/proc/loadavg").read_text().split()[:3],
        "cpus": os.cpu_count(),
    }


def generate(
    path: Path, n: int, watchlist: Path, seed: int = 0, pool: list[str] | None = None
) -> None:
    """``pool``: texts for the brand posts (``--text simulated``) instead of word salads."""
    from crisis_radar.simulate.watchlist import load_brands

    rng = random.Random(seed)
    names = [b.keywords[0] if b.keywords else b.name for b in load_brands(watchlist)]
    t0 = datetime(2026, 11, 16, tzinfo=UTC)
    step_ms = 400  # 150 posts per minute
    with path.open("w") as f:
        for i in range(n):
            t = t0 + timedelta(milliseconds=i * step_ms + rng.randrange(step_ms))
            day_min = (i * step_ms // 60_000) % 1440
            brand = names[i % len(names)]
            if rng.random() < 0.3:
                text = " ".join(rng.choices(WORDS, k=8))  # mentions no brand
            elif 600 <= day_min < 630 and brand == names[(i // 216_000) % len(names)]:
                text = f"{brand} " + " ".join(rng.sample(NEGATIVE, 6))  # a daily burst
            elif rng.random() < 0.05:
                text = f"{brand} giveaway retweet to win #{brand}"  # exact repeats
            elif pool is not None:
                text = f"{rng.choice(pool)} {i % 997}"
            else:
                text = f"{brand} " + " ".join(rng.choices(WORDS, k=9)) + f" {i % 997}"
            post = {
                "platform": "simulated", "post_id": str(i),
                "author": {"id": f"u{rng.randrange(50_000)}", "followers": rng.randrange(5000)},
                "text": text, "created_at": t.isoformat().replace("+00:00", "Z"),
            }  # fmt: skip
            f.write(json.dumps(post) + "\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.backtest",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--n", type=int, default=1_000_000, help="posts (default 1M)")
    p.add_argument("--file", type=Path, help="use this posts file instead of generating one")
    p.add_argument(
        "--text",
        choices=("salad", "simulated"),
        default="salad",
        help="brand posts: word salads of product words (default; no function words, so the "
        "language identifier takes its model path) or the simulator's everyday English posts",
    )
    args = p.parse_args(argv)

    from crisis_radar.history.backtest import Backtest, Result
    from crisis_radar.history.offline import OfflinePipeline
    from crisis_radar.ingest.history import History
    from crisis_radar.settings import get_settings
    from radar_base.runtime import tune_gc

    tune_gc(offline=True)  # as the commands do (crisis_radar/cli.py)
    settings = get_settings()
    with tempfile.TemporaryDirectory(prefix="bench-backtest-") as tmp:
        path = args.file or Path(tmp) / "posts.jsonl"
        if args.file is None:
            g0 = time.perf_counter()
            pool = None
            if args.text == "simulated":
                from bench.pipeline import simulated_pool

                pool = simulated_pool(settings.watchlist_path, 8)
            generate(path, args.n, settings.watchlist_path, pool=pool)
            print(f"generated {args.n:,} posts in {time.perf_counter() - g0:.1f}s", flush=True)
        n = args.n if args.file is None else sum(1 for _ in path.open("rb"))
        rss: dict[str, float] = {}
        marks = [(q, n * q // 100) for q in (25, 50, 75)]

        def on_batch(r: Result) -> None:
            while marks and r.posts >= marks[0][1]:
                rss[f"{marks.pop(0)[0]}%"] = round(_status("VmRSS"), 1)

        rss_start = _status("VmRSS")
        history = History([str(path)], "auto", None, "bench", on_dead=lambda d: None)
        bt = Backtest(OfflinePipeline.from_settings(settings))
        speed = [machine_ms()]  # before and after: the box's speed drifts (bench/__init__.py)
        c0 = cpu_s()
        result = bt.run(history.sends(parsed=bt.pipeline.takes_posts), on_batch=on_batch)
        cpu = cpu_s() - c0
        speed.append(machine_ms())
        rss["100%"] = round(_status("VmRSS"), 1)
    out: dict[str, Any] = {
        "posts": result.posts,
        "text": args.text,
        "read": history.stats.read,
        "brand_minutes": result.minutes,
        "alerts": result.alerts,
        "seconds": round(result.seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "posts_per_s": round(result.posts / result.seconds),
        "posts_per_cpu_s": round(result.posts / cpu),
        "rss_mb_start": round(rss_start, 1),
        "rss_mb": rss,
        "machine_ms": speed,
        **process_figures(),
    }
    print(f"backtest core: {out['posts']:,} posts, {out['brand_minutes']:,} brand-minutes, "
          f"{out['alerts']} alerts in {out['seconds']} s wall, {out['cpu_seconds']} CPU-s: "
          f"{out['posts_per_s']:,} posts/s ({out['posts_per_cpu_s']:,} per CPU-s)")  # fmt: skip
    print(
        f"RSS MB: start {out['rss_mb_start']}, "
        + ", ".join(f"{k} {v}" for k, v in rss.items())
        + f"; peak (VmHWM) {out['peak_rss_mb']}, enrich child {out['child_peak_rss_mb']}"
        f"; load avg {' '.join(out['loadavg'])}"
    )
    print(f"machine speed: {speed[0]} ms before, {speed[1]} ms after (bench.machine_ms)")
    print(f"wrote {save('backtest', out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
