"""Issue 18 end to end on the real stack: ``crisis-radar feedback`` / ``expect`` as subprocesses
(ClickHouse rows, crisis.feedback records, one-line errors that write nothing) and a worker
subprocess that learns them while it runs: an announced launch does not page, a negative turn
during an announced launch pages and its alert names the event; an alert label given while the
worker runs reaches the brand's scorer (and its changelog state), a sentiment correction the
enrich stage.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from test_errors import cli, operator_error
from test_pipeline_e2e import latest_state

from crisis_radar.clickhouse import migrate
from crisis_radar.commands.simulate import _parser as simulate_parser
from crisis_radar.commands.simulate import build_scenario
from crisis_radar.commands.simulate import run as simulate_run
from crisis_radar.stack._proc import free_port
from schemas.feedback import AlertFeedback, ExpectedEvent, PostFeedback, parse_feedback
from schemas.models import Author, CrisisAlert, Post, ScoredPost, Severity, SignalExplanation
from streams import runner
from streams.rows import ALERTS, POSTS

pytestmark = [pytest.mark.stack]
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def feedback_records(settings: Any) -> list[Any]:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        settings.topic("crisis.feedback"), bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest", consumer_timeout_ms=1500,
    )  # fmt: skip
    try:
        return [parse_feedback(m.value) for m in consumer]
    finally:
        consumer.close()


def topic_exists(settings: Any) -> bool:
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    try:
        return settings.topic("crisis.feedback") in admin.list_topics()
    finally:
        admin.close()


def counts(ch: Any) -> tuple[int, int, int]:
    return tuple(  # type: ignore[return-value]
        ch.execute(f"SELECT count() FROM {t}")[0][0]
        for t in ("alert_feedback", "post_feedback", "expected_events")
    )


def seed_alert_and_post(ch: Any) -> tuple[CrisisAlert, ScoredPost]:
    alert = CrisisAlert(
        alert_id="a" * 32, brand="telvana", minute=T0, severity=Severity.WARNING,
        previous_severity=Severity.NONE, score=0.62, summary="telvana: none -> warning",
        created_at=T0, signals=[SignalExplanation.checked("volume", 30.0, 6.0, 0.99, "")],
    )  # fmt: skip
    post = Post(platform="x", post_id="p1", author=Author(id="u1"), created_at=T0,
                text="oh wonderful, telvana doubled my bill again, thanks so much")  # fmt: skip
    sp = ScoredPost(post=post, brand="telvana", sentiment_label="positive", sentiment_score=0.7,
                    cluster_id="c1", is_duplicate=False, scored_at=T0)  # fmt: skip
    for rows, table in (([ALERTS.row(alert)], ALERTS), ([POSTS.row(sp)], POSTS)):
        ch.execute(f"INSERT INTO {table.table} ({', '.join(table.names)}) VALUES", rows)
    return alert, sp


def test_feedback_and_expect_cli_store_send_and_refuse_bad_input(settings: Any, clickhouse: Any
                                                                 ) -> None:  # fmt: skip
    migrate(settings)
    alert, sp = seed_alert_and_post(clickhouse)
    bad = [  # (args, what stderr names)
        (("feedback", "alert", "nope", "--label", "false_alarm"), "no alert 'nope'"),
        (("feedback", "alert", alert.alert_id, "--label", "wrong"), "unknown label 'wrong'"),
        (("feedback", "post", "x:nope", "--sentiment", "negative"), "no post 'x:nope'"),
        (("feedback", "post", "x:p1", "--sentiment", "angry"), "unknown sentiment 'angry'"),
        (("expect", "--brand", "nosuch", "--from", "2026-11-24T10:00Z", "--to",
          "2026-11-24T12:00Z", "--kind", "launch"), "unknown brand 'nosuch'"),
        (("expect", "--brand", "telvana", "--from", "2026-11-24T12:00Z", "--to",
          "2026-11-24T10:00Z", "--kind", "launch"), "is not after --from"),
        (("expect", "--brand", "telvana", "--from", "2026-11-24T10:00Z", "--to",
          "2026-11-24T12:00Z", "--kind", "party"), "unknown kind 'party'"),
        (("expect", "--brand", "telvana", "--from", "tomorrow", "--to",
          "2026-11-24T12:00Z", "--kind", "launch"), "--from 'tomorrow' is not a time"),
    ]  # fmt: skip
    for args, needle in bad:
        operator_error(cli(settings, *args), 2, needle)
    assert counts(clickhouse) == (0, 0, 0)
    assert not topic_exists(settings)  # nothing sent (reading it would auto-create it)

    ok = cli(settings, "feedback", "alert", alert.alert_id, "--label", "false_alarm",
             "--note", "launch queue", "--by", "ann")  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    time.sleep(1.1)  # a later second: the later label supersedes
    ok = cli(settings, "feedback", "alert", alert.alert_id, "--label", "real", "--by", "bob")
    assert ok.returncode == 0, ok.stderr
    ok = cli(settings, "feedback", "post", "x:p1", "--sentiment", "negative", USER="carol")
    assert ok.returncode == 0 and "positive -> negative by carol" in ok.stdout, ok.stderr
    ok = cli(
        settings,
        "expect",
        "--brand",
        "telvana",
        "--from",
        "2026-11-24T10:00Z",
        "--to",
        "2026-11-24T12:00Z",
        "--kind",
        "launch",
        "--note",
        "Telvana One",
        "--by",
        "ann",
    )
    assert ok.returncode == 0, ok.stderr
    # overlapping the announced one: refused, nothing written
    operator_error(cli(settings, "expect", "--brand", "telvana", "--from", "2026-11-24T11:00Z",
                       "--to", "2026-11-24T13:00Z", "--kind", "tv_spot"), 2,
                   "already has an announced launch 'Telvana One'")  # fmt: skip
    assert counts(clickhouse) == (2, 1, 1)
    # append-only: both labels kept, the later one supersedes in queries
    rows = clickhouse.execute(
        "SELECT label, given_by, note FROM alert_feedback ORDER BY given_at, label"
    )
    assert {r[0] for r in rows} == {"false_alarm", "real"}
    assert ("false_alarm", "ann", "launch queue") in rows
    latest = clickhouse.execute(
        "SELECT argMax(label, given_at) FROM alert_feedback WHERE alert_id = %(a)s",
        {"a": alert.alert_id})  # fmt: skip
    assert latest[0][0] == "real"
    # each label records the alert minute's volume shape (30 posts where 6 were expected)
    assert clickhouse.execute("SELECT DISTINCT volume_ratio FROM alert_feedback") == [(5.0,)]
    records = feedback_records(settings)
    assert [type(r) for r in records] == [AlertFeedback, AlertFeedback, PostFeedback,
                                          ExpectedEvent]  # fmt: skip
    assert [r.volume_ratio for r in records[:2]] == [5.0, 5.0]  # type: ignore[union-attr]
    post_fb = records[2]
    assert isinstance(post_fb, PostFeedback)
    assert (post_fb.text, post_fb.previous, post_fb.by) == (sp.post.text, "positive", "carol")
    # explain shows what feedback changed for the brand
    shown = cli(settings, "explain", "--brand", "telvana")
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    assert "feedback on telvana" in out and "false_alarm: raise 0.00 -> 0.05" in out, out
    # the confirmed alert (no negative share stored) takes back the tolerance, not the raise
    assert "real: raise 0.05 -> 0.05, tolerated 10% -> 0%" in out, out
    assert "announced launch 'Telvana One'" in out and "sentiment corrections: 1" in out, out


SIM = [
    "--days",
    "0.6",
    "--brands",
    "telvana,orbitel",
    "--start",
    "2026-11-23T00:00Z",
    "--events",
    "launch_spike:orbitel@10:00,launch_spike:telvana@10:00,product_defect:telvana@10:40",
    "--announce",
    "--rate-scale",
    "1.5",
    "--seed",
    "3",
]


def wait_log(proc: Any, log: Path, needle: str, n: int = 1, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.read_text().count(needle) >= n:
            return
        assert proc.poll() is None, log.read_text()[-3000:]
        time.sleep(0.5)
    pytest.fail(f"{needle!r} x{n} not in the worker log:\n{log.read_text()[-3000:]}")


@pytest.mark.slow
def test_running_worker_learns_announced_events_and_labels(settings: Any, clickhouse: Any,
                                                            tmp_path: Path) -> None:  # fmt: skip
    settings = settings.model_copy(update={"metrics_port": free_port(), "topic_partitions": 1})
    migrate(settings)
    scenario = build_scenario(simulate_parser().parse_args([*SIM, "--out", "-"]))
    truth_file = tmp_path / "truth.json"
    log = tmp_path / "worker.log"
    with runner.running_worker(settings, log) as proc:
        runner.wait_ready(proc, settings.metrics_port, log, timeout=60)
        simulate_run(scenario, None, truth_file)  # the truth only: what was planned
        planned = json.loads(truth_file.read_text())["expected_events"]
        assert {e["brand"] for e in planned} == {"telvana", "orbitel"}
        for e in planned:
            done = cli(
                settings,
                "expect",
                "--brand",
                e["brand"],
                "--from",
                e["from"],
                "--to",
                e["to"],
                "--kind",
                "launch",
                "--note",
                e["note"],
                "--by",
                "ann",
            )
            assert done.returncode == 0, done.stderr
        wait_log(proc, log, "noted (expected)", n=2)  # learned before any minute is scored
        n = simulate_run(scenario, str(tmp_path / "posts.jsonl"), None, settings.topic("posts.raw"),
                         bootstrap=settings.kafka_bootstrap)  # fmt: skip
        assert runner.wait_caught_up(proc, settings.metrics_port, n, 120), log.read_text()[-2000:]
        alerts = runner.read_alerts(settings)
        windows = {e["brand"]: (datetime.fromisoformat(e["from"].replace("Z", "+00:00")),
                                datetime.fromisoformat(e["to"].replace("Z", "+00:00")))
                   for e in planned}  # fmt: skip
        start, end = windows["orbitel"]
        assert not [a for a in alerts if a.brand == "orbitel" and a.severity >= Severity.WARNING
                    and start <= a.minute < end], "the announced launch paged"  # fmt: skip
        start, end = windows["telvana"]
        turn = [a for a in alerts if a.brand == "telvana" and a.severity >= Severity.WARNING
                and start <= a.minute < end]  # fmt: skip
        assert turn, f"the negative turn did not page:\n{log.read_text()[-2000:]}"
        first = min(turn, key=lambda a: a.minute)
        assert first.minute >= T0 + timedelta(minutes=40)  # the turn, not the launch itself
        assert "announced launch" in first.expected_event and "during the" in first.summary
        stored = clickhouse.execute(
            "SELECT expected_event FROM alerts FINAL WHERE alert_id = %(a)s",
            {"a": first.alert_id})  # fmt: skip
        assert stored and stored[0][0] == first.expected_event
        # a label given now reaches the running worker's scorer and its changelog state
        done = cli(settings, "feedback", "alert", first.alert_id, "--label", "false_alarm",
                   "--by", "ann")  # fmt: skip
        assert done.returncode == 0, done.stderr
        wait_log(proc, log, "telvana: false_alarm: raise 0.00 -> 0.05")
        key = clickhouse.execute(
            "SELECT post_key FROM posts WHERE brand = 'telvana' ORDER BY post_key LIMIT 1"
        )[0][0]
        done = cli(settings, "feedback", "post", key, "--sentiment", "neutral", "--by", "ann")
        assert done.returncode == 0, done.stderr
        wait_log(proc, log, "sentiment correction(s): {'learned': 1}")
    scorer, _, _ = latest_state(settings, b"telvana")
    learned = scorer.feedback_of("telvana")
    assert round(learned.raise_, 2) == 0.05 and learned.changes[-1].label == "false_alarm"
    assert [e.kind for e in learned.events] == ["launch"]
