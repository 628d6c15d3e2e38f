"""Simulator benchmark: posts/s generating, serialising and gzip-writing a scenario; peak RSS.

``python -m bench.simulate [--days 7] [--brands 10] [--n POSTS_CAP] [--seed 0]``. Default: one
week of 10 brands (the 8 demo brands plus 2 clones) with ~1 random event per brand-week, which
is the "a week for 10 brands takes seconds" budget. ``--n`` stops after that many posts.
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import resource
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from bench import save
from crisis_radar.progress import progress_bar
from crisis_radar.settings import PROJECT_ROOT
from crisis_radar.simulate import Scenario, Simulator, load_brands, post_json, random_events
from schemas.models import Post


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.simulate", description=__doc__)
    ap.add_argument("--days", type=float, default=7.0)
    ap.add_argument("--brands", type=int, default=10)
    ap.add_argument("--n", type=int, default=0, help="stop after N posts (0 = whole scenario)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    base = load_brands(PROJECT_ROOT / "deploy" / "watchlist.yaml")
    brands = [
        replace(base[i % len(base)], id=f"{base[i % len(base)].id}{i // len(base) or ''}")
        for i in range(args.brands)
    ]
    start = datetime(2026, 11, 23, tzinfo=UTC)
    minutes = int(args.days * 1440)
    k = max(1, round(args.brands * args.days / 7))
    sc = Scenario(
        start=start,
        minutes=minutes,
        brands=brands,
        seed=args.seed,
        events=random_events(brands, start, minutes, k, args.seed),
    )

    t0 = time.perf_counter()
    sim = Simulator(sc)
    setup_s = time.perf_counter() - t0

    # 1) generate + serialise + gzip (the CLI's file path), timed end to end.
    n, gen_s, raw_bytes, sample = 0, 0.0, 0, []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "posts.jsonl.gz"
        t1, c1 = time.perf_counter(), time.process_time()
        with (
            open(path, "wb") as raw,
            gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=5) as gz,
            io.TextIOWrapper(gz, encoding="utf-8") as f,
        ):
            buf: list[str] = []
            bar = progress_bar(total=minutes, unit="min", desc="simulate", file=sys.stderr)
            for post in sim.posts(progress=bar.update):
                line = post_json(post)
                buf.append(line)
                n += 1
                if n % 1000 == 0:
                    sample.append(line)
                if len(buf) >= 5000:
                    chunk = "\n".join(buf) + "\n"
                    raw_bytes += len(chunk.encode())
                    f.write(chunk)
                    buf.clear()
                if args.n and n >= args.n:
                    break
            bar.close()
            if buf:
                chunk = "\n".join(buf) + "\n"
                raw_bytes += len(chunk.encode())
                f.write(chunk)
        gen_s, cpu_s = time.perf_counter() - t1, time.process_time() - c1
        gz_bytes = os.path.getsize(path)

    # 2) the pydantic path the fast path avoids, on a sample, for comparison.
    t2 = time.perf_counter()
    for line in sample:
        Post.model_validate_json(line).model_dump_json()
    pyd_us = (time.perf_counter() - t2) / max(len(sample), 1) * 1e6

    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    res = {
        "brands": args.brands,
        "days": args.days,
        "events": len(sc.events),
        "posts": n,
        "setup_s": round(setup_s, 2),
        "generate_write_s": round(gen_s, 2),
        "generate_write_cpu_s": round(cpu_s, 2),
        "posts_per_s_wall": round(n / gen_s),
        "posts_per_s_cpu": round(n / cpu_s),
        "cpu_us_per_post": round(cpu_s / max(n, 1) * 1e6, 1),
        "pydantic_roundtrip_us_per_post": round(pyd_us, 1),
        "jsonl_mb": round(raw_bytes / 1e6, 1),
        "gz_mb": round(gz_bytes / 1e6, 1),
        "bytes_per_post": round(raw_bytes / max(n, 1)),
        "peak_rss_mb": round(rss_mb),
    }
    for key, val in res.items():
        print(f"{key:>32}: {val}")
    save("simulate", res)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
