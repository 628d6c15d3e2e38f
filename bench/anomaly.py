"""Anomaly/crisis benchmark: us per update and pickled bytes per brand.

``python -m bench.anomaly [--n 200000] [--brands 2000]``: times SeasonalDetector.process_one,
CrisisScorer.process_one (all signals of one brand-minute) and MinuteAggregator.add, and the
pickle size of one brand's crisis state (the target is 100k brands per worker).
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
from datetime import UTC, datetime, timedelta

import numpy as np

from bench import save
from detectors.aggregate import MinuteAggregator
from detectors.anomaly import SeasonalDetector, ValueDetector
from detectors.crisis import CrisisScorer
from schemas.models import Author, BrandMinute, Post, ScoredPost

T0 = datetime(2026, 11, 16, tzinfo=UTC)


def bench_detector(n: int, cls: type[SeasonalDetector] | type[ValueDetector]) -> float:
    rng = np.random.default_rng(0)
    xs = rng.poisson(5, n).astype(float).tolist()
    ts = [T0 + timedelta(minutes=i) for i in range(n)]
    det = cls()
    t = time.perf_counter()
    for x, ti in zip(xs, ts, strict=True):
        det.process_one({"value": x, "t": ti})
    return (time.perf_counter() - t) / n * 1e6


def bench_crisis(n: int, brands: int) -> tuple[float, float]:
    rng = np.random.default_rng(1)
    minutes = []
    for i in range(n):
        b, k = i % brands, i // brands
        posts = int(rng.poisson(6))
        neg = int(rng.binomial(posts, 0.2))
        minutes.append(
            BrandMinute(
                brand=f"b{b}",
                minute=T0 + timedelta(minutes=k),
                posts=posts,
                unique_posts=posts,
                unique_authors=posts,
                negative=neg,
                neutral=posts - neg,
                sentiment_sum=-0.5 * neg,
                reach=100 * posts,
            )
        )
    cs = CrisisScorer()
    t = time.perf_counter()
    for m in minutes:
        cs.process_one(m)
    us = (time.perf_counter() - t) / n * 1e6
    size = float(np.mean([len(pickle.dumps(s)) for s in list(cs.brands.values())[:200]]))
    return us, size


def bench_aggregate(n: int) -> float:
    posts = [
        ScoredPost(
            post=Post(
                platform="simulated",
                post_id=str(i),
                author=Author(id=f"a{i}"),
                text="x",
                created_at=T0 + timedelta(seconds=i * 0.1),
            ),
            brand=f"b{i % 50}",
            sentiment_label="neutral",
            sentiment_score=0.0,
            cluster_id=f"c{i}",
            is_duplicate=False,
            scored_at=T0,
        )
        for i in range(n)
    ]
    agg = MinuteAggregator()
    t = time.perf_counter()
    for i, p in enumerate(posts):
        agg.add(p)
        if i % 1000 == 0:
            agg.advance(p.post.created_at)
    return (time.perf_counter() - t) / n * 1e6


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.anomaly", description=__doc__)
    ap.add_argument("--n", type=int, default=30_000, help="updates per measurement")
    ap.add_argument("--brands", type=int, default=300)
    args = ap.parse_args(argv)
    res = {
        "n": args.n,
        "seasonal_us_per_update": bench_detector(args.n, SeasonalDetector),
        "value_us_per_update": bench_detector(args.n, ValueDetector),
    }
    res["crisis_us_per_brand_minute"], res["crisis_bytes_per_brand"] = bench_crisis(
        args.n, args.brands
    )
    res["aggregate_us_per_post"] = bench_aggregate(args.n)
    res["brands_per_worker_at_1_minute"] = 60e6 / res["crisis_us_per_brand_minute"]
    for k, v in res.items():
        print(f"{k:32} {v:,.1f}")
    save("anomaly", res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
