"""Sink rows derived from the records (issue 16): one declaration per table gives the column list
and the row builder; they match the migrated tables on the real ClickHouse (18.16) and on current
ClickHouse (chdb), every type is accepted, and backfill rows are flagged."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from crisis_radar.clickhouse import discover, make_client, migrate
from crisis_radar.settings import Settings
from schemas.models import (
    Author,
    BrandMinute,
    CrisisAlert,
    DeadLetter,
    Engagement,
    Post,
    ScoredPost,
    Severity,
    SignalExplanation,
    TopCluster,
    TopPost,
)
from streams import rows
from streams.sinks import ClickHouseSink, dead_letter_row, post_row, write_rows

T0 = datetime(2026, 11, 23, 10, 0, 7, 654321, tzinfo=UTC)


def records() -> dict[str, Any]:
    """One record per table with every optional field set (so each column carries data)."""
    post = Post(
        platform="bluesky",
        post_id="3k1",
        author=Author(id="did:plc:x", handle="ann", followers=1200, verified=True),
        text="@telvana ma commande n'est jamais arrivée 😡",
        lang="fr",
        created_at=T0,
        url="https://bsky.app/p/3k1",
        reply_to="3k0",
        repost_of="3jz",
        hashtags=["telvanadown", "outage"],
        mentions=["telvana"],
        engagement=Engagement(likes=3, reposts=2, replies=1, quotes=4),
    )
    return {
        "posts": ScoredPost(
            post=post,
            brand="telvana",
            sentiment_label="negative",
            sentiment_score=-0.75,
            cluster_id="c1",
            is_duplicate=True,
            cluster_size=3,
            cluster_authors=2,
            campaign=True,
            scored_at=T0 + timedelta(seconds=2),
            addressed=True,
        ),
        "brand_replies": ScoredPost(
            post=post.model_copy(
                update={"author": Author(id="did:plc:t", handle="telvanahelp"), "post_id": "3k2"}
            ),
            brand="telvana",
            sentiment_label="neutral",
            sentiment_score=0.0,
            cluster_id="reply:bluesky:3k2",
            is_duplicate=False,
            scored_at=T0 + timedelta(seconds=3),
            brand_reply=True,
        ),
        "brand_minutes": BrandMinute(
            brand="telvana",
            minute=T0.replace(second=0, microsecond=0),
            posts=10,
            unique_posts=8,
            unique_authors=7,
            negative=6,
            neutral=3,
            positive=1,
            sentiment_sum=-3.25,
            reach=10**10,
            duplicates=2,
            campaign_posts=1,
            new_clusters=4,
            late_posts=1,
            version=2,
            burst_term_posts=5,
            burst_term_negative=4,
            burst_terms=["outage"],
            complaints=4,
            brand_replies=2,
            due_15m=3,
            answered_15m=2,
            due_1h=5,
            answered_1h=4,
            responses_1h=6,
            response_median_s=412.5,
            unanswered_1h=7,
            silent_min=3,
        ),
        "alerts": CrisisAlert(
            alert_id="a1",
            brand="telvana",
            minute=T0.replace(second=0, microsecond=0),
            severity=Severity.CRISIS,
            previous_severity=Severity.WATCH,
            score=0.875,
            summary="volume x8, negative share 75%",
            signals=[SignalExplanation(signal="volume", observed=80, expected=10, score=0.9)],
            top_posts=[TopPost(post_key="bluesky:3k1", text="jamais arrivée", author="ann")],
            top_terms=["outage"],
            top_clusters=[
                TopCluster(cluster_id="c1", example_text="x", posts=3, distinct_authors=2)
            ],
            created_at=T0 + timedelta(seconds=30),
        ),
        "dead_letters": DeadLetter(
            reason="bad_json",
            error="Expecting value",
            source="posts.raw",
            original="e30=",
            received_at=T0,
        ),
    }


# --- without ClickHouse ---


@pytest.mark.parametrize("table", sorted(rows.TABLES))
def test_every_record_field_is_stored_or_declared_unstored(table: str) -> None:
    assert rows.TABLES[table].uncovered_fields() == set()


@pytest.mark.parametrize("table", sorted(rows.TABLES))
def test_generated_row_equals_the_plain_reading(table: str) -> None:
    spec, record = rows.TABLES[table], records()[table]
    row = spec.row(record)
    assert row == spec.slow_row(record)
    assert len(row) == len(spec.names)
    if spec.backfill:
        assert row[-1] == 0 and spec.names[-1] == "backfill"
        assert spec.row(record, backfill=True) == (*row[:-1], 1)
        assert spec.row(record, backfill=True) == spec.slow_row(record, backfill=True)


def test_post_row_reads_the_record() -> None:
    sp = records()["posts"]
    row = dict(zip(rows.POSTS.names, post_row(sp), strict=True))
    assert row["post_key"] == "bluesky:3k1" and row["author_handle"] == "ann"
    assert row["created_at"] == int(T0.timestamp())  # whole UTC seconds
    assert (row["is_duplicate"], row["campaign"], row["likes"], row["quotes"]) == (1, 1, 3, 4)
    bare = sp.model_copy(update={"post": sp.post.model_copy(update={"lang": None, "url": None})})
    assert post_row(bare)[rows.POSTS.names.index("url")] == ""  # no Nullable in the DDL
    # the stored language is the enrich stage's decision, never the platform's raw tag
    assert post_row(bare)[rows.POSTS.names.index("lang")] == "und"
    pt = sp.model_copy(update={"lang": "pt"})
    assert post_row(pt)[rows.POSTS.names.index("lang")] == "pt"


def test_dead_letters_have_no_backfill_flag() -> None:
    d = records()["dead_letters"]
    assert len(dead_letter_row(d)) == len(rows.DEAD_LETTERS.names)
    with pytest.raises(ValueError, match="no backfill column"):
        dead_letter_row(d, backfill=True)


def test_a_path_the_model_does_not_have_fails_at_declaration() -> None:
    for path in ("post.autor.id", "post.key.x", "brand.x", "nope"):
        with pytest.raises(AttributeError):
            rows.TableRows("posts", ScoredPost, (rows.Column("x", path),), backfill=True)


# --- the real ClickHouse (18.16 on the local stack) ---


def _columns(client: Any, database: str, table: str) -> dict[str, tuple[str, str]]:
    got = client.execute(
        "SELECT name, type, default_kind FROM system.columns "
        "WHERE database = %(db)s AND table = %(t)s",
        {"db": database, "t": table},
    )
    return {name: (typ, kind) for name, typ, kind in got}


def _norm(value: Any) -> Any:
    if isinstance(value, datetime):  # the server returns naive UTC; rows may send ints
        return int(value.replace(tzinfo=UTC).timestamp())
    if isinstance(value, float):
        return pytest.approx(value, rel=1e-6)  # Float32 columns
    return value


@pytest.mark.stack
def test_sink_columns_match_the_migrated_tables(
    settings: Settings, clickhouse: Any, clickhouse_database: str
) -> None:
    migrate(settings, database=clickhouse_database)
    for table, spec in rows.TABLES.items():
        cols = _columns(clickhouse, clickhouse_database, table)
        assert set(spec.names) <= set(cols), table
        required = {n for n, (_, kind) in cols.items() if kind == ""}
        assert required <= set(spec.names), f"{table}: columns the sink leaves out"
        if spec.backfill:
            assert cols["backfill"] == ("UInt8", "DEFAULT"), table


@pytest.mark.stack
def test_one_row_per_table_round_trips_live_and_backfill(
    settings: Settings, clickhouse: Any, clickhouse_database: str
) -> None:
    migrate(settings, database=clickhouse_database)
    for table, record in records().items():
        spec = rows.TABLES[table]
        sink = ClickHouseSink(
            table, spec.names, lambda: make_client(settings, database=clickhouse_database)
        )
        sent = [spec.row(record)]
        if spec.backfill:  # another brand: the same identity would replace the live row
            sent.append(spec.row(record.model_copy(update={"brand": "orbitel"}), backfill=True))
        assert sink.insert(sent) == len(sent)
        order = "backfill" if spec.backfill else "letter_id"
        got = clickhouse.execute(f"SELECT {', '.join(spec.names)} FROM {table} ORDER BY {order}")
        assert [tuple(map(_norm, r)) for r in sent] == [tuple(map(_norm, r)) for r in got]
        if spec.backfill:
            assert [r[-1] for r in got] == [0, 1]


@pytest.mark.stack
def test_write_rows_outside_an_event_loop(
    settings: Settings, clickhouse: Any, clickhouse_database: str
) -> None:
    migrate(settings, database=clickhouse_database)
    sp = records()["posts"]
    history = (
        post_row(
            sp.model_copy(update={"post": sp.post.model_copy(update={"post_id": str(i)})}),
            backfill=True,
        )
        for i in range(25)
    )
    assert write_rows(clickhouse, "posts", history, batch_rows=10) == 25
    assert clickhouse.execute("SELECT count(), sum(backfill) FROM posts FINAL") == [(25, 25)]
    assert clickhouse.execute("SELECT count() FROM posts WHERE backfill = 0") == [(0,)]
    # the rollups fed from posts keep working after the new column and count backfilled posts
    assert clickhouse.execute("SELECT uniqMerge(posts) FROM brand_hours") == [(25,)]
    assert write_rows(clickhouse, "posts", []) == 0


# --- current ClickHouse (chdb) ---


def test_sink_columns_match_on_current_clickhouse(tmp_path: Path) -> None:
    if importlib.util.find_spec("chdb") is None:
        pytest.skip("chdb not installed (pip install -e '.[sqlcheck]')")
    sess: Any = importlib.import_module("chdb.session").Session(str(tmp_path / "chdb"))
    try:
        sess.query("CREATE DATABASE IF NOT EXISTS t")
        sess.query("USE t")
        for mig in discover():
            for stmt in mig.statements():
                sess.query(stmt)
        for table, spec in rows.TABLES.items():
            out = str(
                sess.query(
                    f"SELECT name, default_kind FROM system.columns "
                    f"WHERE database = 't' AND table = '{table}'",
                    "TSV",
                )
            )
            cols = dict(line.split("\t") for line in out.strip().splitlines())
            assert set(spec.names) <= set(cols), table
            assert {n for n, k in cols.items() if k == ""} <= set(spec.names), table
            if spec.backfill:
                assert cols["backfill"] == "DEFAULT", table
    finally:
        sess.close()
