"""Backfill throughput and memory on the local stack: ``run_backfill`` on N posts.

The posts are ``bench.backtest``'s synthetic mix (~150 posts per minute over the watchlist
brands), written newest first so the event-time sort spills and merges. Runs the backfill core
(History -> OfflinePipeline -> ClickHouse rows flagged backfill, dead letters to Kafka) into a
throw-away database and topic prefix, then drops the database. Prints posts/s (wall and per
CPU-second of this process; ClickHouse's own CPU is not counted), peak RSS and RSS after
25/50/75/100 % of the posts, and writes ``bench/results/backfill.json``. Needs the stack up.

    .venv/bin/python -m bench.backfill                 # 1M posts
    .venv/bin/python -m bench.backfill --n 300000
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench import machine_ms, save
from bench.backtest import _status, cpu_s, generate, process_figures


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.backfill", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--n", type=int, default=1_000_000, help="posts (default 1M)")
    args = p.parse_args(argv)

    from crisis_radar.clickhouse import check_identifier, make_client, migrate
    from crisis_radar.history.backfill import (
        BackfillSummary,
        ClickHouseRows,
        dead_letter_of,
        dead_letter_sender,
        run_backfill,
    )
    from crisis_radar.history.offline import OfflinePipeline
    from crisis_radar.ingest.history import History
    from crisis_radar.ingest.producer import make_producer
    from crisis_radar.settings import get_settings
    from radar_base.runtime import tune_gc

    tag = uuid.uuid4().hex[:8]
    tune_gc(offline=True)  # as the commands do (crisis_radar/cli.py)
    settings = get_settings().model_copy(
        update={"topic_prefix": f"bench{tag}.", "clickhouse_database": f"bench_{tag}"}
    )
    migrate(settings)
    client, producer = make_client(settings), make_producer(settings)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-backfill-") as tmp:
            made, path = Path(tmp) / "made.jsonl", Path(tmp) / "posts.jsonl"
            generate(made, args.n, settings.watchlist_path)
            with path.open("wb") as f:  # newest first, sorted by the backfill; tac streams (an
                subprocess.run(["tac", str(made)], stdout=f, check=True)  # in-memory reversal
            made.unlink()  # would count in this process's peak RSS and its child's at fork)
            print(f"generated {args.n:,} posts (newest first)", flush=True)
            rss: dict[str, float] = {}
            marks = [(q, args.n * q // 100) for q in (25, 50, 75)]

            def progress(s: BackfillSummary) -> None:
                while marks and s.posts >= marks[0][1]:
                    rss[f"{marks.pop(0)[0]}%"] = round(_status("VmRSS"), 1)

            rss_start = _status("VmRSS")
            dead = dead_letter_sender(producer, settings)
            history = History([str(path)], "auto", None, "bench", dead_letter_of(dead),
                              tmpdir=Path(tmp))  # fmt: skip
            speed = [machine_ms()]  # before and after: the box's speed drifts
            t0, c0 = time.perf_counter(), cpu_s()  # cpu_s: not the tac child of the set-up
            summary = run_backfill(history, OfflinePipeline.from_settings(settings),
                                   ClickHouseRows(client), dead, progress)  # fmt: skip
            producer.flush()
            seconds, cpu = time.perf_counter() - t0, cpu_s() - c0
            speed.append(machine_ms())
            rss["100%"] = round(_status("VmRSS"), 1)
        stored = client.execute("SELECT count() FROM posts WHERE backfill = 1")[0][0]
    finally:
        client.execute(f"DROP DATABASE IF EXISTS {check_identifier(settings.clickhouse_database)}")
        client.disconnect()
        producer.close()
    out: dict[str, Any] = {
        "posts": summary.posts,
        "out_of_order": summary.out_of_order,
        "post_rows": summary.stored,
        "post_rows_in_clickhouse": stored,
        "brand_minutes": summary.minutes,
        "alerts": sum(summary.alerts.values()),
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "posts_per_s": round(summary.posts / seconds),
        "posts_per_cpu_s": round(summary.posts / cpu),
        "rss_mb_start": round(rss_start, 1),
        "rss_mb": rss,
        "machine_ms": speed,
        **process_figures(),
    }
    print(f"backfill: {out['posts']:,} posts ({out['out_of_order']:,} out of order), "
          f"{out['post_rows_in_clickhouse']:,} post rows and {out['brand_minutes']:,} minutes "
          f"stored, {out['alerts']} alerts, in {out['seconds']} s wall, {out['cpu_seconds']} "
          f"CPU-s: {out['posts_per_s']:,} posts/s "
          f"({out['posts_per_cpu_s']:,} per CPU-s)")  # fmt: skip
    print(
        f"RSS MB: start {out['rss_mb_start']}, "
        + ", ".join(f"{k} {v}" for k, v in rss.items())
        + f"; peak (VmHWM) {out['peak_rss_mb']}, enrich child {out['child_peak_rss_mb']}"
        f"; load avg {' '.join(out['loadavg'])}"
    )
    print(f"machine speed: {speed[0]} ms before, {speed[1]} ms after (bench.machine_ms)")
    print(f"wrote {save('backfill', out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
