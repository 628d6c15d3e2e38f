"""``OfflinePipeline`` (backfill, backtest, evaluate scenarios): enrichment in the worker's child
process (two cores, one batch in flight) gives exactly what it gives in process."""

from __future__ import annotations

import json
from pathlib import Path

from crisis_radar.commands.simulate import _parser as simulate_parser
from crisis_radar.commands.simulate import build_scenario
from crisis_radar.commands.simulate import run as simulate_run
from crisis_radar.history.offline import OfflinePipeline
from crisis_radar.settings import get_settings

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
