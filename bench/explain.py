"""Issue 8: ``crisis-radar explain`` within 1 s for an alert with 100k posts in its window, and
what the post-crisis report costs on the same data (local ClickHouse).

    .venv/bin/python -m bench.explain             # 100k posts in the 10 minutes of one alert
    .venv/bin/python -m bench.explain --n 1000000

Works in a scratch database, dropped after. Writes bench/results/explain.json.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import save
from crisis_radar.clickhouse import make_client, migrate
from crisis_radar.settings import get_settings

MINUTE = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def _insert(client: Any, n: int) -> None:
    cols = [
        "brand",
        "created_at",
        "post_key",
        "platform",
        "post_id",
        "author_id",
        "followers",
        "text",
        "sentiment_label",
        "sentiment_score",
        "cluster_id",
        "is_duplicate",
        "scored_at",
    ]
    times = [MINUTE + timedelta(seconds=(i * 600) // n - 300) for i in range(n)]
    data = [
        ["telvana"] * n,
        times,
        [f"k{i}" for i in range(n)],
        ["simulated"] * n,
        [str(i) for i in range(n)],
        [f"a{i % (n // 10 + 1)}" for i in range(n)],
        [(i * 7919) % 100_000 for i in range(n)],
        [f"telvana outage {i % 997} no signal in town {i % 31}" for i in range(n)],
        ["negative" if i % 3 else "neutral" for i in range(n)],
        [-0.6 if i % 3 else 0.0 for i in range(n)],
        [f"c{i % 2000}" for i in range(n)],
        [int(i >= 2000) for i in range(n)],
        times,
    ]
    client.execute(f"INSERT INTO posts ({', '.join(cols)}) VALUES", data, columnar=True)
    per_min = n // 10
    client.execute(
        "INSERT INTO brand_minutes (brand, minute, posts, negative, sentiment_sum) VALUES",
        [
            (
                "telvana",
                MINUTE + timedelta(minutes=i),
                10 if abs(i) > 5 else per_min,
                2 if abs(i) > 5 else per_min * 2 // 3,
                -1.0,
            )
            for i in range(-120, 120)
        ],
    )
    client.execute(
        "INSERT INTO alerts (brand, minute, alert_id, severity, summary, top_terms, created_at)"
        " VALUES",
        [("telvana", MINUTE, "bench", 3, "telvana: crisis", ["outage"], MINUTE)],
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m bench.explain",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--n", type=int, default=100_000, help="posts in the alert's window")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    from crisis_radar.commands import explain
    from crisis_radar.report import write_report

    settings = get_settings()
    db = f"bench_explain_{uuid.uuid4().hex[:8]}"
    migrate(settings, database=db)
    client = make_client(settings, database=db)
    try:
        t = time.perf_counter()
        _insert(client, args.n)
        insert_s = time.perf_counter() - t
        explain_s = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):
                rc = explain.main(["--alert-id", "bench", "--database", db])
            explain_s.append(time.perf_counter() - t)
            if rc != 0:
                print("explain failed", file=sys.stderr)
                return 1
        report_s = []
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(max(1, args.repeat // 2)):
                t = time.perf_counter()
                write_report(
                    client,
                    db,
                    "telvana",
                    MINUTE - timedelta(hours=2),
                    MINUTE + timedelta(hours=2),
                    Path(tmp) / str(i),
                    alert_id="bench",
                    progress=lambda _: None,
                )
                report_s.append(time.perf_counter() - t)
    finally:
        client.execute(f"DROP DATABASE IF EXISTS {db}")
        client.disconnect()
    result = {
        "posts": args.n,
        "insert_s": round(insert_s, 3),
        "explain_median_s": round(statistics.median(explain_s), 3),
        "explain_max_s": round(max(explain_s), 3),
        "report_median_s": round(statistics.median(report_s), 3),
        "explain_under_1s": max(explain_s) < 1.0,
    }
    print(f"posts in window        {args.n:>10,}")
    print(f"columnar insert        {insert_s:>10.2f} s")
    print(
        f"explain (median/max)   {result['explain_median_s']:>10.3f} / "
        f"{result['explain_max_s']:.3f} s  (target < 1 s)"
    )
    print(f"report (median)        {result['report_median_s']:>10.3f} s  (HTML + MD + 4 charts)")
    save("explain", result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
