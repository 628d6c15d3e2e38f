"""``OfflinePipeline`` (backfill, backtest, evaluate scenarios): enrichment in the worker's child
process (two cores, one batch in flight) gives exactly what it gives in process."""

from __future__ import annotations

import json
import multiprocessing
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crisis_radar.commands.simulate import _parser as simulate_parser
from crisis_radar.commands.simulate import build_scenario
from crisis_radar.commands.simulate import run as simulate_run
from crisis_radar.history.backtest import Backtest
from crisis_radar.history.offline import OfflinePipeline, brand_partition
from crisis_radar.ingest.history import History
from crisis_radar.settings import get_settings
from schemas.models import Author, Post
from schemas.watchlist import WatchlistError

SIM = ["--days", "0.5", "--brands", "telvana,orbitel", "--start", "2026-11-23T00:00Z",
       "--events", "product_defect:telvana@08:00", "--seed", "7", "--out", "-"]  # fmt: skip


def _run(lines: list[bytes], child: bool) -> tuple[list[bytes], list[bytes], int]:
    pipe = OfflinePipeline.from_settings(get_settings(), child=child)
    steps = []
    for i in range(0, len(lines), 1000):
        batch = [(b"k%d" % (i + j), line) for j, line in enumerate(lines[i : i + 1000])]
        steps.append(pipe.feed(batch))
    steps.append(pipe.finish())
    assert pipe.runner is None  # finish stopped the child
    minutes = [m.to_json() for s in steps for m in s.minutes]
    alerts = [a.to_json() for s in steps for a in s.alerts]
    return minutes, alerts, sum(len(s.enriched.rows) for s in steps)


def test_child_process_gives_the_in_process_outputs(tmp_path: Path) -> None:
    path = tmp_path / "posts.jsonl"
    simulate_run(build_scenario(simulate_parser().parse_args(SIM)), str(path))
    lines = path.read_bytes().splitlines()
    inline, child = _run(lines, child=False), _run(lines, child=True)
    assert len(inline[0]) > 1000 and inline[1]  # minutes, and the defect's alerts
    assert any(json.loads(a)["severity"] >= 2 for a in inline[1])
    assert child == inline  # minutes, alerts (explanations included), posts rows


def _backtest(path: Path, parsed: bool, out: Path) -> tuple[bytes, bytes, bytes, int]:
    bt = Backtest(OfflinePipeline.from_settings(get_settings(), child=False), out)
    clock = datetime(2026, 12, 1, tzinfo=UTC)  # the dead letters' received_at
    history = History([str(path)], source="t", on_dead=bt.rejections.add, now=lambda: clock)
    sends = list(history.sends(parsed=parsed))
    assert all((s.post is not None) == parsed for s in sends)  # the in-order, canonical path
    bt.run(sends)
    files = [(out / f"{name}.jsonl").read_bytes() for name in ("minutes", "alerts", "rejected")]
    return files[0], files[1], files[2], history.stats.sent


def test_handed_over_posts_give_the_decoded_outputs(tmp_path: Path) -> None:
    """``History.sends(parsed=True)`` hands each validated Post to the enrich stage instead of
    the JSON to decode again: same minutes, alerts and rejects, bad lines included."""
    path = tmp_path / "posts.jsonl"
    simulate_run(build_scenario(simulate_parser().parse_args(SIM)), str(path))
    lines = path.read_bytes().splitlines()
    bad = [b'{"platform": "x", "post_id": "1"}', b"not json"]
    path.write_bytes(b"\n".join(lines[:500] + bad + lines[500:]) + b"\n")
    decoded = _backtest(path, False, tmp_path / "decoded")
    handed = _backtest(path, True, tmp_path / "handed")
    assert decoded[0].count(b"\n") > 1000 and decoded[1] and decoded[2].count(b"\n") == 2
    assert handed == decoded


def test_a_handed_over_post_is_checked_against_now() -> None:
    """The enrich stage's one check that depends on its ``now`` (a post more than a day ahead
    of it is a dead letter) applies to handed-over posts as to JSON."""
    t0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    post = Post(platform="x", post_id="1", author=Author(id="u"), text="telvana is down",
                created_at=t0)  # fmt: skip
    got = []
    for parsed in (None, [post]):
        pipe = OfflinePipeline.from_settings(get_settings(), child=False)
        step = pipe.feed([(b"x:1", post.to_json())], now=t0 - timedelta(days=2), parsed=parsed)
        got.append([reason for _, reason, _ in step.enriched.dead])
    assert got == [["future_timestamp"], ["future_timestamp"]]


def test_brand_partition_is_the_workers_producers() -> None:
    """The brands' posts.scored partitions are those aiokafka's default partitioner (the
    worker's producer) picks for the brand key."""
    from aiokafka.partitioner import DefaultPartitioner

    pick = DefaultPartitioner()
    rng = random.Random(3)
    for n in range(40):
        data = bytes(rng.randrange(256) for _ in range(n))
        for n_parts in (1, 4, 7):
            parts = list(range(n_parts))
            assert brand_partition(data, n_parts) == pick(data, parts, parts)
    assert brand_partition(b"telvana", 4) == 2


def test_a_broken_watchlist_fails_before_the_enrich_child_starts(tmp_path: Path) -> None:
    """The watchlist is read in this process first: a broken one is a WatchlistError naming its
    line, and no enrich child (a spawned process loading every model) is started for it."""
    bad = tmp_path / "watchlist.yaml"
    bad.write_text("brands:\n  - id: x\n    keywords: 5\n")
    before = set(multiprocessing.active_children())
    with pytest.raises(WatchlistError, match=r"watchlist.yaml:3: brands\[0\].keywords"):
        OfflinePipeline(bad, 4, 60.0, 3600.0, 1000, child=True)
    assert set(multiprocessing.active_children()) == before
