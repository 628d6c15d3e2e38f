"""Real history, right answers (issue 16), on the real local stack with four partitions.

* Order independence: a simulated week of ~17k posts ingested newest-first, shuffled and sorted,
  at full speed, gives >= 99.9 % of the matched posts in brand_minutes, and the three orders give
  identical minutes and alerts (``ingest`` sorts files by event time; the worker aligns its
  aggregation watermark on the slowest posts.raw partition).
* Backtest equals stream: ``crisis-radar backtest`` (the offline core that ``backfill`` also
  runs) gives the worker's minutes and alerts (ids, severities) on the same posts.
* A post read twice counts once: two overlapping exports sent as they are (``--order file``)
  give the worker the minutes of the distinct posts.
"""

from __future__ import annotations

import json
import random
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from crisis_radar.clickhouse import make_client, migrate
from crisis_radar.commands import backtest, ingest
from crisis_radar.commands.simulate import _parser as simulate_parser
from crisis_radar.commands.simulate import build_scenario
from crisis_radar.commands.simulate import run as simulate_run
from crisis_radar.settings import Settings
from crisis_radar.stack._proc import free_port
from schemas.models import BrandMinute, CrisisAlert
from streams import runner

pytestmark = [pytest.mark.stack, pytest.mark.slow]
# A simulated week of two brands at a quiet rate (~17k posts), a product defect on day 6.
SIM_ARGS = ["--days", "7", "--brands", "telvana,orbitel", "--start", "2026-11-20T00:00Z",
            "--events", "product_defect:telvana@2026-11-25T10:00", "--rate-scale", "0.4",
            "--seed", "1"]  # fmt: skip
Minute = tuple[str, datetime, int, int, int, int]
ORDERS = ("sorted", "newest-first", "shuffled")


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("history") / "sorted.jsonl"
    simulate_run(build_scenario(simulate_parser().parse_args([*SIM_ARGS, "--out", "-"])), str(path))
    return path


def _variant(src: Path, order: str, out: Path) -> Path:
    lines = src.read_bytes().splitlines()
    if order == "newest-first":
        lines.reverse()
    elif order == "shuffled":
        random.Random(16).shuffle(lines)
    out.write_bytes(b"\n".join(lines) + b"\n")
    return out


def _cutoff(path: Path) -> datetime:
    """Minutes before this are closed by the aligned watermark alone, once the input is in:
    the last minutes need ~3 idle minutes of wall clock (allowed lateness), not waited for."""
    last = max(json.loads(line)["created_at"] for line in path.read_text().splitlines())
    end = datetime.fromisoformat(last.replace("Z", "+00:00")).replace(second=0, microsecond=0)
    return end - timedelta(minutes=5)


def _stored(settings: Settings, cutoff: datetime) -> tuple[list[Minute], list[tuple[str, int]]]:
    ch = make_client(settings)
    try:
        minutes = ch.execute(
            "SELECT brand, minute, posts, negative, unique_authors, duplicates FROM brand_minutes "
            "FINAL WHERE minute < %(c)s ORDER BY brand, minute",
            {"c": cutoff.replace(tzinfo=None)},
        )
        alerts = ch.execute(
            "SELECT alert_id, severity FROM alerts FINAL WHERE minute < %(c)s ORDER BY alert_id",
            {"c": cutoff.replace(tzinfo=None)},
        )
    finally:
        ch.disconnect()
    return [(b, m.replace(tzinfo=None), *rest) for b, m, *rest in minutes], list(alerts)


def _stream(
    settings: Settings,
    path: Path,
    log: Path,
    cutoff: datetime,
    n_minutes: int,
    args: tuple[str, ...] = (),
    metrics: dict[Any, float] | None = None,
) -> tuple[Any, Any]:
    """Ingest ``path`` (with ingest ``args``) into a worker; its minutes and alerts before
    ``cutoff`` once the ``n_minutes`` minutes there are stored (or 60 s after it caught up);
    its last metrics into ``metrics``."""
    migrate(settings)
    want = sum(1 for _ in path.open())
    with runner.running_worker(settings, log) as proc:
        runner.wait_ready(proc, settings.metrics_port, log, timeout=60)
        assert ingest.main([str(path), "--quiet", *args], settings) == 0
        caught_up = runner.wait_caught_up(proc, settings.metrics_port, want, 120)
        assert caught_up, log.read_text()[-3000:]
        deadline = time.monotonic() + 60
        got = _stored(settings, cutoff)
        while len(got[0]) < n_minutes and time.monotonic() < deadline:
            time.sleep(1)  # the idle markers close the last minutes before the cutoff
            got = _stored(settings, cutoff)
        if metrics is not None:
            metrics.update(runner.scrape(settings.metrics_port))
    return got


def _backtest(path: Path, out: Path, cutoff: datetime) -> tuple[Any, Any]:
    """``crisis-radar backtest --out`` on ``path``: its minutes (last version) and alerts."""
    assert backtest.main([str(path), "--quiet", "--out", str(out)]) == 0
    c = cutoff.replace(tzinfo=None)
    last: dict[tuple[str, datetime], BrandMinute] = {}
    for line in (out / "minutes.jsonl").read_text().splitlines():
        m = BrandMinute.model_validate_json(line)
        last[(m.brand, m.minute)] = m  # versions come in order: the last one stands
    minutes = sorted(
        (m.brand, m.minute.replace(tzinfo=None), m.posts, m.negative, m.unique_authors,
         m.duplicates)
        for m in last.values() if m.minute.replace(tzinfo=None) < c
    )  # fmt: skip
    alerts = [CrisisAlert.model_validate_json(x) for x in (out / "alerts.jsonl").open()]
    kept = sorted(
        (a.alert_id, int(a.severity)) for a in alerts if a.minute.replace(tzinfo=None) < c
    )
    return minutes, kept


def test_any_order_counts_everything_and_equals_the_backtest(
    settings: Settings, history: Path, tmp_path: Path
) -> None:
    from test_pipeline_e2e import expected_pairs

    cutoff = _cutoff(history)
    # `crisis-radar backtest` (the offline core, as backfill) on the shuffled file first: the
    # worker runs are then compared with it
    _variant(history, "shuffled", tmp_path / "shuffled.jsonl")
    offline = _backtest(tmp_path / "shuffled.jsonl", tmp_path / "backtest", cutoff)
    runs = {}
    for order in ORDERS:
        s = settings.model_copy(update={
            "metrics_port": free_port(), "topic_partitions": 4,
            "topic_prefix": f"{settings.topic_prefix}{order}.",
            "clickhouse_database": f"{settings.clickhouse_database}_{order.replace('-', '_')}",
        })  # fmt: skip
        path = _variant(history, order, tmp_path / f"{order}.jsonl")
        try:
            log = tmp_path / f"worker-{order}.log"
            runs[order] = _stream(s, path, log, cutoff, len(offline[0]))
        finally:
            ch = make_client(s)
            ch.execute(f"DROP DATABASE IF EXISTS {s.clickhouse_database}")
            ch.disconnect()
    minutes, alerts = runs["sorted"]
    # every matched post of the compared minutes is counted (no late posts: all version 1)
    kept = tmp_path / "kept.jsonl"
    c = cutoff.isoformat().replace("+00:00", "Z")
    kept.write_text("".join(line for line in history.open() if json.loads(line)["created_at"] < c))
    counted, want = sum(m[2] for m in minutes), expected_pairs(kept, settings.watchlist_path)
    assert counted >= 0.999 * want, (counted, want)
    assert any(a[1] >= 2 for a in alerts)  # the product defect on telvana
    # the backtest gives the worker's minutes and alerts
    assert offline[0] == minutes
    assert offline[1] == alerts
    assert runs["newest-first"] == runs["sorted"]
    assert runs["shuffled"] == runs["sorted"]


def test_a_post_read_twice_counts_once(settings: Settings, tmp_path: Path) -> None:
    """Two exports of one day that overlap by ~2 hours, concatenated and sent as they are
    (``--order file``: the overlap comes again hours behind the stream, as a source that
    re-reads a page does): the worker counts each post once, so its minutes are the backtest's
    of the distinct posts, and it says how many it dropped."""
    from detectors.brands import BrandMatcher, Watchlist
    from schemas.models import Post

    day = tmp_path / "day.jsonl"
    args = ["--days", "1", "--brands", "telvana,orbitel", "--start", "2026-11-20T00:00Z",
            "--events", "product_defect:orbitel@2026-11-20T15:00", "--rate-scale", "0.4",
            "--seed", "2", "--out", "-"]  # fmt: skip
    simulate_run(build_scenario(simulate_parser().parse_args(args)), str(day))
    lines = day.read_bytes().splitlines()
    n = len(lines)
    first, second = lines[: 6 * n // 10], lines[n // 2 :]
    both = tmp_path / "overlapping.jsonl"
    both.write_bytes(b"\n".join(first + second) + b"\n")
    matcher = BrandMatcher(Watchlist.from_yaml(settings.watchlist_path))
    again = [Post.model_validate_json(x) for x in lines[n // 2 : 6 * n // 10]]
    repeats = sum(1 for p in again if matcher.match(p.text, p.lang, p.hashtags, p.mentions))
    assert repeats > 100
    cutoff = _cutoff(day)
    offline = _backtest(day, tmp_path / "backtest", cutoff)
    s = settings.model_copy(update={
        "metrics_port": free_port(), "topic_partitions": 4,
        "topic_prefix": f"{settings.topic_prefix}twice.",
        "clickhouse_database": f"{settings.clickhouse_database}_twice",
    })  # fmt: skip
    metrics: dict[Any, float] = {}
    try:
        got = _stream(s, both, tmp_path / "worker.log", cutoff, len(offline[0]), ("--order",
                      "file"), metrics)  # fmt: skip
    finally:
        ch = make_client(s)
        ch.execute(f"DROP DATABASE IF EXISTS {s.clickhouse_database}")
        ch.disconnect()
    assert got[0] == offline[0]  # before: the overlap's minutes counted twice
    assert got[1] == offline[1]
    dropped = runner.sample(metrics, "crisis_radar_repeated_posts_total", stage="posts.scored")
    assert dropped == repeats
