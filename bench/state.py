"""Cost of the stage snapshots (streams/state.py), in process, no stack needed.

* dedup index after ``--n`` posts: pickled size, pickle and unpickle seconds (the enrich
  snapshot, taken every ``state_snapshot_interval_s``);
* minute windows of ``--brands`` brands after ``--n`` posts over 2 h of event time: pickled
  size and pickle seconds (the aggregate snapshot, taken every batch);
* source tags: building a tag and checking it (``Seen.fresh``), per post.

Times are CPU seconds of this process (``process_time``): the machine is shared.

    .venv/bin/python -m bench.state             # 50k posts
    .venv/bin/python -m bench.state --n 100000  # the dedup index's default max_items
"""

from __future__ import annotations

import argparse
import pickle
import random
import time
from datetime import UTC, datetime, timedelta

from bench import save
from crisis_radar.progress import progress_bar

WORDS = [
    "outage",
    "refund",
    "support",
    "billing",
    "signal",
    "great",
    "slow",
    "app",
    "coverage",
    "price",
    "broken",
    "fast",
]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench.state", description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=50_000, help="posts (default 50k)")
    ap.add_argument("--brands", type=int, default=50, help="brands in the minute windows")
    args = ap.parse_args(argv)

    from detectors.dedup import Deduplicator
    from schemas.models import Author, Post, ScoredPost
    from streams import state
    from streams.processing import PartitionWindow

    rng = random.Random(0)
    t0 = datetime(2026, 11, 23, tzinfo=UTC)
    span = 2 * 3600
    dedup = Deduplicator(horizon_s=6 * 3600)
    win = PartitionWindow(120)
    wall = t0 + timedelta(days=1)
    for i in progress_bar(range(args.n), desc="fill", unit="post", mininterval=1.0):
        ts = t0 + timedelta(seconds=span * i / args.n)
        text = " ".join(rng.choice(WORDS) for _ in range(8)) + f" #{rng.randrange(args.n)}"
        dedup.process_one(text, f"u{rng.randrange(args.n)}", ts)
        post = Post(
            platform="x", post_id=str(i), author=Author(id=f"u{rng.randrange(args.n)}"),
            text=text, created_at=ts,
        )  # fmt: skip
        sp = ScoredPost(
            post=post, brand=f"b{i % args.brands}", sentiment_label="neutral",
            sentiment_score=0.0, cluster_id=f"c{rng.randrange(args.n)}", is_duplicate=False,
            scored_at=wall,
        )  # fmt: skip
        win.add(sp, wall)
        if i % 2000 == 1999:
            win.advance(wall)

    def timed(fn, reps: int = 3):  # type: ignore[no-untyped-def]
        best, out = float("inf"), None
        for _ in range(reps):
            t = time.process_time()
            out = fn()
            best = min(best, time.process_time() - t)
        return best, out

    d_pickle_s, blob = timed(lambda: pickle.dumps(dedup, protocol=pickle.HIGHEST_PROTOCOL))
    d_load_s, _ = timed(lambda: pickle.loads(blob))
    w_pickle_s, wblob = timed(lambda: pickle.dumps((win, state.Seen()), protocol=5), reps=20)
    seen = state.Seen()
    t = time.process_time()
    for o in range(200_000):
        seen.fresh(state.tag(0, o))
    tag_us = (time.process_time() - t) / 200_000 * 1e6
    res = {
        "n": args.n,
        "brands": args.brands,
        "dedup_items": dedup.n_items,
        "dedup_snapshot_mb": round(len(blob) / 2**20, 2),
        "dedup_pickle_s": round(d_pickle_s, 3),
        "dedup_unpickle_s": round(d_load_s, 3),
        "windows_snapshot_kb": round(len(wblob) / 1024, 1),
        "windows_pickle_ms": round(w_pickle_s * 1000, 2),
        "tag_and_check_us_per_post": round(tag_us, 2),
    }
    for k, v in res.items():
        print(f"{k:28s} {v}")
    save("state", res)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
