"""A worker SIGKILLed mid-stream (open minute windows, ClickHouse batches in flight) and restarted
gives the same aggregates and alerts as an undisturbed run of the same input (deterministic
replay: one partition, seeded detectors, alert ids hashed from brand/minute/severity). So does a
worker whose enrich process (streams/enrichment.py) is SIGKILLed: the worker starts a new one
and restores its state from the snapshots, without restarting."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import faults_support as fs
import pytest

from crisis_radar.clickhouse import make_client, migrate
from crisis_radar.commands.simulate import _parser as simulate_parser
from crisis_radar.commands.simulate import build_scenario
from crisis_radar.commands.simulate import run as simulate_run
from streams import runner
from streams.topics import ensure_topics

pytestmark = [
    pytest.mark.faults,
    pytest.mark.stack,
    pytest.mark.slow,
    pytest.mark.filterwarnings(r"ignore:.*Use files\(\) instead:DeprecationWarning"),
]
# Six quiet hours then a defect: enough minutes for the scorer to alert, small enough to be fast.
SIM_ARGS = [
    "--days",
    "0.3",
    "--brands",
    "telvana,orbitel",
    "--start",
    "2026-11-23T00:00Z",
    "--events",
    "product_defect:telvana@06:00",
    "--rate-scale",
    "1.5",
    "--seed",
    "0",
]
MINUTE_COLS = (
    "brand, toString(minute), posts, unique_posts, unique_authors, negative, neutral, "
    "positive, round(sentiment_sum, 6), reach, duplicates"
)
# late_posts is left out: it records *when* a post arrived relative to the watermark, and after
# a restart the rebuilt windows see replayed posts at different moments (docs/reliability.md).


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        kids += [int(k) for k in (task / "children").read_text().split()]
    return kids


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()  # the resource tracker is a child too
    except OSError:  # gone meanwhile
        return b""


def _gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return True  # a zombie has exited (its parent reaps it)
        except OSError:
            return True
        time.sleep(0.1)
    return False


def _run(
    settings: Any,
    db: str,
    lines: list[bytes],
    tmp: Path,
    kills: tuple[float, ...],
    victim: str = "worker",
) -> tuple[list[tuple[Any, ...]], set[tuple[str, int]], int]:
    """Feed ``lines`` to a worker, SIGKILL it (``victim`` "worker", restarted each time) or its
    enrich process ("child", the worker carries on) when the posts table reaches each fraction
    in ``kills``; return minutes, alerts and stored post count."""
    s = settings.model_copy(
        update={
            "metrics_port": fs.free_port(),
            "topic_partitions": 1,
            "clickhouse_database": db,
            "topic_prefix": f"{settings.topic_prefix}{db[-6:]}.",
            "enrich_subprocess": True if victim == "child" else None,
        }
    )
    migrate(s)
    ch = make_client(s)
    posts = [json.loads(x) for x in lines]
    want = fs_pairs(posts)
    # Topics first, with one partition each: producing would auto-create posts.raw with the
    # broker's default partition count, and interleaving partitions is not a deterministic order.
    ensure_topics(s)
    fs.produce(s.kafka_bootstrap, s.topic("posts.raw"), lines)
    pending = list(kills)
    for attempt in range(len(kills) + 1):
        log = tmp / f"{db}-{attempt}.log"
        with runner.running_worker(s, log) as proc:
            runner.wait_ready(proc, s.metrics_port, log, timeout=90)

            def wait_stored(after: str = "", proc: Any = proc, log: Path = log) -> None:
                target = int(want * pending[0]) if pending else want
                fs.wait_until(
                    lambda: ch.execute("SELECT count() FROM posts FINAL")[0][0] >= target,
                    150,
                    f"{target} posts stored{after}",
                    every=0.1,
                    alive=lambda: None if proc.poll() is None else log.read_text()[-3000:],
                )

            wait_stored()
            while pending and victim == "child":
                child: list[int] = []
                for _ in range(100):  # a replaced child is spawned within ~1 s of the death
                    child = [k for k in _children(proc.pid) if b"spawn_main" in _cmdline(k)]
                    if child:
                        break
                    time.sleep(0.1)
                assert len(child) == 1, f"one enrich process expected, found {child}"
                os.kill(child[0], signal.SIGKILL)
                pending.pop(0)
                wait_stored(" after the enrich process was killed")
            if pending:
                pending.pop(0)
                kids = _children(proc.pid)
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                assert all(_gone(k, 5) for k in kids), "the enrich process outlived its worker"
                continue
            # Let the idle timer close what it will, then read the stable minutes (and wait,
            # on a loaded machine, until the crisis stage has decided on every minute).
            time.sleep(8)
            runner.wait_caught_up(proc, s.metrics_port, 0, 60)
    minutes = ch.execute(f"SELECT {MINUTE_COLS} FROM brand_minutes FINAL ORDER BY brand, minute")
    alerts = {(a, int(sev)) for a, sev in ch.execute("SELECT alert_id, severity FROM alerts FINAL")}
    stored = ch.execute("SELECT count() FROM posts FINAL")[0][0]
    ch.disconnect()
    if victim == "child":
        text = "".join(f.read_text() for f in tmp.glob(f"{db}-*.log"))
        assert text.count("the enrich process died") == len(kills), text[-3000:]
    return minutes, alerts, stored


def fs_pairs(posts: list[dict[str, Any]]) -> int:
    """Rows the posts table gets: matched (post, brand) pairs."""
    from crisis_radar.settings import PROJECT_ROOT
    from detectors.brands import BrandMatcher, Watchlist
    from schemas.models import Post

    m = BrandMatcher(Watchlist.from_yaml(PROJECT_ROOT / "deploy" / "watchlist.yaml"))
    n = 0
    for d in posts:
        p = Post.model_validate(d)
        n += len(m.match(p.text, p.lang, p.hashtags, p.mentions))
    return n


@pytest.mark.parametrize("victim", ["worker", "child"])
def test_sigkill_replay_equals_undisturbed_run(
    settings: Any, stack: Any, tmp_path: Path, victim: str, max_lost_rows: int = 0
) -> None:
    """``max_lost_rows`` (only for runs with Faust's seek fix switched off): posts, and minute
    rows, the restarted worker may lose because Faust dropped records it re-read after its seek
    (the race docs/faust-runtime.md's seek fix guards against). Lost only: never extra."""
    scenario = build_scenario(simulate_parser().parse_args([*SIM_ARGS, "--out", "-"]))
    path = tmp_path / "posts.jsonl"
    simulate_run(scenario, str(path))
    lines = path.read_bytes().splitlines()
    assert len(lines) > 500
    admin = make_client(stack.base, database="default")
    dbs = [f"{settings.clickhouse_database}_a", f"{settings.clickhouse_database}_b"]
    try:
        base_min, base_alerts, base_n = _run(settings, dbs[0], lines, tmp_path, ())
        kill_min, kill_alerts, kill_n = _run(settings, dbs[1], lines, tmp_path, (0.3, 0.7), victim)
    finally:
        for db in dbs:
            admin.execute(f"DROP DATABASE IF EXISTS {db}")
        admin.disconnect()
    assert base_n - max_lost_rows <= kill_n <= base_n  # exactly once as analysts see it
    assert len(base_min) > 100
    # The last minutes close on the idle timer (wall clock): compare everything before them.
    last = max(m[1] for m in base_min)
    cut = sorted({m[1] for m in base_min})[-5]
    assert last > cut
    base_cut = [m for m in base_min if m[1] < cut]
    kill_cut = [m for m in kill_min if m[1] < cut]
    diff = sorted(set(kill_cut) ^ set(base_cut))
    assert base_alerts, "the scenario must alert, or equal alerts prove nothing"
    if max_lost_rows and (kill_cut != base_cut or kill_n != base_n):
        # Minutes counted without the dropped records (or missing): a few, never more posts
        # than undisturbed, no minute of its own; the alerts may then differ too.
        base_by = {m[:2]: m for m in base_cut}
        kill_by = {m[:2]: m for m in kill_cut}
        assert kill_by.keys() <= base_by.keys(), f"minutes of its own: {diff[:4]}"
        lost = [k for k, b in base_by.items() if kill_by.get(k) != b]
        assert len(lost) <= max_lost_rows, f"{len(lost)} minute rows differ, e.g. {diff[:4]}"
        assert all(kill_by[k][2] <= base_by[k][2] for k in lost if k in kill_by), diff[:4]
        return
    assert kill_cut == base_cut, f"{len(diff)} minute rows differ after SIGKILL, e.g. {diff[:4]}"
    assert kill_alerts == base_alerts
