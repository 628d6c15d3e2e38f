"""The local stack for real: Kafka, ClickHouse, Prometheus, Alertmanager (marked ``stack``)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

from crisis_radar import stack as local_stack
from crisis_radar.commands import stack as stack_cmd
from crisis_radar.settings import Settings
from crisis_radar.stack import _install, _proc
from crisis_radar.stack._proc import free_port
from crisis_radar.stack.services import kafka_broker_count

pytestmark = [
    pytest.mark.stack,
    # kafka-python 3.0 loads its protocol schemas with deprecated importlib.resources calls.
    pytest.mark.filterwarnings(r"ignore:.*Use files\(\) instead:DeprecationWarning"),
]
ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = {"127.0.0.1", "::ffff:127.0.0.1"}


def test_kafka_produce_and_consume(kafka_bootstrap: str, topic_prefix: str) -> None:
    from kafka import KafkaConsumer, KafkaProducer

    topic = f"{topic_prefix}smoke"
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    sent = [f"post-{i}".encode() for i in range(20)]
    for value in sent:
        producer.send(topic, key=b"brand", value=value)
    producer.flush(timeout=30)
    producer.close()
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=f"{topic_prefix}g",
        auto_offset_reset="earliest",
        consumer_timeout_ms=15000,
    )
    got = []
    for msg in consumer:
        got.append(msg.value)
        if len(got) == len(sent):
            break
    consumer.close()
    assert got == sent  # one key -> one partition -> order kept


def test_kafka_health_probe(kafka_bootstrap: str) -> None:
    host, port = kafka_bootstrap.split(",")[0].rsplit(":", 1)
    assert kafka_broker_count(host, int(port)) == 1
    assert kafka_broker_count("127.0.0.1", free_port()) == 0


def test_clickhouse_low_cardinality_roundtrip(clickhouse) -> None:  # type: ignore[no-untyped-def]
    clickhouse.execute(
        "CREATE TABLE t (brand LowCardinality(String), n UInt32) ENGINE = MergeTree ORDER BY brand"
    )
    clickhouse.execute("INSERT INTO t VALUES", [("acme", 1), ("acme", 2), ("globex", 5)])
    rows = clickhouse.execute("SELECT brand, sum(n) FROM t GROUP BY brand ORDER BY brand")
    assert rows == [("acme", 3), ("globex", 5)]
    assert clickhouse.execute("SELECT toTypeName(brand) FROM t LIMIT 1") == [
        ("LowCardinality(String)",)
    ]
    # Server time zone is UTC: one day after the epoch renders as midnight.
    assert clickhouse.execute("SELECT toString(toDateTime(86400))") == [("1970-01-02 00:00:00",)]


@pytest.mark.parametrize(
    ("tool", "args"),
    [
        ("promtool", ["check", "config", "deploy/prometheus/prometheus.yml"]),
        ("promtool", ["check", "config", "deploy/prometheus/prometheus.docker.yml"]),
        ("amtool", ["check-config", "deploy/alertmanager/alertmanager.yml"]),
    ],
)
def test_configs_are_valid(tool: str, args: list[str]) -> None:
    exe = shutil.which(tool)
    if exe is None:
        pytest.skip(f"{tool} missing: `crisis-radar stack up` installs it")
    done = subprocess.run([exe, *args], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_prometheus_and_alertmanager_ready(prometheus_url: str, alertmanager_url: str) -> None:
    assert _proc.http_get(f"{prometheus_url}/-/ready")[0] == 200
    assert _proc.http_get(f"{alertmanager_url}/-/ready")[0] == 200
    # Prometheus knows where Alertmanager is (alerting section of prometheus.yml).
    deadline = time.monotonic() + 10
    while True:
        status, body = _proc.http_get(f"{prometheus_url}/api/v1/alertmanagers")
        if status == 200 and alertmanager_url.rsplit(":", 1)[1] in body:
            break
        assert time.monotonic() < deadline, body
        time.sleep(0.5)


def _local_only(stack) -> None:  # type: ignore[no-untyped-def]
    if set(stack.source.values()) != {"local"}:
        pytest.skip("the session's services are not (all) from the local stack")


def test_second_up_is_a_noop(stack) -> None:  # type: ignore[no-untyped-def]
    _local_only(stack)
    before = {s.name: s.pid for s in local_stack.status(settings=stack.base)}
    t0 = time.monotonic()
    after = local_stack.up(settings=stack.base)
    assert time.monotonic() - t0 < 5
    assert {s.name: s.pid for s in after} == before
    assert {s.state for s in after} <= {"running", "external"}


def test_status_cli_shows_ports(stack, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    _local_only(stack)
    assert stack_cmd.main(["status"]) == 0
    out = capsys.readouterr().out
    for port in (9092, 9097, 9000, 8123, 9090, 9093):
        assert f"127.0.0.1:{port}" in out
    for name in local_stack.SERVICE_NAMES:
        line = next(ln for ln in out.splitlines() if ln.startswith(name))
        assert " running " in line or " external " in line, line


def test_stack_listens_on_loopback_only(stack) -> None:  # type: ignore[no-untyped-def]
    _local_only(stack)
    statuses = local_stack.status(settings=stack.base)
    found = local_stack.listeners_of(statuses)
    assert {9092, 9097, 9000, 8123, 9090, 9093} <= {lst.port for lst in found}
    assert [lst for lst in found if lst.host not in LOOPBACK] == []


def test_missing_tool_says_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no such tool and no apt-get on this PATH
    with pytest.raises(local_stack.StackError, match=r"install .*no-such-pkg"):
        _install.ensure_tool(("no-such-tool",), ["no-such-pkg"], "No Such Tool")


def test_up_installed_the_report_fonts(stack) -> None:  # type: ignore[no-untyped-def]
    _local_only(stack)  # the session's `stack up` ran fonts(): dpkg lists them now
    assert _install._missing_packages(_install.FONT_PACKAGES) == []
    assert _install.fonts() is None  # a second call has nothing to do


def test_fonts_without_apt_warn_with_the_packages(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no dpkg-query, no apt-get
    warning = _install.fonts()
    assert warning is not None and "fonts-noto-color-emoji" in warning and "apt-get" in warning


@pytest.fixture
def scratch(tmp_path: Path, stack) -> Settings:  # type: ignore[no-untyped-def]
    """A throw-away stack folder with ClickHouse and Alertmanager on free ports."""
    _local_only(stack)
    return Settings(
        stack_dir=tmp_path / f"s{uuid.uuid4().hex[:6]}",
        clickhouse_port=free_port(),
        clickhouse_http_port=free_port(),
        alertmanager_port=free_port(),
    )


def test_throwaway_up_concurrent_then_down(scratch: Settings) -> None:
    names = ["clickhouse", "alertmanager"]
    results: list[list[local_stack.ServiceStatus]] = []
    threads = [
        threading.Thread(target=lambda: results.append(local_stack.up(names, scratch)))
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 2
    first, second = ({s.name: (s.state, s.pid) for s in r} for r in results)
    assert first == second  # the lock made the second caller find the first one's processes
    assert {state for state, _ in first.values()} == {"running"}
    statuses = local_stack.status(names, scratch)
    ports = {lst.port for lst in local_stack.listeners_of(statuses)}
    assert {
        scratch.clickhouse_port,
        scratch.clickhouse_http_port,
        scratch.alertmanager_port,
    } <= ports
    pids = [s.pid for s in statuses if s.pid]
    assert local_stack.reload(names, scratch) == {}  # Alertmanager re-reads its config
    assert [s.pid for s in local_stack.status(names, scratch)] == [s.pid for s in statuses]

    assert sorted(local_stack.down(names, scratch)) == sorted(names)
    assert {s.state for s in local_stack.status(names, scratch)} == {"stopped"}
    assert not any(_proc.alive(p) for p in pids)
    assert not any(_proc.port_open("127.0.0.1", p) for p in ports)
    assert not list((scratch.stack_dir / "run").glob("*.pid"))
    assert local_stack.down(names, scratch) == []  # nothing left to stop


def test_port_held_by_a_stranger_is_a_clear_error(scratch: Settings) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", scratch.alertmanager_port))
        squatter.listen()
        with pytest.raises(local_stack.StackError, match=f"port {scratch.alertmanager_port}"):
            local_stack.up(["alertmanager"], scratch)
    assert local_stack.status(["alertmanager"], scratch)[0].state == "stopped"


def test_healthy_service_of_another_checkout_is_reused(stack, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _local_only(stack)
    other = Settings(stack_dir=tmp_path / "other-checkout")  # same ports as the shared stack
    statuses = local_stack.up(["prometheus"], other)
    assert [(s.state, s.pid) for s in statuses] == [
        ("external", local_stack.status(["prometheus"], stack.base)[0].pid)
    ]
    assert local_stack.down(["prometheus"], other) == []  # never stops what it did not start
    assert local_stack.status(["prometheus"], stack.base)[0].state in ("running", "external")


def test_logs_cli_tails_a_service_log(stack, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    _local_only(stack)
    if local_stack.status(["prometheus"], stack.base)[0].state != "running":
        pytest.skip("prometheus runs from another checkout: its log is not ours")
    assert stack_cmd.main(["logs", "prometheus", "-n", "3"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert 1 <= len(lines) <= 3
    assert any("level=" in ln for ln in lines)  # Prometheus' logfmt lines


def test_prometheus_scrapes_itself_and_alertmanager(prometheus_url: str) -> None:
    import json

    deadline = time.monotonic() + 15
    while True:
        status, body = _proc.http_get(f"{prometheus_url}/api/v1/targets")
        targets = json.loads(body)["data"]["activeTargets"] if status == 200 else []
        health = {
            t["labels"]["job"]: t["health"]
            for t in targets
            if t["labels"]["job"] in ("prometheus", "alertmanager")
        }
        if health == {"prometheus": "up", "alertmanager": "up"}:
            break
        assert time.monotonic() < deadline, health
        time.sleep(0.5)
    jobs = {t["labels"]["job"] for t in targets}
    assert {"crisis-radar", "crisis-radar-extra"} <= jobs  # worker jobs are configured


def test_kafka_cluster_ids_never_look_like_options() -> None:
    # 1 in 64 random ids starts with '-', which kafka-storage's parser took for an option (a CI
    # run failed on it); 2000 draws would hit one with probability 1 - 1e-14.
    import base64

    from crisis_radar.stack.services import _kafka_cluster_id

    ids = [_kafka_cluster_id() for _ in range(2000)]
    assert not [i for i in ids if i.startswith("-")]
    assert all(len(base64.urlsafe_b64decode(i + "==")) == 16 for i in ids)
