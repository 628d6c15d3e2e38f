"""ClickHouse sink on the real server: batching, idempotent rows, retry, back-pressure."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY

from crisis_radar.clickhouse import make_client, migrate
from crisis_radar.stack._proc import free_port
from schemas.models import Author, BrandMinute, CrisisAlert, Post, ScoredPost, Severity
from streams.sinks import (
    ALERTS_COLUMNS,
    BRAND_MINUTES_COLUMNS,
    POSTS_COLUMNS,
    ClickHouseSink,
    alert_row,
    minute_row,
    post_row,
)

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
pytestmark = pytest.mark.stack


def scored(i: int, brand: str = "telvana") -> ScoredPost:
    post = Post(
        platform="simulated",
        post_id=str(i),
        author=Author(id=f"u{i % 7}", followers=i),
        text=f"telvana outage number {i}",
        created_at=T0 + timedelta(seconds=i),
        hashtags=["telvanadown"],
    )
    return ScoredPost(
        post=post,
        brand=brand,
        sentiment_label="negative",
        sentiment_score=-0.5,
        cluster_id=f"c{i % 3}",
        is_duplicate=i % 3 != 0,
        scored_at=T0 + timedelta(seconds=i + 1),
    )


@pytest.fixture
def db(settings, clickhouse, clickhouse_database):
    migrate(settings, database=clickhouse_database)
    return clickhouse


def factory(settings, database):
    return lambda: make_client(settings, database=database)


def test_posts_batched_and_idempotent(settings, db, clickhouse_database) -> None:
    sink = ClickHouseSink(
        "posts", POSTS_COLUMNS, factory(settings, clickhouse_database), batch_rows=10
    )
    before = (
        REGISTRY.get_sample_value(
            "crisis_radar_clickhouse_insert_seconds_count", {"table": "posts"}
        )
        or 0.0
    )
    rows = [post_row(scored(i)) for i in range(25)]

    async def run() -> None:
        await sink.put(rows)
        await sink.close()

    asyncio.run(run())
    assert sink.rows_written == 25
    after = REGISTRY.get_sample_value(
        "crisis_radar_clickhouse_insert_seconds_count", {"table": "posts"}
    )
    assert after - before == 3  # 10 + 10 + 5
    # Redelivery of the same batch (at-least-once): FINAL hides the copies.
    sink.insert(rows[:10])
    assert db.execute("SELECT count() FROM posts")[0][0] == 35
    assert db.execute("SELECT count() FROM posts FINAL")[0][0] == 25
    got = db.execute(
        "SELECT post_key, author_id, hashtags, is_duplicate, created_at FROM posts FINAL "
        "WHERE post_key = %(k)s",
        {"k": "simulated:3"},
    )
    assert got[0][:4] == ("simulated:3", "u3", ["telvanadown"], 0)
    assert got[0][4].replace(tzinfo=UTC) == T0 + timedelta(seconds=3)


def test_minute_versions_and_alerts(settings, db, clickhouse_database) -> None:
    mins = ClickHouseSink(
        "brand_minutes", BRAND_MINUTES_COLUMNS, factory(settings, clickhouse_database)
    )
    m1 = BrandMinute(brand="telvana", minute=T0, posts=10, negative=4)
    m2 = m1.model_copy(update={"posts": 12, "late_posts": 2, "version": 2})
    mins.insert([minute_row(m1), minute_row(m2), minute_row(m1)])
    assert db.execute("SELECT posts, version FROM brand_minutes FINAL") == [(12, 2)]
    alerts = ClickHouseSink("alerts", ALERTS_COLUMNS, factory(settings, clickhouse_database))
    a = CrisisAlert(
        alert_id="a1",
        brand="telvana",
        minute=T0,
        severity=Severity.CRISIS,
        previous_severity=Severity.NONE,
        score=0.9,
        summary="volume x8",
        top_terms=["outage"],
        created_at=T0,
    )
    alerts.insert([alert_row(a)])
    alerts.insert([alert_row(a)])
    assert db.execute("SELECT alert_id, severity_label, top_terms FROM alerts FINAL") == [
        ("a1", "crisis", ["outage"])
    ]


def test_retry_until_clickhouse_answers(settings, db, clickhouse_database) -> None:
    down = settings.model_copy(update={"clickhouse_port": free_port()})  # nothing listens there
    calls = {"n": 0}

    def flaky():
        calls["n"] += 1
        target = down if calls["n"] <= 2 else settings
        return make_client(target, database=clickhouse_database, connect_timeout=1)

    sink = ClickHouseSink("posts", POSTS_COLUMNS, flaky, backoff_initial_s=0.05)
    assert sink.insert([post_row(scored(i)) for i in range(5)]) == 5
    assert sink.attempts_failed == 2
    assert db.execute("SELECT count() FROM posts FINAL")[0][0] == 5


def test_back_pressure_bounds_the_queue(settings, db, clickhouse_database) -> None:
    down = settings.model_copy(update={"clickhouse_port": free_port()})
    state = {"up": False}

    def switchable():
        return make_client(
            settings if state["up"] else down, database=clickhouse_database, connect_timeout=1
        )

    sink = ClickHouseSink(
        "posts",
        POSTS_COLUMNS,
        switchable,
        batch_rows=5,
        max_pending_rows=10,
        flush_interval_s=0.05,
        backoff_initial_s=0.05,
        backoff_max_s=0.1,
    )

    async def run() -> int:
        await sink.put([post_row(scored(i)) for i in range(10)])
        blocked = asyncio.create_task(sink.put([post_row(scored(i)) for i in range(10, 20)]))
        await asyncio.sleep(0.5)
        assert not blocked.done()  # ClickHouse down and the queue full: the producer waits
        peak = sink.pending
        state["up"] = True
        await asyncio.wait_for(blocked, 10)
        await sink.close()
        return peak

    assert asyncio.run(run()) <= 10
    assert db.execute("SELECT count() FROM posts FINAL")[0][0] == 20
