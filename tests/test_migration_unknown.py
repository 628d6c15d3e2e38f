"""Migration 0020 (issue 21): brand_minutes.unknown, and brand_hours_exact derives the negative
share and mean sentiment over posts with sentiment evidence, on ClickHouse 18.16 (the stack)
and current ClickHouse (chdb)."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from crisis_radar.clickhouse import MIGRATIONS_DIR, discover, migrate

# One hour: 10 judged posts (4 negative) plus 30 in a language without a model; an older row
# (before the column) reads unknown = 0.
_COLS = ("brand", "minute", "posts", "unique_posts", "unique_authors", "negative", "neutral",
         "positive", "unknown", "sentiment_sum", "version")  # fmt: skip
_ROWS = [
    ("acme", "2026-11-23 10:01:00", 40, 40, 40, 4, 4, 2, 30, -1.0, 1),
    ("acme", "2026-11-23 11:01:00", 10, 10, 10, 5, 5, 0, 0, -2.0, 1),
]
_OLD = ("beta", "2026-11-23 10:02:00", 8, 8, 8, 2, 6, 0, -0.8, 1)  # no unknown value


def _literal(row: tuple[Any, ...]) -> str:
    b, m, *rest = row
    return f"('{b}', toDateTime('{m}', 'UTC'), " + ", ".join(map(str, rest)) + ")"


def _inserts() -> list[str]:
    old_cols = [c for c in _COLS if c != "unknown"]
    return [
        f"INSERT INTO brand_minutes ({', '.join(_COLS)}) VALUES "
        + ", ".join(_literal(r) for r in _ROWS),
        f"INSERT INTO brand_minutes ({', '.join(old_cols)}) VALUES {_literal(_OLD)}",
    ]


_QUERY = (
    "SELECT brand, toHour(hour), posts, unknown, negative_share, mean_sentiment "
    "FROM brand_hours_exact ORDER BY brand, hour"
)


def _check(run: Callable[[str], list[tuple[Any, ...]]]) -> None:
    rows = [(b, int(h), int(p), int(u), round(float(s), 6), round(float(m), 6))
            for b, h, p, u, s, m in run(_QUERY)]  # fmt: skip
    assert rows == [
        ("acme", 10, 40, 30, 0.4, -0.1),  # 4 / (40 - 30), not 4 / 40
        ("acme", 11, 10, 0, 0.5, -0.2),
        ("beta", 10, 8, 0, 0.25, -0.1),
    ]


@pytest.mark.stack
def test_unknown_column_and_evidence_shares_on_1816(settings, clickhouse, clickhouse_database):
    applied = migrate(settings, database=clickhouse_database)
    assert 20 in {m.version for m in applied}
    cols = dict(
        clickhouse.execute(
            "SELECT name, type FROM system.columns WHERE database = "
            "%(db)s AND table = 'brand_minutes'",
            {"db": clickhouse_database},
        )
    )
    assert cols["unknown"] == "UInt32"

    # the native driver takes INSERT data as rows, not as a VALUES literal
    def py(row: tuple[Any, ...]) -> tuple[Any, ...]:
        return (row[0], datetime.fromisoformat(row[1]).replace(tzinfo=UTC), *row[2:])

    old_cols = ", ".join(c for c in _COLS if c != "unknown")
    clickhouse.execute(f"INSERT INTO brand_minutes ({', '.join(_COLS)}) VALUES",
                       [py(r) for r in _ROWS])  # fmt: skip
    clickhouse.execute(f"INSERT INTO brand_minutes ({old_cols}) VALUES", [py(_OLD)])
    _check(lambda sql: clickhouse.execute(sql))


def test_unknown_column_and_evidence_shares_on_chdb(tmp_path: Path) -> None:
    if importlib.util.find_spec("chdb") is None:
        pytest.skip("chdb not installed (pip install -e '.[sqlcheck]')")
    from chdb import session

    sess = session.Session(str(tmp_path / "chdb"))
    sess.query("CREATE DATABASE IF NOT EXISTS t")
    sess.query("USE t")
    for mig in discover(MIGRATIONS_DIR):
        for stmt in mig.statements():
            sess.query(stmt)

    def run(sql: str) -> list[tuple[Any, ...]]:
        out = str(sess.query(sql, "TabSeparated")).strip()
        return [tuple(line.split("\t")) for line in out.splitlines()] if out else []

    for sql in _inserts():
        run(sql)
    _check(run)
