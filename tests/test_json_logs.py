"""``CRISIS_RADAR_LOG_FORMAT=json`` (issue 19): a real worker subprocess on the stack, fed a few
hundred simulated posts and stopped; every line it wrote (stdout and stderr: Faust's, aiokafka's,
the enrich child's, the start-up banner) is one JSON object with ts, level, logger and message,
and the stages' lines carry their stage and partition."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crisis_radar.clickhouse import migrate
from crisis_radar.commands.simulate import _parser as simulate_parser
from crisis_radar.commands.simulate import build_scenario
from crisis_radar.commands.simulate import run as simulate_run
from crisis_radar.stack._proc import free_port
from streams import runner

pytestmark = [pytest.mark.stack, pytest.mark.slow]
SIM_ARGS = ["--days", "0.05", "--brands", "telvana,orbitel", "--start", "2026-11-23T00:00Z",
            "--seed", "0", "--out", "-"]  # fmt: skip


def test_worker_logs_one_json_object_per_line(
    settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"metrics_port": free_port(), "topic_partitions": 2})
    migrate(settings)
    monkeypatch.setenv("CRISIS_RADAR_LOG_FORMAT", "json")  # the worker's env is ours + settings
    log = tmp_path / "worker.log"  # its stdout and stderr
    with runner.running_worker(settings, log) as proc:
        runner.wait_ready(proc, settings.metrics_port, log, timeout=90)
        scenario = build_scenario(simulate_parser().parse_args(SIM_ARGS))
        n = simulate_run(scenario, None, None, settings.topic("posts.raw"),
                         bootstrap=settings.kafka_bootstrap)  # fmt: skip
        assert runner.wait_caught_up(proc, settings.metrics_port, n, 90), log.read_text()[-3000:]
    assert proc.returncode == 0, log.read_text()[-3000:]

    lines = log.read_text(encoding="utf-8").splitlines()
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            pytest.fail(f"not a JSON line: {line!r}")
    assert len(records) > 10
    for r in records:
        assert isinstance(r, dict) and {"ts", "level", "logger", "message"} <= r.keys(), r
    loggers = {r["logger"] for r in records}
    assert any(name.startswith(("faust", "mode")) for name in loggers), loggers
    assert any(name.startswith("aiokafka") for name in loggers), loggers
    messages = [r["message"] for r in records]
    assert any(m.startswith("worker ") and "broker" in m for m in messages)  # a print, as JSON
    assert any("Worker]: Ready" in m for m in messages)
    # Where the stage and partition are known, they are fields.
    restored = [r for r in records if "state at" in r["message"]]
    assert {r.get("stage") for r in restored} >= {"enrich", "aggregate"}, restored
    assert all(isinstance(r.get("partition"), int) for r in restored), restored
    assert {r["partition"] for r in restored if r["stage"] == "enrich"} <= {0, 1}
    child = [r for r in records if r["message"].startswith("enrich process")]
    assert child and child[0]["stage"] == "enrich" and child[0]["pid"] != proc.pid
