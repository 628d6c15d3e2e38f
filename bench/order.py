"""External sort by event time (``crisis_radar.ingest.order``): posts/s and peak memory.

Sorts N synthetic posts (~350-byte values, shuffled event times) generated on the fly, so the
input costs no memory, and writes bench/results/order.json.

    .venv/bin/python -m bench.order                  # 1M posts, chunks of 200k
    .venv/bin/python -m bench.order --n 200000 --chunk 20000
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import save
from crisis_radar.ingest.pipeline import Send

T0 = datetime(2026, 11, 23, tzinfo=UTC)


def posts(n: int, seed: int = 0) -> Iterator[Send]:
    """Sends with event times shuffled over a day, ties included (second resolution)."""
    rng = random.Random(seed)
    body = b'{"schema_version":1,"platform":"simulated","text":"' + b"acme outage " * 25
    for i in range(n):
        t = T0 + timedelta(seconds=rng.randrange(86_400))
        yield Send(b"simulated:p%d" % i, body + b'%d"}' % i, t)


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def run(n: int, chunk: int) -> dict[str, float | int]:
    from crisis_radar.ingest.order import TimeSorter

    t, c = time.perf_counter(), time.process_time()
    for _ in posts(n):
        pass
    gen_s, gen_cpu = time.perf_counter() - t, time.process_time() - c
    rss0 = _status_mb("VmRSS")
    with tempfile.TemporaryDirectory(prefix="bench-order-") as tmp:
        sorter = TimeSorter(chunk, Path(tmp))
        t, c = time.perf_counter(), time.process_time()
        last = T0
        for send in sorter.sort(posts(n)):
            assert send.created_at >= last
            last = send.created_at
        wall, cpu = time.perf_counter() - t, time.process_time() - c
    sort_s = max(wall - gen_s, 1e-9)
    result: dict[str, float | int] = {
        "n": n,
        "chunk": chunk,
        "runs": sorter.runs,
        "out_of_order": sorter.out_of_order,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "generate_s": round(gen_s, 2),
        "posts_per_s": round(n / wall),  # generation included
        "sort_posts_per_s": round(n / sort_s),  # generation time taken off
        "sort_posts_per_cpu_s": round(n / max(cpu - gen_cpu, 1e-9)),
        "rss_before_mb": round(rss0),
        "peak_rss_mb": round(_status_mb("VmHWM")),
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }
    print(f"sorted {n:,} posts in {sorter.runs} runs of {chunk:,}: {wall:.1f}s wall, "
          f"{cpu:.1f} CPU-s; {n / wall:,.0f} posts/s with generation, {n / sort_s:,.0f} posts/s "
          f"for the sort ({result['sort_posts_per_cpu_s']:,} per CPU-second); peak RSS "
          f"{result['peak_rss_mb']} MB (before: {rss0:.0f} MB); "
          f"load average {result['loadavg_1m']} on {os.cpu_count()} CPUs")  # fmt: skip
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.order", description=__doc__)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--chunk", type=int, default=200_000)
    args = ap.parse_args(argv)
    save("order", run(args.n, args.chunk))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
