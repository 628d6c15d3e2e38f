"""``crisis-radar doctor`` on the real local stack: green where everything is up (with a real
worker scraped by Prometheus), and each broken piece named, with its exit code: a stopped service
(closed ports, never the shared stack), a missing migration (a fresh database), a worker
Prometheus does not scrape, bad settings, a broken watchlist, wrong topic partitions.
``make demo`` stops on a FAIL with the table."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from paging_support import free_scrape_port  # a port Prometheus scrapes that nothing serves

from crisis_radar import doctor
from crisis_radar.clickhouse import MIGRATIONS_DIR, discover, migrate
from crisis_radar.settings import Settings
from crisis_radar.stack._proc import free_port

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.stack


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a doctor run on ``settings`` (as the worker gets it) plus ``extra``."""
    from streams.runner import worker_env

    env = worker_env(settings)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env.update(CRISIS_RADAR_METRICS_HOST=settings.metrics_host, **extra)
    return env


def _doctor(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crisis_radar.cli", "doctor", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _rows(done: subprocess.CompletedProcess[str]) -> dict[str, dict[str, str]]:
    assert "Traceback" not in done.stderr, done.stderr
    return {c["name"]: c for c in json.loads(done.stdout)["checks"]}


def _scrape_target(prometheus_url: str, port: int) -> dict[str, Any] | None:
    with urllib.request.urlopen(f"{prometheus_url}/api/v1/targets?state=active", timeout=5) as r:
        targets = json.loads(r.read())["data"]["activeTargets"]
    return next((t for t in targets if t["scrapeUrl"].endswith(f":{port}/metrics")), None)


def _wait_health(prometheus_url: str, port: int, health: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        target = _scrape_target(prometheus_url, port)
        if target and target["health"] == health:
            return
        time.sleep(0.5)
    pytest.fail(f"Prometheus's target on :{port} never became {health}: {target}")


@pytest.mark.slow
def test_green_with_a_real_worker_then_names_the_stopped_worker(
    settings: Settings, prometheus_url: str, tmp_path: Path
) -> None:
    from streams import runner

    migrate(settings)
    port = free_scrape_port()
    settings = settings.model_copy(update={"metrics_port": port})
    log = tmp_path / "worker.log"
    with runner.running_worker(settings, log) as proc:
        runner.wait_ready(proc, port, log, timeout=90)
        _wait_health(prometheus_url, port, "up")
        done = _doctor(_env(settings), "--json")
    rows = _rows(done)
    assert done.returncode == 0, done.stdout
    assert json.loads(done.stdout)["ok"] is True
    must_be_ok = [
        "settings", "watchlist", "kafka", "topics", "clickhouse", "migrations", "clock skew",
        "prometheus", "worker scrape", "alert rules", "alert path", "alertmanager",
    ]  # fmt: skip
    assert {n: rows[n]["status"] for n in must_be_ok} == dict.fromkeys(must_be_ok, "OK"), rows
    assert f"127.0.0.1:{port}" in rows["worker scrape"]["detail"]
    assert (
        "topics" in rows["topics"]["detail"] and settings.topic_prefix in rows["topics"]["detail"]
    )
    assert f"all {len(discover())} applied" in rows["migrations"]["detail"]
    assert rows["clickhouse"]["detail"].startswith("127.0.0.1:")
    assert re.search(r"ClickHouse \d+\.\d+", rows["clickhouse"]["detail"])
    # this host has no paging secrets deployed: the receivers row says which, without failing
    assert rows["receivers"]["status"] in {"OK", "WARN"}
    assert rows["disk"]["status"] in {"OK", "WARN"}

    # the worker is gone: Prometheus's target goes down, the doctor names it (a WARN: normal
    # before a worker starts, as in `make demo`) and still exits 0
    _wait_health(prometheus_url, port, "down")
    done = _doctor(_env(settings))
    assert done.returncode == 0, done.stdout
    line = next(x for x in done.stdout.splitlines() if x.startswith("worker scrape"))
    assert "WARN" in line and "no worker running" in line and f":{port}/metrics" in line
    assert "fix: start one: crisis-radar worker" in done.stdout


def test_names_a_worker_prometheus_does_not_scrape(settings: Settings, tmp_path: Path) -> None:
    """A worker's /metrics (the worker's own server) on a port no Prometheus job lists."""
    migrate(settings)
    port = free_port()
    exporter = subprocess.Popen(
        [sys.executable, "-c",
         f"import time; from streams.metrics import serve; serve({port}); time.sleep(300)"],
        env=_env(settings),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while not doctor._serves_metrics(port) and time.monotonic() < deadline:
            time.sleep(0.2)
        done = _doctor(_env(settings, CRISIS_RADAR_METRICS_PORT=str(port)), "--json")
    finally:
        exporter.terminate()
        exporter.wait(timeout=10)
    rows = _rows(done)
    assert done.returncode == 1
    row = rows["worker scrape"]
    assert row["status"] == "FAIL"
    assert f"Prometheus does not scrape the worker's metrics port {port}" in row["detail"]
    assert "CRISIS_RADAR_METRICS_PORT" in row["fix"] and "prometheus.yml" in row["fix"]
    failed = [n for n, r in rows.items() if r["status"] == "FAIL"]
    assert failed == ["worker scrape"], rows


def test_names_each_stopped_service(settings: Settings) -> None:
    closed = "127.0.0.1:1"
    env = _env(
        settings,
        CRISIS_RADAR_KAFKA_BOOTSTRAP=closed,
        CRISIS_RADAR_CLICKHOUSE_PORT="1",
        CRISIS_RADAR_PROMETHEUS_URL=f"http://{closed}",
        CRISIS_RADAR_ALERTMANAGER_URL=f"http://{closed}",
    )
    started = time.monotonic()
    done = _doctor(env, "--json")
    took = time.monotonic() - started
    rows = _rows(done)
    assert done.returncode == 1
    for name, what in [
        ("kafka", f"Kafka at {closed}"),
        ("clickhouse", f"ClickHouse at {closed}"),
        ("prometheus", f"Prometheus at http://{closed}"),
        ("alertmanager", f"Alertmanager at http://{closed}"),
    ]:
        assert rows[name]["status"] == "FAIL", rows[name]
        assert rows[name]["detail"].startswith(what), rows[name]
        assert "crisis-radar stack up" in rows[name]["fix"]
    # what depends on a stopped service is skipped, not reported a second time
    for name in ("topics", "migrations", "clock skew", "worker scrape", "alert rules",
                 "alert path", "receivers"):  # fmt: skip
        assert rows[name]["status"] == "SKIP", rows[name]
    assert rows["settings"]["status"] == rows["watchlist"]["status"] == "OK"
    assert took < 60  # short timeouts: a down stack does not hang the doctor
    # the table: one line per check, the fix under each FAIL, a summary
    done = _doctor(env)
    assert done.returncode == 1 and "Traceback" not in done.stdout + done.stderr
    lines = done.stdout.splitlines()
    kafka = lines.index(next(x for x in lines if x.startswith("kafka ")))
    assert "FAIL" in lines[kafka] and closed in lines[kafka]
    assert "fix: start the stack (crisis-radar stack up)" in lines[kafka + 1]
    assert lines[-1].startswith("4 FAIL")


def test_names_a_missing_migration(settings: Settings, tmp_path: Path) -> None:
    files = discover()
    last = files[-1]
    partial = tmp_path / "migrations"
    partial.mkdir()
    for mig in files[:-1]:
        shutil.copy(mig.path, partial / mig.path.name)
    # the fixture's fresh database: empty, then migrated up to all but the newest file
    rows = {c.name: c for c in doctor.run(settings)}
    assert rows["migrations"].status == "FAIL"
    assert "no schema_migrations" in rows["migrations"].detail
    migrate(settings, directory=partial)
    done = _doctor(_env(settings), "--json")
    row = _rows(done)["migrations"]
    assert done.returncode == 1
    assert row["status"] == "FAIL"
    assert f"missing migration {last.path.stem}" in row["detail"]
    assert settings.clickhouse_database in row["detail"]
    assert row["fix"].startswith("crisis-radar migrate")
    migrate(settings)  # the fix works
    rows = {c.name: c for c in doctor.run(settings)}
    assert rows["migrations"].status == "OK", rows["migrations"]
    missing_db = settings.model_copy(update={"clickhouse_database": "doctor_no_such_db"})
    rows = {c.name: c for c in doctor.run(missing_db)}
    assert rows["migrations"].status == "FAIL"
    assert "database doctor_no_such_db does not exist" in rows["migrations"].detail
    assert MIGRATIONS_DIR.is_dir()


def test_topics_missing_is_a_warning_wrong_partitions_a_failure(settings: Settings) -> None:
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    from streams.topics import ensure_topics

    rows = {c.name: c for c in doctor.run(settings)}
    assert rows["topics"].status == "WARN"  # a fresh prefix: no worker ever created them
    assert "not created yet" in rows["topics"].detail
    raw = settings.topic("posts.raw")
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    try:
        admin.create_topics([NewTopic(raw, settings.topic_partitions + 1, 1)])
    finally:
        admin.close()
    ensure_topics(settings)
    rows = {c.name: c for c in doctor.run(settings)}
    assert rows["topics"].status == "FAIL"
    want = settings.topic_partitions
    assert f"{raw} has {want + 1}, settings want {want}" in rows["topics"].detail
    assert "CRISIS_RADAR_TOPIC_PARTITIONS" in rows["topics"].fix


def test_bad_settings_name_the_variable(settings: Settings) -> None:
    done = _doctor(_env(settings, CRISIS_RADAR_ALLOWED_LATENESS_S="-5"), "--json")
    rows = _rows(done)
    assert done.returncode == 1
    assert rows["settings"]["status"] == "FAIL"
    assert rows["settings"]["detail"].startswith("CRISIS_RADAR_ALLOWED_LATENESS_S=-5: ")
    assert list(rows) == ["settings", "other checks"]


def test_broken_watchlist_is_named(settings: Settings, tmp_path: Path) -> None:
    bad = tmp_path / "watchlist.yaml"
    bad.write_text("brands:\n  - id: acme\n    keywords: [acme\n")  # unclosed list
    rows = {c.name: c for c in doctor.run(settings.model_copy(update={"watchlist_path": bad}))}
    assert rows["watchlist"].status == "FAIL"
    assert str(bad) in rows["watchlist"].detail
    assert "CRISIS_RADAR_WATCHLIST_PATH" in rows["watchlist"].fix


def test_demo_stops_on_a_fail_with_the_table(settings: Settings) -> None:
    """`make demo` runs the doctor after `stack up`: a FAIL ends it before any worker starts."""
    done = subprocess.run(
        [sys.executable, "-m", "crisis_radar.cli", "demo", "--no-stack"],
        env=_env(settings, CRISIS_RADAR_CLICKHOUSE_PORT="1"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "[3/7] doctor" in done.stderr and "[4/7]" not in done.stderr
    assert "ClickHouse at 127.0.0.1:1" in done.stderr
    assert "stopped, the doctor found a FAIL" in done.stderr
