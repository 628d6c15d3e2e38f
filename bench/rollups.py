"""Analyst query cost on the local ClickHouse (18.16): hourly negative share per brand from
``posts FINAL``, from ``brand_minutes FINAL`` (the ``brand_hours_exact`` view) and from the
``brand_hours`` materialized rollup; plus what the materialized views cost at insert time.

    .venv/bin/python -m bench.rollups            # 200k posts, 20 brands, one week
    .venv/bin/python -m bench.rollups --n 2000000

Needs the local stack (``crisis-radar stack up``); works in a scratch database, dropped after.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from bench import save
from crisis_radar.clickhouse import make_client, migrate
from crisis_radar.progress import progress_bar
from crisis_radar.settings import get_settings

POST_COLS = (
    "brand, created_at, post_key, author_id, sentiment_label, sentiment_score, "
    "cluster_id, followers, is_duplicate, scored_at"
)
QUERIES = {
    "posts FINAL": "SELECT brand, toStartOfHour(created_at) AS hour, count() AS n, "
    "countIf(sentiment_label = 'negative') / n AS share FROM posts FINAL GROUP BY brand, hour",
    "brand_hours_exact (brand_minutes FINAL)": "SELECT brand, hour, negative_share "
    "FROM brand_hours_exact",
    "brand_hours (MV, -Merge)": "SELECT brand, hour, uniqIfMerge(negative) / uniqMerge(posts) "
    "FROM brand_hours GROUP BY brand, hour",
}


def _posts(n: int, brands: int, t0: datetime, rng: random.Random) -> list[tuple[Any, ...]]:
    span = 7 * 86400
    rows = []
    for i in range(n):
        at = t0 + timedelta(seconds=rng.randrange(span))
        label = rng.choices(["negative", "neutral", "positive"], [0.2, 0.5, 0.3])[0]
        rows.append(
            (
                f"brand{i % brands}",
                at,
                f"bench:{i}",
                f"a{rng.randrange(n // 5 + 1)}",
                label,
                -0.5 if label == "negative" else 0.3,
                f"c{rng.randrange(n // 3 + 1)}",
                rng.randrange(10_000),
                0,
                at,
            )
        )
    return rows


def _minutes(posts: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    cells: dict[tuple[str, datetime], list[int]] = {}
    for brand, at, *_rest in posts:
        c = cells.setdefault((brand, at.replace(second=0)), [0, 0])
        c[0] += 1
        c[1] += _rest[2] == "negative"
    return [(b, m, p, neg, 1) for (b, m), (p, neg) in cells.items()]


def _time(client: Any, sql: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        client.execute(sql)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.rollups",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--n", type=int, default=200_000, help="posts (default 200k)")
    parser.add_argument("--brands", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5, help="runs per query (median)")
    args = parser.parse_args(argv)
    settings = get_settings()
    db = f"bench_rollups_{uuid.uuid4().hex[:8]}"
    try:
        migrate(settings, database=db)
    except Exception as exc:
        print(
            f"bench.rollups: ClickHouse unavailable ({exc}); run crisis-radar stack up",
            file=sys.stderr,
        )
        return 1
    client = make_client(settings, database=db)
    try:
        posts = _posts(args.n, args.brands, datetime(2026, 11, 16, tzinfo=UTC), random.Random(0))
        batch = 50_000
        insert_s = 0.0
        for i in progress_bar(range(0, len(posts), batch), desc="insert posts", file=sys.stderr):
            start = time.perf_counter()
            client.execute(f"INSERT INTO posts ({POST_COLS}) VALUES", posts[i : i + batch])
            insert_s += time.perf_counter() - start
        client.execute(
            "INSERT INTO brand_minutes (brand, minute, posts, negative, version) VALUES",
            _minutes(posts),
        )
        # the same inserts without the two materialized views, for their cost
        client.execute("DROP TABLE brand_hours_mv")
        client.execute("DROP TABLE brand_days_mv")
        plain_s = 0.0
        for i in range(0, len(posts), batch):
            start = time.perf_counter()
            client.execute(f"INSERT INTO posts ({POST_COLS}) VALUES", posts[i : i + batch])
            plain_s += time.perf_counter() - start
        result: dict[str, Any] = {
            "posts": args.n,
            "brands": args.brands,
            "insert_rows_per_s_with_mvs": round(args.n / insert_s),
            "insert_rows_per_s_without_mvs": round(args.n / plain_s),
            "query_ms": {},
        }
        for name, sql in QUERIES.items():
            result["query_ms"][name] = round(_time(client, sql, args.repeat) * 1000, 1)
    finally:
        client.execute(f"DROP DATABASE IF EXISTS {db}")
        client.disconnect()
    print(f"posts: {args.n:,} over {args.brands} brands, one week")
    print(
        f"insert with rollup MVs: {result['insert_rows_per_s_with_mvs']:,} rows/s; "
        f"without: {result['insert_rows_per_s_without_mvs']:,} rows/s"
    )
    for name, ms in result["query_ms"].items():
        print(f"hourly negative share via {name:<40} {ms:>8.1f} ms (median of {args.repeat})")
    save("rollups", result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
