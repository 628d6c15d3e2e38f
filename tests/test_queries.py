"""Every ```sql block of docs/queries.md runs on ClickHouse 18.16 (the stack) and current
ClickHouse (chdb) on sample data; rollups and FINAL do not double count; analysts are read-only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlcheck import Chdb, ClickHouseHttp, seed_statements, sql_blocks

ROOT = Path(__file__).resolve().parent.parent
QUERIES = sql_blocks((ROOT / "docs" / "queries.md").read_text())


def _run_all(db: Any) -> dict[str, str]:
    errors = {}
    for sql in QUERIES:
        try:
            db.execute(sql)
        except Exception as exc:  # collect all, report each failing query
            errors[sql.splitlines()[0] + " ..."] = str(exc)[:500]
    return errors


def _check_numbers(db: Any) -> None:
    # negative share per hour: telvana's crisis hour stands out, other brands stay calm
    rows = db.execute(
        "SELECT brand, toString(hour), negative_share FROM brand_hours_exact ORDER BY brand, hour"
    )
    share = {(b, h[11:13]): float(s) for b, h, s in rows}
    assert share[("telvana", "11")] > 0.6 and share[("telvana", "09")] == 0.0
    assert max(v for (b, _), v in share.items() if b != "telvana") == 0.0
    # the amended minute (version 2) replaces version 1: 2 posts + 1 late = 3, not 2 + 3
    [(posts,)] = db.execute(
        "SELECT posts FROM brand_hours_exact WHERE brand = 'telvana' AND toHour(hour) = 9"
    )
    assert int(posts) == 121
    # redelivered posts: FINAL and the uniq-based rollup count each post once
    [(final,)] = db.execute("SELECT count() FROM posts FINAL WHERE toHour(created_at) = 9")
    [(rolled,)] = db.execute("SELECT uniqMerge(posts) FROM brand_hours WHERE toHour(hour) = 9")
    assert int(final) == int(rolled) == 4 * 120


def test_docs_have_queries() -> None:
    assert len(QUERIES) >= 10
    for sql in QUERIES:  # the 18.16 limits, checked before any server is involved
        upper = sql.upper()
        assert "JSONEXTRACT" not in upper and "TOSTARTOFINTERVAL" not in upper
        assert " OVER (" not in upper and not upper.lstrip().startswith("WITH ")


def test_queries_run_on_current_clickhouse(chdb_db: Chdb) -> None:
    assert _run_all(chdb_db) == {}
    _check_numbers(chdb_db)


@pytest.fixture
def real_db(stack: Any, clickhouse_database: str) -> ClickHouseHttp:
    db = ClickHouseHttp(
        stack.base.clickhouse_host, stack.base.clickhouse_http_port, clickhouse_database
    )
    db.run_all(seed_statements())
    return db


@pytest.mark.stack
def test_queries_run_on_clickhouse_18(real_db: ClickHouseHttp) -> None:
    assert _run_all(real_db) == {}
    _check_numbers(real_db)


@pytest.mark.stack
def test_broken_query_is_reported(real_db: ClickHouseHttp) -> None:
    """The harness can fail: a CTE (unsupported on 18.16) must come back as an error."""
    with pytest.raises(RuntimeError):
        real_db.execute("WITH t AS (SELECT 1 AS x) SELECT x FROM t")


@pytest.mark.stack
def test_analyst_is_read_only(real_db: ClickHouseHttp, clickhouse_database: str) -> None:
    analyst = real_db.as_user("analyst")
    assert int(analyst.execute("SELECT count() FROM alerts FINAL")[0][0]) == 2
    for sql in (
        "INSERT INTO alerts (brand) VALUES ('x')",
        "DROP TABLE alerts",
        "CREATE TABLE evil (x UInt8) ENGINE = Memory",
        "SET readonly = 0",
        "ALTER TABLE posts DROP PARTITION 202611",
    ):
        with pytest.raises(RuntimeError, match=r"readonly|Cannot"):
            analyst.raw(sql)
    assert int(real_db.execute("SELECT count() FROM alerts FINAL")[0][0]) == 2


def test_retention_cutoff() -> None:
    from datetime import date

    from crisis_radar.commands.retention import cutoff

    assert cutoff(date(2026, 11, 23), 1) == 202611
    assert cutoff(date(2026, 11, 23), 13) == 202511
    assert cutoff(date(2026, 1, 5), 2) == 202512


@pytest.mark.stack
def test_retention_drops_only_old_months(
    real_db: ClickHouseHttp, clickhouse_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from crisis_radar.commands import retention

    old = "INSERT INTO {t} ({c}, brand) VALUES (toDateTime('2024-01-10 00:00:00', 'UTC'), 'x')"
    real_db.raw(old.format(t="posts", c="created_at"))
    real_db.raw(old.format(t="brand_replies", c="created_at"))
    real_db.raw(old.format(t="alerts", c="minute"))
    argv = ["--database", clickhouse_database, "--today", "2026-11-23"]

    def counts() -> tuple[int, int, int, int]:
        q = "SELECT count() FROM {} WHERE toYear({}) = {}"
        return (
            int(real_db.execute(q.format("posts", "created_at", 2024))[0][0]),
            int(real_db.execute(q.format("posts", "created_at", 2026))[0][0]),
            int(real_db.execute(q.format("alerts", "minute", 2024))[0][0]),
            int(real_db.execute(q.format("brand_replies", "created_at", 2024))[0][0]),
        )

    before = counts()
    assert before[0] == 1 and before[1] > 0 and before[2] == 1 and before[3] == 1
    assert retention.main([*argv, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would drop" in out and counts() == before
    assert f"would drop {clickhouse_database}.brand_replies partition 202401" in out
    assert "brand_replies 13 months" in out  # the policy lists the brand's replies
    assert retention.main(argv) == 0
    # old posts and brand replies gone, this month's kept, alerts kept
    assert counts() == (0, before[1], 1, 0)
    with pytest.raises(SystemExit):
        retention.main([*argv, "--keep", "posts=0"])


@pytest.mark.stack
def test_explain_shows_why(
    real_db: ClickHouseHttp, clickhouse_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from crisis_radar.commands import explain

    assert explain.main(["--brand", "telvana", "--database", clickhouse_database]) == 0
    out = capsys.readouterr().out
    assert out.startswith("telvana: crisis at 2026-11-23 10:34 UTC (score 0.95, was warning")
    assert "volume" in out and "top terms: outage, signal" in out
    assert "10:34" in out and "<- deciding minute" in out  # minutes around it, from ClickHouse
    assert (
        explain.main(["--brand", "telvana", "--last", "2", "--database", clickhouse_database]) == 0
    )
    assert "warning at 2026-11-23 10:32" in capsys.readouterr().out
    assert explain.main(["--brand", "nobody", "--database", clickhouse_database]) == 1
    assert "no alert for nobody" in capsys.readouterr().err
