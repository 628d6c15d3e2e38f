"""New-narrative benchmark: cost of content terms and burst terms, memory per brand.

``python -m bench.narrative [--n 200000] [--brands 50] [--repeat 3]``: times ``content_terms``
per post, and ``MinuteAggregator`` add + close with terms against the same posts without terms
(the extra is the narrative's cost), and reports the term table's memory per brand after a
simulated day (vocabulary: a Zipf mix of 3,000 words, 6 posts a minute per brand). Times are
the best of ``--repeat`` runs in CPU seconds (the machine is shared: wall time swings 3x).
"""

from __future__ import annotations

import argparse
import math
import pickle
import sys
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace as NS

import numpy as np

from bench import save
from detectors.aggregate import MinuteAggregator
from detectors.terms import content_terms

T0 = datetime(2026, 11, 16, tzinfo=UTC)
TEXTS = [
    "@acme my order still hasn't shipped after 3 weeks, frustrating",
    "Acme recall: salmonella found in their snack bars https://t.co/x #acmefail",
    "love my new acme phone, battery lasts forever",
    "is acme down for anyone else?? no signal in Berlin",
]


def bench_terms(n: int, repeat: int = 3) -> float:
    skip = frozenset({"acme"})
    texts = [TEXTS[i % len(TEXTS)] for i in range(n)]
    best = math.inf
    for _ in range(repeat):
        t = time.process_time()
        for text in texts:
            content_terms(text, skip)
        best = min(best, time.process_time() - t)
    return best / n * 1e6


def _posts(n: int, brands: int, with_terms: bool) -> list[NS]:
    rng = np.random.default_rng(0)
    vocab = [f"w{i:04d}".replace("0", "o").replace("1", "l") for i in range(3000)]
    p = 1.0 / np.arange(1, 3001) ** 1.1
    p /= p.sum()
    per_min = 6 * brands
    words = rng.choice(3000, size=(n, 6), p=p)
    out = []
    for i in range(n):
        t = T0 + timedelta(seconds=60 * (i // per_min) + (i % per_min) * 60 / per_min)
        terms = sorted({vocab[w] for w in words[i]}) if with_terms else []
        out.append(
            NS(
                brand=f"b{i % brands}",
                post=NS(created_at=t, author=NS(id=f"a{rng.integers(20000)}", followers=10)),
                sentiment_label="neutral",
                sentiment_score=0.0,
                cluster_id=f"c{i}",
                is_duplicate=False,
                campaign=False,
                terms=terms,
            )
        )
    return out


def bench_aggregate(
    n: int, brands: int, with_terms: bool, repeat: int = 3
) -> tuple[float, MinuteAggregator]:
    posts = _posts(n, brands, with_terms)
    best = math.inf
    for _ in range(repeat):
        agg = MinuteAggregator(allowed_lateness_s=0)
        t = time.process_time()
        for i, sp in enumerate(posts):
            agg.add(sp)  # type: ignore[arg-type]
            if i % (6 * brands) == 0:
                agg.advance(sp.post.created_at)
        agg.advance(posts[-1].post.created_at + timedelta(minutes=2))
        best = min(best, time.process_time() - t)
    return best / n * 1e6, agg


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=200_000, help="posts (default 200k)")
    ap.add_argument("--brands", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3, help="runs per figure (best)")
    a = ap.parse_args(argv)
    terms_us = bench_terms(min(a.n, 100_000), a.repeat)
    plain_us, _ = bench_aggregate(a.n, a.brands, with_terms=False, repeat=a.repeat)
    with_us, agg = bench_aggregate(a.n, a.brands, with_terms=True, repeat=a.repeat)
    minutes = a.n / (6 * a.brands)
    per_brand = [agg.narrative_bytes(b) for b in agg.narratives]
    pickled = [len(pickle.dumps(nt)) for nt in list(agg.narratives.values())[:20]]
    res = {
        "posts": a.n,
        "brands": a.brands,
        "minutes": minutes,
        "content_terms_us_per_post": round(terms_us, 2),
        "aggregate_us_per_post_plain": round(plain_us, 2),
        "aggregate_us_per_post_with_terms": round(with_us, 2),
        "narrative_us_per_post": round(with_us - plain_us, 2),
        "narrative_us_per_brand_minute": round((with_us - plain_us) * 6, 1),
        "terms_per_brand": float(np.mean([len(nt.table.values) for nt in agg.narratives.values()])),
        "bytes_per_brand": int(np.mean(per_brand)),
        "pickled_bytes_per_brand": int(np.mean(pickled)),
    }
    for k, v in res.items():
        print(f"{k:<36} {v}")
    save("narrative", res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
