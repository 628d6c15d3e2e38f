"""brand_lang_minutes (migration 0015): per-language minutes, exact under redelivery and backfill,
on ClickHouse 18.16 (the local stack) and current ClickHouse (chdb)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlcheck import CRISIS_AT, T0, ClickHouseHttp, insert_sql, seed_statements

# telvana in the sample data: 2 posts a minute before the crisis (en), 8 after (4 pt, 4 en);
# labels: 6 of the 8 crisis posts negative (i % 4 != 0), of them the 4 pt ones (odd i).
CALM_MIN, CRISIS_MIN = 90, 90
QUERY = (
    "SELECT lang, sum(posts), sum(negative), sum(backfill_posts) FROM brand_lang_minutes "
    "WHERE brand = 'telvana' GROUP BY lang ORDER BY lang"
)


def _backfill_row() -> dict[str, Any]:
    """A backfill run re-wrote one crisis post (pt, negative) with another language and label:
    FINAL keeps the new row only, so it moves from (pt, negative) to (und, neutral)."""
    at = CRISIS_AT + timedelta(seconds=7)  # i = 1 of the first crisis minute
    return {
        "brand": "telvana", "created_at": at, "post_key": "simulated:telvana-90-1",
        "platform": "simulated", "post_id": "telvana-90-1", "author_id": "a1",
        "author_handle": "", "followers": 1, "text": "x", "lang": "",
        "url": "", "hashtags": [], "mentions": [], "likes": 0, "reposts": 0, "replies": 0,
        "quotes": 0, "sentiment_label": "neutral", "sentiment_score": 0.0,
        "cluster_id": "c", "is_duplicate": False, "cluster_size": 1, "cluster_authors": 1,
        "campaign": False, "scored_at": at + timedelta(hours=5), "backfill": 1,
    }  # fmt: skip


EXPECTED = [
    ("en", 2 * CALM_MIN + 4 * CRISIS_MIN, 2 * CRISIS_MIN, 0),
    ("pt", 4 * CRISIS_MIN - 1, 4 * CRISIS_MIN - 1, 0),
    ("und", 1, 0, 1),
]


def _check(db: Any) -> None:
    db.run_all([*seed_statements(), insert_sql("posts", [_backfill_row()])])
    rows = [(r[0], int(r[1]), int(r[2]), int(r[3])) for r in db.execute(QUERY)]
    assert rows == EXPECTED
    # one row per (brand, minute, lang): the minutes of the crisis carry two languages
    first = T0 + timedelta(minutes=100)
    langs = db.execute(
        "SELECT lang, posts FROM brand_lang_minutes WHERE brand = 'telvana' AND minute = "
        f"toDateTime('{first:%Y-%m-%d %H:%M:%S}', 'UTC') ORDER BY lang"
    )
    assert [(r[0], int(r[1])) for r in langs] == [("en", 4), ("pt", 4)]


def test_brand_lang_minutes_on_current_clickhouse() -> None:
    pytest.importorskip("chdb", reason="pip install -e '.[sqlcheck]'")
    from sqlcheck import Chdb

    db = Chdb()
    try:
        _check(db)
    finally:
        db.close()


@pytest.mark.stack
def test_brand_lang_minutes_on_clickhouse_18(stack: Any, clickhouse_database: str) -> None:
    db = ClickHouseHttp(
        stack.base.clickhouse_host, stack.base.clickhouse_http_port, clickhouse_database
    )
    version = db.execute("SELECT version()")[0][0]
    assert str(version).startswith("18.16"), version  # the server the project supports
    _check(db)
