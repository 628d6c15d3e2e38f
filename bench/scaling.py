"""1, 2 and 3 workers of one consumer group on the local single-node stack: CPU per post and lag.

For each worker count: a fresh topic prefix and database, the workers started and Ready, then
``--n`` posts produced into posts.raw as fast as one producer goes; the run times until every
post is stored,
samples the lag (posts not yet stored) every second, and sums the CPU of all the workers and
their enrichment children. On this 2-core box (broker, ClickHouse and the load on the same
cores) it checks linearity (CPU per post should stay flat as workers are added: no work is
repeated), not absolute speed. Writes bench/results/scaling.json; docs/scaling.md.

    python -m bench scaling --n 20000 [--workers 1,2,3]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from typing import Any

from bench import save
from bench.pipeline import SETTLE_S, _count, _cpu_s, _drop_topics, _posts, _produce
from crisis_radar.stack._proc import free_port


def run_one(workers: int, n: int, timeout: float) -> dict[str, Any]:
    from crisis_radar.clickhouse import make_client, migrate
    from crisis_radar.settings import get_settings
    from detectors.brands import Watchlist
    from streams import runner
    from streams.topics import ensure_topics

    tag = f"scale{workers}w{int(time.time())}"
    base = get_settings()
    settings = base.model_copy(update={"topic_prefix": f"{tag}.", "clickhouse_database": tag})
    migrate(settings)
    ensure_topics(settings)
    brands = [b.id for b in Watchlist.from_yaml(settings.watchlist_path).brands][:8]
    ch = make_client(settings)
    out: dict[str, Any] = {"workers": workers, "n": n, "partitions": settings.topic_partitions}
    try:
        with contextlib.ExitStack() as stack:
            procs = []
            for i in range(workers):
                # Same group (worker_id), own metrics port and Faust data folder each.
                w = settings.model_copy(update={
                    "stack_dir": settings.stack_dir / "bench" / f"{tag}-{i}",
                    "metrics_port": free_port(),
                })  # fmt: skip
                log = settings.stack_dir / "logs" / f"{tag}-worker{i}.log"
                proc = stack.enter_context(runner.running_worker(w, log))
                procs.append((proc, w, log))
            for proc, w, log in procs:
                runner.wait_ready(proc, w.metrics_port, log, timeout=120)
            # The group has settled (every worker Ready): now the load, as fast as it goes.
            cpu0 = sum(_cpu_s(p.pid) for p, _, _ in procs)
            t0 = time.monotonic()
            raw = settings.topic("posts.raw")
            _produce(settings.kafka_bootstrap, raw, _posts(n, brands, 0, "s"), n, 0)
            lag: list[int] = []
            stored, last = 0, time.monotonic()
            while time.monotonic() - t0 < timeout:
                count = _count(ch, "s")
                if count != stored:
                    stored, last = count, time.monotonic()
                lag.append(n - stored)
                if stored >= n:
                    break
                # a few posts an English-only brand drops (another language): bench.pipeline
                if stored >= 0.999 * n and time.monotonic() - last > SETTLE_S:
                    break
                time.sleep(1)
            elapsed = last - t0  # to the last row stored, not to the settle wait
            lag = lag[: int(elapsed) + 1]
            cpu = sum(_cpu_s(p.pid) for p, _, _ in procs) - cpu0
        out.update(
            stored=stored,
            seconds=round(elapsed, 1),
            posts_per_s=round(stored / elapsed, 1) if elapsed else 0.0,
            cpu_us_per_post=round(cpu / max(1, stored) * 1e6, 1),
            lag_every_s=lag,
            load1=round(os.getloadavg()[0], 2),
        )
        out["not_stored"] = n - stored
        if stored < 0.999 * n:
            out["error"] = f"only {stored} of {n} posts stored in {timeout:.0f}s"
    finally:
        with contextlib.suppress(Exception):  # cleanup only: never hide the figures
            ch.execute(f"DROP DATABASE IF EXISTS {tag}")
        ch.disconnect()
        _drop_topics(settings)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench scaling", description=__doc__)
    ap.add_argument("--n", type=int, default=100_000, help="posts sent per run")
    ap.add_argument("--workers", default="1,2,3", help="worker counts to run, in order")
    ap.add_argument("--timeout", type=float, default=900, help="per run, seconds")
    args = ap.parse_args(argv or [])
    runs = [run_one(int(k), args.n, args.timeout) for k in args.workers.split(",")]
    print(f"{'workers':>8} {'posts/s':>9} {'CPU us/post':>12} {'lag (posts) every 5 s'}")
    for r in runs:
        lag = ", ".join(f"{x:,}" for x in r.get("lag_every_s", [])[::5])
        print(f"{r['workers']:>8} {r.get('posts_per_s', 0):>9,.0f} "
              f"{r.get('cpu_us_per_post', 0):>12,.0f} {lag}")  # fmt: skip
    base = runs[0].get("cpu_us_per_post") or 0
    result = {"runs": runs, "cpus": os.cpu_count(),
              "cpu_per_post_vs_one_worker": [round(r.get("cpu_us_per_post", 0) / base, 2)
                                             if base else None for r in runs]}  # fmt: skip
    save("scaling", result)
    errors = [r["error"] for r in runs if "error" in r]
    for e in errors:
        print(e, file=sys.stderr)
    return 1 if errors else 0
