"""Backfill then live, end to end on the real stack (issue 16).

30 simulated days of one brand (a product defect on day 20) go through ``crisis-radar backfill``
while a worker runs and Prometheus scrapes it: the history's posts, minutes and alerts land in
ClickHouse flagged ``backfill = 1``, and Alertmanager pages nobody for them. A worker started
afterwards recovers the brand's learned state from the changelog, so its first live minutes are
scored by a scorer that has seen the 30 days (no cold start).
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from paging_support import Paging, renamed_watchlist
from test_pipeline_e2e import expected_pairs, latest_state

from crisis_radar.clickhouse import migrate
from crisis_radar.commands import backfill, ingest
from crisis_radar.commands.simulate import _parser as simulate_parser
from crisis_radar.commands.simulate import build_scenario
from crisis_radar.commands.simulate import run as simulate_run
from streams import runner

pytestmark = [pytest.mark.stack, pytest.mark.slow]
DAYS = 30
MINUTE = timedelta(minutes=1)


def first_live_minute(path: Path) -> datetime:
    first = min(json.loads(line)["created_at"] for line in path.open())
    return datetime.fromisoformat(first.replace("Z", "+00:00")).replace(second=0, microsecond=0)


def _simulate(brand: str, watchlist: Path, args: list[str], out: Path) -> Path:
    argv = ["--watchlist", str(watchlist), "--brands", brand, *args, "--out", "-"]
    simulate_run(build_scenario(simulate_parser().parse_args(argv)), str(out))
    return out


def test_backfill_then_live(
    settings: Any, clickhouse: Any, worker_paging: Paging, tmp_path: Path
) -> None:
    brand = f"telvana{uuid.uuid4().hex[:6]}"  # run-unique: no Alertmanager group of another test
    watchlist = renamed_watchlist(settings.watchlist_path, tmp_path, {"telvana": brand})
    port = worker_paging.port
    settings = settings.model_copy(update={"metrics_port": port, "watchlist_path": watchlist})
    migrate(settings)
    defect = f"product_defect:{brand}@2026-10-20T10:00"
    history = _simulate(brand, watchlist, [
        "--days", str(DAYS), "--start", "2026-10-01T00:00Z", "--rate-scale", "0.5", "--seed", "3",
        "--events", defect], tmp_path / "history.jsonl")  # fmt: skip

    def pages() -> list[tuple[float, dict[str, Any]]]:
        return worker_paging.pages(brand)

    # 1. Backfill while a worker runs and is scraped: nothing pages.
    with runner.running_worker(settings, tmp_path / "worker-a.log") as proc:
        runner.wait_ready(proc, port, tmp_path / "worker-a.log", timeout=60)
        assert backfill.main([str(history), "--quiet"], settings) == 0
        time.sleep(8)  # scrapes (1 s), rule evaluation, Alertmanager's group_wait (0 s)
    assert pages() == []
    flagged = dict(clickhouse.execute("SELECT backfill, count() FROM posts GROUP BY backfill"))
    assert flagged == {1: expected_pairs(history, watchlist)}
    n_hist, flag = clickhouse.execute("SELECT count(), min(backfill) FROM brand_minutes FINAL")[0]
    assert n_hist >= DAYS * 1440 - 5 and flag == 1  # every minute, first post's to last post's
    alerts = clickhouse.execute(
        "SELECT minute, severity, backfill FROM alerts FINAL WHERE severity >= 2 ORDER BY minute"
    )
    assert alerts and all(b == 1 for *_, b in alerts)  # the day-20 defect, stored and flagged
    assert any(str(m).startswith("2026-10-20") for m, *_ in alerts)
    scorer, _, learned = latest_state(settings, brand.encode())
    assert learned.isoformat().startswith("2026-10-30T23:5")
    assert scorer.brands[brand].n == n_hist

    # 2. Live, on a worker started after the backfill: it starts from the learned state.
    live = _simulate(brand, watchlist, [
        "--days", "0.1", "--start", "2026-10-31T00:00Z", "--rate-scale", "0.5", "--seed", "4"],
        tmp_path / "live.jsonl")  # fmt: skip
    n = sum(1 for _ in live.open())
    with runner.running_worker(settings, tmp_path / "worker-b.log") as proc:
        runner.wait_ready(proc, port, tmp_path / "worker-b.log", timeout=60)
        assert ingest.main([str(live), "--quiet"], settings) == 0
        assert runner.wait_caught_up(proc, port, n, 90), (tmp_path / "worker-b.log").read_text()
    scorer, _, learned = latest_state(settings, brand.encode())
    assert learned.isoformat() > "2026-10-31T02:00"  # live minutes were scored ...
    live_rows = clickhouse.execute("SELECT count() FROM brand_minutes FINAL WHERE backfill = 0")
    assert live_rows[0][0] >= 100
    # ... by the warm scorer: it learned the history's minutes, then the live ones (cold: ~140)
    assert scorer.brands[brand].n == n_hist + (learned - first_live_minute(live)) // MINUTE + 1
    assert pages() == []  # a quiet live morning on a warm baseline pages nobody either
