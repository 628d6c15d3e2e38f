"""Session-wide real services for the tests (no mocks of Kafka, ClickHouse or Prometheus).

Where the services come from, first match wins:
1. environment: a service named by ``CRISIS_RADAR_KAFKA_BOOTSTRAP``,
   ``CRISIS_RADAR_CLICKHOUSE_HOST`` (+ ``_PORT``/``_HTTP_PORT``/``_USER``/``_PASSWORD``),
   ``CRISIS_RADAR_PROMETHEUS_URL`` or ``CRISIS_RADAR_ALERTMANAGER_URL`` is used as is;
2. ``CRISIS_RADAR_TESTCONTAINERS=1`` and a Docker engine answers: the rest run in containers
   (same images and ports as docker-compose.yml);
3. otherwise the rest come from the local stack (``crisis_radar.stack.up``; a no-op when it is
   already up, so a second test run reuses it). The suite never stops the local stack.

Only tests that ask for these fixtures start anything.
"""

from __future__ import annotations

import os
import time
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from crisis_radar.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
ENV_OVERRIDES = {
    "kafka": "CRISIS_RADAR_KAFKA_BOOTSTRAP",
    "clickhouse": "CRISIS_RADAR_CLICKHOUSE_HOST",
    "prometheus": "CRISIS_RADAR_PROMETHEUS_URL",
    "alertmanager": "CRISIS_RADAR_ALERTMANAGER_URL",
}


@dataclass
class Stack:
    """Where the services of this test session are."""

    base: Settings  # kafka/clickhouse coordinates (and stack_dir) of the session
    prometheus_url: str
    alertmanager_url: str
    source: dict[str, str] = field(default_factory=dict)  # service -> env | testcontainers | local

    @property
    def kafka_bootstrap(self) -> str:
        return self.base.kafka_bootstrap


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


def _start_containers(names: list[str], base: Settings) -> list[Any]:
    """Containers on the local stack's ports (as docker-compose.yml), waited on by health."""
    from testcontainers.core.container import DockerContainer

    from crisis_radar.stack import services

    deploy = ROOT / "deploy"
    specs: dict[str, DockerContainer] = {
        "kafka": DockerContainer("apache/kafka:3.9.1").with_envs(
            KAFKA_NODE_ID="1",
            KAFKA_PROCESS_ROLES="broker,controller",
            KAFKA_LISTENERS="PLAINTEXT://0.0.0.0:9092,CONTROLLER://0.0.0.0:9097",
            KAFKA_ADVERTISED_LISTENERS="PLAINTEXT://127.0.0.1:9092",
            KAFKA_CONTROLLER_LISTENER_NAMES="CONTROLLER",
            KAFKA_LISTENER_SECURITY_PROTOCOL_MAP="PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            KAFKA_CONTROLLER_QUORUM_VOTERS="1@localhost:9097",
            KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR="1",
            KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR="1",
            KAFKA_TRANSACTION_STATE_LOG_MIN_ISR="1",
            KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS="0",
            KAFKA_NUM_PARTITIONS="4",
            KAFKA_AUTO_CREATE_TOPICS_ENABLE="true",
        ),
        "clickhouse": DockerContainer("clickhouse/clickhouse-server:latest").with_env(
            "CLICKHOUSE_SKIP_USER_SETUP", "1"
        ),
        "prometheus": DockerContainer("prom/prometheus:latest")
        .with_volume_mapping(str(deploy / "prometheus"), "/etc/prometheus", "ro")
        .with_command(
            ["--config.file=/etc/prometheus/prometheus.docker.yml", "--web.enable-lifecycle"]
        ),
        "alertmanager": DockerContainer("prom/alertmanager:latest")
        .with_volume_mapping(str(deploy / "alertmanager"), "/etc/alertmanager", "ro")
        .with_command(
            ["--config.file=/etc/alertmanager/alertmanager.yml", "--cluster.listen-address="]
        ),
    }
    ports = {
        "kafka": (9092,),
        "clickhouse": (9000, 8123),
        "prometheus": (9090,),
        "alertmanager": (9093,),
    }
    for name, container in specs.items():
        for port in ports[name]:  # docker-py takes (host_ip, port): publish on loopback only
            container.ports[str(port)] = ("127.0.0.1", port)
    started = [specs[n].start() for n in names]
    deadline = time.monotonic() + 120
    for svc in services(names, base):
        while not svc.healthy():
            if time.monotonic() > deadline:
                raise RuntimeError(f"container {svc.name} not healthy after 120 s")
            time.sleep(0.5)
    return started


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    base = Settings()
    overridden = {name for name, var in ENV_OVERRIDES.items() if os.environ.get(var)}
    rest = [name for name in ENV_OVERRIDES if name not in overridden]
    source = dict.fromkeys(overridden, "env")
    containers: list[Any] = []
    if rest and os.environ.get("CRISIS_RADAR_TESTCONTAINERS") == "1" and _docker_answers():
        containers = _start_containers(rest, base)
        source |= dict.fromkeys(rest, "testcontainers")
    elif rest:
        from crisis_radar import stack as local_stack

        try:
            local_stack.up(rest, base)
        except local_stack.StackError as exc:
            pytest.fail(f"local stack did not come up: {exc}", pytrace=False)
        source |= dict.fromkeys(rest, "local")
    yield Stack(
        base=base,
        prometheus_url=os.environ.get("CRISIS_RADAR_PROMETHEUS_URL")
        or f"http://127.0.0.1:{base.prometheus_port}",
        alertmanager_url=os.environ.get("CRISIS_RADAR_ALERTMANAGER_URL")
        or f"http://127.0.0.1:{base.alertmanager_port}",
        source=source,
    )
    _delete_topics(base.kafka_bootstrap, _PREFIXES)
    for container in containers:
        container.stop()


@pytest.fixture
def kafka_bootstrap(stack: Stack) -> str:
    return stack.kafka_bootstrap


@pytest.fixture
def prometheus_url(stack: Stack) -> str:
    return stack.prometheus_url


@pytest.fixture
def alertmanager_url(stack: Stack) -> str:
    return stack.alertmanager_url


_PREFIXES: list[str] = []  # topic prefixes handed out this session, cleaned up at its end


@pytest.fixture
def topic_prefix() -> str:
    """Unique per test (``t<uuid8>.``); its topics are deleted when the session ends."""
    prefix = f"t{uuid.uuid4().hex[:8]}."
    _PREFIXES.append(prefix)
    return prefix


def _delete_topics(bootstrap: str, prefixes: list[str]) -> None:
    """One admin call for the whole session (per-test cleanup would cost a connection each)."""
    if not prefixes:
        return
    with warnings.catch_warnings():  # kafka-python's own importlib.resources deprecations
        warnings.simplefilter("ignore", DeprecationWarning)
        from kafka import KafkaAdminClient

        try:
            admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="crisis-radar-tests")
        except Exception:
            return  # cleanup only: a broken broker is reported by the tests themselves
        try:
            mine = [t for t in admin.list_topics() if t.startswith(tuple(prefixes))]
            if mine:
                admin.delete_topics(mine)
        except Exception:
            pass
        finally:
            admin.close()


def _client(base: Settings, database: str = "default") -> Any:
    from clickhouse_driver import Client

    return Client(
        host=base.clickhouse_host,
        port=base.clickhouse_port,
        user=base.clickhouse_user,
        password=base.clickhouse_password,
        database=database,
        secure=base.clickhouse_secure,
        settings={"allow_experimental_low_cardinality_type": 1},
    )


@pytest.fixture
def clickhouse_database(stack: Stack) -> Iterator[str]:
    """A fresh, empty database for this test, dropped afterwards."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = _client(stack.base)
    admin.execute(f"CREATE DATABASE {name}")
    yield name
    admin.execute(f"DROP DATABASE IF EXISTS {name}")
    admin.disconnect()


@pytest.fixture
def clickhouse(stack: Stack, clickhouse_database: str) -> Iterator[Any]:
    """A clickhouse_driver Client whose default database is this test's own database."""
    client = _client(stack.base, clickhouse_database)
    yield client
    client.disconnect()


@pytest.fixture
def settings(stack: Stack, topic_prefix: str, clickhouse_database: str) -> Settings:
    """Settings pointing at the session's services, with this test's topic prefix and database."""
    return stack.base.model_copy(
        update={"topic_prefix": topic_prefix, "clickhouse_database": clickhouse_database}
    )


@pytest.fixture(scope="module")
def chdb_db() -> Iterator[Any]:
    """Embedded current ClickHouse (chdb) seeded with tests/sqlcheck.py's sample data."""
    import importlib.util

    if importlib.util.find_spec("chdb") is None:
        pytest.skip("chdb not installed: pip install -e '.[sqlcheck]'")
    from sqlcheck import Chdb, seed_statements

    db = Chdb()
    db.run_all(seed_statements())
    yield db
    db.close()


@pytest.fixture
def webhook() -> Iterator[Any]:
    """Alertmanager's webhook payloads (127.0.0.1:5001) during this test."""
    from paging_support import receive_webhook

    yield from receive_webhook()


@pytest.fixture
def paging(prometheus_url: str, alertmanager_url: str, webhook: Any) -> Any:
    """End-to-end paging (tests/paging_support.py): Prometheus and Alertmanager reloaded with
    this checkout's rules and routes, a free port Prometheus scrapes, the webhook's payloads."""
    from paging_support import reloaded

    return reloaded(prometheus_url, alertmanager_url, webhook)


@pytest.fixture
def worker_paging(prometheus_url: str, alertmanager_url: str, webhook: Any) -> Any:
    """``paging`` for a real worker: skipped unless the worker can load its sentiment model."""
    from paging_support import reloaded, require_worker_model

    require_worker_model()
    return reloaded(prometheus_url, alertmanager_url, webhook)
