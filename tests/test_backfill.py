"""``crisis-radar backfill`` on the real Kafka and ClickHouse: a CSV export with a column mapping
and bad rows (dead letters on posts.dlq with their reasons), and the one-line errors."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from test_backtest import MAP, export_with_bad_rows, write_csv

from crisis_radar.commands import backfill
from schemas.models import DeadLetter

pytestmark = pytest.mark.stack


def dead_letters(settings: Any) -> list[DeadLetter]:
    from kafka import KafkaConsumer

    topic, bootstrap = settings.topic("posts.dlq"), settings.kafka_bootstrap
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             consumer_timeout_ms=3000)  # fmt: skip
    try:
        return [DeadLetter.model_validate_json(m.value) for m in consumer]
    finally:
        consumer.close()


def test_csv_newest_first_with_bad_rows(
    settings: Any, clickhouse: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = export_with_bad_rows()[::-1]  # exports come newest first
    path = write_csv(tmp_path / "export.csv", rows)
    assert backfill.main([str(path), "--map", MAP, "--quiet", "--no-baselines"], settings) == 0
    err = capsys.readouterr().err
    assert "rejected 3 to posts.dlq (bad_timestamp=2, missing_field=1)" in err
    assert "stored 297 post rows, 100 brand minutes (backfill = 1)" in err
    letters = dead_letters(settings)
    assert sorted(d.reason for d in letters) == ["bad_timestamp", "bad_timestamp", "missing_field"]
    originals = " ".join(base64.b64decode(d.original).decode() for d in letters)  # rows kept
    assert "not a date" in originals and "yesterday-ish" in originals
    posts, minutes = clickhouse.execute(
        "SELECT (SELECT count() FROM posts WHERE backfill = 1), "
        "(SELECT sum(posts) FROM brand_minutes FINAL WHERE backfill = 1)")[0]  # fmt: skip
    assert posts == minutes == 297  # every valid post counted, whatever the file's order


def test_no_time_column_is_one_line(
    settings: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path / "x.csv", [["1", "telvana is down", "today", "u"]] * 5)
    assert backfill.main([str(path), "--map", "created_at=when", "--quiet"], settings) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "'when'" in err and "no usable time column" in err
    assert backfill.main([str(tmp_path / "missing.csv")], settings) == 2
    assert "no such file" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()  # a directory expands to its files: here none
    assert backfill.main([str(tmp_path / "empty")], settings) == 2
    assert "no input file in" in capsys.readouterr().err
