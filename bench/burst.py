"""10x burst over the sustained rate through one worker on the local stack.

Sustained ``--rate`` posts/s for ``--warm-s``, then ``10 * rate`` for ``--burst-s``, then the
sustained rate again for ``--cool-s``. Samples the worker's posts.raw consumer lag and RSS every
0.5 s; prints the peak lag, the drain time (burst end -> lag back to <= one second of sustained
input and every post of the burst in ClickHouse), lost/duplicated posts (FINAL) and writes JSON.

    .venv/bin/python -m bench.burst                       # 15 s burst (~1 min)
    .venv/bin/python -m bench.burst --burst-s 300         # the issue's 5-minute version
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import save

ROOT = Path(__file__).resolve().parent.parent


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.burst", description=__doc__.split("\n")[0])
    p.add_argument("--rate", type=float, default=300.0, help="sustained posts/s (default 300)")
    p.add_argument("--factor", type=float, default=10.0, help="burst multiplier (default 10)")
    p.add_argument("--warm-s", type=float, default=5.0)
    p.add_argument("--burst-s", type=float, default=15.0)
    p.add_argument("--cool-s", type=float, default=5.0)
    p.add_argument(
        "--n",
        type=int,
        default=0,
        help="total posts instead of the phase lengths (scales --burst-s)",
    )
    p.add_argument("--timeout", type=float, default=300.0, help="max seconds to drain")
    return p


def _lag(metrics: dict[tuple[str, tuple[tuple[str, str], ...]], float], topic: str) -> float:
    return sum(
        v
        for (name, labels), v in metrics.items()
        if name == "crisis_radar_consumer_lag" and dict(labels).get("topic") == topic
    )


def run(args: argparse.Namespace) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT / "tests"))
    import faults_support as fs

    from crisis_radar import stack
    from crisis_radar.clickhouse import make_client, migrate
    from crisis_radar.progress import progress_bar
    from crisis_radar.settings import get_settings
    from streams import runner

    base = get_settings()
    stack.up(["kafka", "clickhouse"], base)
    tag = f"burst_{uuid.uuid4().hex[:8]}"
    s = base.model_copy(
        update={
            "topic_prefix": f"{tag}.",
            "clickhouse_database": tag,
            "metrics_port": fs.free_port(),
            "topic_partitions": 4,
        }
    )
    if args.n:  # the burst takes whatever the warm and cool phases leave
        rest = args.n - args.rate * (args.warm_s + args.cool_s)
        args.burst_s = max(1.0, rest / (args.rate * args.factor))
    phases = [
        (args.rate, args.warm_s),
        (args.rate * args.factor, args.burst_s),
        (args.rate, args.cool_s),
    ]
    total = sum(int(r * d) for r, d in phases)
    now = datetime.now(UTC)
    posts = fs.make_posts(
        total, now - timedelta(seconds=total / args.rate), total / args.rate, seed=7
    )
    migrate(s)
    ch = make_client(s)
    samples: list[tuple[float, float, float]] = []  # (t, lag, rss)
    log = Path(s.stack_dir) / "logs" / f"{tag}.log"
    result: dict[str, Any] = {
        "rate": args.rate,
        "factor": args.factor,
        "burst_s": args.burst_s,
        "posts": total,
    }
    try:
        with runner.running_worker(s, log) as proc:
            runner.wait_ready(proc, s.metrics_port, log, timeout=90)
            t0 = time.monotonic()
            marks = []

            def feed() -> None:
                i = 0
                for rate, dur in phases:
                    n = int(rate * dur)
                    marks.append(time.monotonic() - t0)
                    fs.produce(s.kafka_bootstrap, s.topic("posts.raw"), posts[i : i + n], rate=rate)
                    i += n
                marks.append(time.monotonic() - t0)

            feeder = threading.Thread(target=feed)
            feeder.start()
            bar = progress_bar(total=total, desc="stored", unit="post", file=sys.stderr)
            stored, deadline = 0, time.monotonic() + sum(d for _, d in phases) + args.timeout
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    raise RuntimeError(f"worker crashed; see {log}")
                m = runner.scrape(s.metrics_port)
                samples.append(
                    (time.monotonic() - t0, _lag(m, s.topic("posts.raw")), fs.rss_mib(proc.pid))
                )
                new = ch.execute("SELECT count() FROM posts")[0][0]
                bar.update(new - stored)
                stored = new
                if not feeder.is_alive() and stored >= total:
                    break
                time.sleep(0.5)
            bar.close()
            feeder.join()
            done_at = time.monotonic() - t0
        got = Counter(fs.stored_keys(ch))
        want = Counter(fs.post_key(p) for p in posts)
        burst_end = marks[2]
        after = [(t, lag) for t, lag, _ in samples if t >= burst_end]
        drained = next((t for t, lag in after if lag <= args.rate), None)
        result |= {
            "peak_lag": max((lag for _, lag, _ in samples), default=0.0),
            "lag_drain_s": None if drained is None else round(drained - burst_end, 2),
            "all_stored_after_burst_s": round(done_at - burst_end, 2),
            "peak_rss_mib": round(max((r for _, _, r in samples), default=0.0), 1),
            "lost": sum((want - got).values()),
            "duplicated": sum((got - want).values()),
        }
    finally:
        ch.execute(f"DROP DATABASE IF EXISTS {tag}")
        ch.disconnect()
    return result


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    result = run(args)
    for k, v in result.items():
        print(f"{k:<26}{v}")
    save("burst", result)
    return 0 if not result["lost"] and not result["duplicated"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
