"""End to end on the real stack: the language of each post, decided by the worker's enrich
stage, is what ClickHouse stores (posts.lang and brand_lang_minutes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from faults_support import produce, wait_until

from crisis_radar.clickhouse import migrate
from crisis_radar.stack._proc import free_port
from streams import runner

pytestmark = [pytest.mark.stack, pytest.mark.slow]
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def _post(i: int, text: str, lang: str | None) -> dict[str, Any]:
    return {
        "platform": "mastodon", "post_id": f"lang{i}", "author": {"id": f"u{i}"},
        "text": text, "lang": lang, "created_at": (T0 + timedelta(seconds=5 * i)).isoformat(),
    }  # fmt: skip


# (text, the platform's tag, the language the posts table must hold)
CASES = [
    ("A Telvana cobrou duas vezes a minha fatura e ninguém responde, que vergonha", None, "pt"),
    ("telvana charged me twice this month and support never answers", None, "en"),
    ("@telvana 😡😡😡 #telvanadown", None, "und"),  # nothing but a handle, a tag and emoji
    ("A Telvana cobrou duas vezes a minha fatura", "en-GB", "en"),  # the platform's tag wins
]


def test_portuguese_post_is_stored_as_pt(settings: Any, clickhouse: Any, tmp_path: Path) -> None:
    settings = settings.model_copy(update={"metrics_port": free_port(), "topic_partitions": 1})
    migrate(settings)
    posts = [_post(i, text, tag) for i, (text, tag, _) in enumerate(CASES)]
    log = tmp_path / "worker.log"
    query = "SELECT post_id, lang FROM posts FINAL WHERE brand = 'telvana'"
    with runner.running_worker(settings, log) as proc:
        runner.wait_ready(proc, settings.metrics_port, log, timeout=60)
        produce(settings.kafka_bootstrap, settings.topic("posts.raw"), posts)
        # posts rows are written by the enrich stage: no minute needs to close
        wait_until(
            lambda: len(clickhouse.execute(query)) >= len(CASES),
            90,
            "the posts rows",
            alive=lambda: None if proc.poll() is None else log.read_text()[-3000:],
        )
    stored = dict(clickhouse.execute(query))
    assert stored == {f"lang{i}": want for i, (_, _, want) in enumerate(CASES)}
    by_lang = clickhouse.execute(
        "SELECT lang, sum(posts) FROM brand_lang_minutes WHERE brand = 'telvana' "
        "GROUP BY lang ORDER BY lang"
    )
    assert [(lang, int(n)) for lang, n in by_lang] == [("en", 2), ("pt", 1), ("und", 1)]
