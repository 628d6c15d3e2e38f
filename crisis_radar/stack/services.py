"""The four services of the local stack: how to prepare, start and health-check each one."""

from __future__ import annotations

import base64
import socket
import struct
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from crisis_radar.settings import Settings
from crisis_radar.stack import _install
from crisis_radar.stack._errors import StackError
from crisis_radar.stack._proc import http_get

DEPLOY = _install.DEPLOY


def _render(template: Path, out: Path, values: dict[str, str]) -> Path:
    text = template.read_text()
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return out


@dataclass
class Service:
    """One process of the stack. Subclasses fill in install/argv/health."""

    name: str
    settings: Settings
    start_timeout_s: float = 30.0
    stop_timeout_s: float = 15.0

    @property
    def home(self) -> Path:
        return self.settings.stack_dir / self.name

    @property
    def pid_file(self) -> Path:
        return self.settings.stack_dir / "run" / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        """stdout/stderr of the process."""
        return self.settings.stack_dir / "logs" / f"{self.name}.log"

    @property
    def main_log(self) -> Path:
        """The log worth reading (`stack logs`)."""
        return self.log_file

    def startup_logs(self) -> list[Path]:
        """Logs besides stdout that say why the process exited during start-up."""
        return [p for p in (self.main_log,) if p != self.log_file and p.exists()]

    @property
    def marker(self) -> str:
        # Every argv below names a path under this stack's data folder: that is how a PID is
        # recognised as ours (and not a reused PID or another checkout's server).
        return str(self.home)

    @property
    def ports(self) -> tuple[int, ...]:
        raise NotImplementedError

    def install(self) -> None:
        """Find or install binaries (may take a while the first time)."""

    def argv(self) -> list[str]:
        raise NotImplementedError

    def healthy(self) -> bool:
        raise NotImplementedError

    def reload(self) -> str | None:
        """Re-read the config without a restart; an error message, or None when done."""
        return None

    def describe(self) -> str:
        return ", ".join(f"127.0.0.1:{p}" for p in self.ports)


def _kafka_cluster_id() -> str:
    """A random KRaft cluster id. Like Kafka's own ``Uuid.randomUuid``, never one starting with
    '-': StorageTool's argument parser would take ``-t -Xy...`` for an option (1 in 64 ids)."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


KAFKA_PORT_STEP = 100  # node i of a cluster: the first node's ports + 100 i (unless listed)


@dataclass(frozen=True)
class KafkaNode:
    node_id: int  # 1-based, as KRaft's node.id
    broker_port: int
    controller_port: int


def kafka_nodes(settings: Settings, brokers: int | None = None) -> list[KafkaNode]:
    """The nodes of the local Kafka: node i serves the i-th address of ``kafka_bootstrap`` when
    listed, else the first one's port + 100 i; its controller is on ``kafka_controller_port``
    + 100 i. One node: exactly the single broker of before.

    >>> s = Settings(kafka_bootstrap="127.0.0.1:9092", kafka_controller_port=9097)
    >>> [(n.broker_port, n.controller_port) for n in kafka_nodes(s, 3)]
    [(9092, 9097), (9192, 9197), (9292, 9297)]
    >>> s = Settings(kafka_bootstrap="127.0.0.1:7001,127.0.0.1:7005", kafka_controller_port=7100)
    >>> [(n.broker_port, n.controller_port) for n in kafka_nodes(s, 3)]
    [(7001, 7100), (7005, 7200), (7201, 7300)]
    """
    n = brokers if brokers is not None else settings.kafka_brokers
    listed = [int(a.rsplit(":", 1)[1]) for a in settings.kafka_bootstrap.split(",") if a.strip()]
    return [
        KafkaNode(
            i + 1,
            listed[i] if i < len(listed) else listed[0] + KAFKA_PORT_STEP * i,
            settings.kafka_controller_port + KAFKA_PORT_STEP * i,
        )
        for i in range(n)
    ]


def kafka_bootstrap_of(nodes: list[KafkaNode]) -> str:
    """The bootstrap list clients should use: every node, so losing one loses no client."""
    return ",".join(f"127.0.0.1:{n.broker_port}" for n in nodes)


class Kafka(Service):
    """One KRaft node (broker + controller). ``of`` > 1: node ``node`` of a cluster of ``of``
    voters, named ``kafka-<node>``, with its own ports and data folder; the defaults (one
    node, ``kafka``) are the single broker of the local stack."""

    def __init__(self, settings: Settings, node: int = 1, of: int = 1) -> None:
        name = "kafka" if of == 1 else f"kafka-{node}"
        super().__init__(name, settings, start_timeout_s=90.0, stop_timeout_s=30.0)
        self.nodes = kafka_nodes(settings, of)
        self.node = self.nodes[node - 1]
        self._java = ""
        self._libs = Path()

    @property
    def broker_port(self) -> int:
        return self.node.broker_port

    @property
    def ports(self) -> tuple[int, ...]:
        return (self.broker_port, self.node.controller_port)

    @property
    def main_log(self) -> Path:
        server_log = self.home / "logs" / "server.log"  # log4j.properties; stdout before it
        return server_log if server_log.exists() else self.log_file

    def install(self) -> None:
        self._java = _install.java()
        self._libs = _install.kafka_libs()

    def _java_cmd(self, main: str, *args: str) -> list[str]:
        return [
            self._java,
            "-Xms256m",
            "-Xmx1g",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            f"-Dlog4j.configuration=file:{DEPLOY / 'kafka' / 'log4j.properties'}",
            f"-Dkafka.logs.dir={self.home / 'logs'}",
            "-cp",
            f"{self._libs}/*",
            main,
            *args,
        ]

    def _cluster_id(self) -> str:
        """Every node of a cluster is formatted with the same id: the first node to start
        draws it and leaves it beside the nodes' folders."""
        if len(self.nodes) == 1:
            return _kafka_cluster_id()
        shared = self.settings.stack_dir / "kafka-cluster.id"
        if not shared.exists():
            shared.write_text(_kafka_cluster_id() + "\n")
        return shared.read_text().strip()

    def argv(self) -> list[str]:
        data = self.home / "data"
        replicas = min(len(self.nodes), 3)  # Kafka's own topics (offsets, transactions)
        props = _render(
            DEPLOY / "kafka" / "server.properties.in",
            self.home / "server.properties",
            {
                "node_id": str(self.node.node_id),
                "voters": ",".join(
                    f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in self.nodes
                ),
                "broker_port": str(self.broker_port),
                "controller_port": str(self.node.controller_port),
                "data_dir": str(data),
                "replicas": str(replicas),
                "min_isr": str(max(1, replicas - 1)),
            },
        )
        if not (data / "meta.properties").exists():
            done = subprocess.run(
                self._java_cmd(
                    "kafka.tools.StorageTool",
                    "format",
                    "-t",
                    self._cluster_id(),
                    "-c",
                    str(props),
                    "--ignore-formatted",
                ),
                capture_output=True,
                text=True,
            )
            if done.returncode != 0:
                raise StackError(f"formatting Kafka storage failed:\n{done.stdout}{done.stderr}")
        return self._java_cmd("kafka.Kafka", str(props))

    def healthy(self) -> bool:
        # A cluster node is healthy once it sees every node: a quorum that lost one still
        # serves, but `stack status` then says which node is missing.
        return kafka_broker_count("127.0.0.1", self.broker_port) >= len(self.nodes)

    def describe(self) -> str:
        text = super().describe()
        if len(self.nodes) > 1:
            text += f", node {self.node.node_id} of {len(self.nodes)}"
        return text


def kafka_broker_count(host: str, port: int, timeout_s: float = 2.0) -> int:
    """Brokers listed in a Metadata v0 answer (0 when the broker does not answer properly)."""
    client = b"crisis-radar-stack"
    body = struct.pack(">hhih", 3, 0, 1, len(client)) + client + struct.pack(">i", 0)
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            sock.sendall(struct.pack(">i", len(body)) + body)
            head = _recv(sock, 4)
            payload = _recv(sock, struct.unpack(">i", head)[0])
    except (OSError, struct.error):
        return 0
    correlation, brokers = struct.unpack(">ii", payload[:8])
    return brokers if correlation == 1 else 0


def _recv(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise OSError("connection closed")
        buf += chunk
    return buf


class ClickHouse(Service):
    def __init__(self, settings: Settings) -> None:
        super().__init__("clickhouse", settings, start_timeout_s=30.0, stop_timeout_s=20.0)
        self._bin = ""

    @property
    def ports(self) -> tuple[int, ...]:
        return (self.settings.clickhouse_port, self.settings.clickhouse_http_port)

    @property
    def main_log(self) -> Path:
        return self.home / "log" / "clickhouse-server.log"

    def startup_logs(self) -> list[Path]:
        err = self.home / "log" / "clickhouse-server.err.log"  # "Address already in use" etc.
        return [err] if err.exists() else super().startup_logs()

    def install(self) -> None:
        self._bin = _install.ensure_tool(
            ("clickhouse-server", "/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server"),
            ["clickhouse-server", "clickhouse-client"],
            "ClickHouse server",
        )

    def argv(self) -> list[str]:
        for sub in ("data", "tmp", "user_files", "format_schemas", "log"):
            (self.home / sub).mkdir(parents=True, exist_ok=True)
        config = _render(
            DEPLOY / "clickhouse" / "config.xml",
            self.home / "config.xml",
            {
                "stack": str(self.home),
                "users_xml": str(DEPLOY / "clickhouse" / "users.xml"),
                "tcp_port": str(self.settings.clickhouse_port),
                "http_port": str(self.settings.clickhouse_http_port),
            },
        )
        return [self._bin, f"--config-file={config}"]

    def healthy(self) -> bool:
        status, body = http_get(f"http://127.0.0.1:{self.settings.clickhouse_http_port}/ping")
        return status == 200 and body.strip() == "Ok."


class Prometheus(Service):
    def __init__(self, settings: Settings) -> None:
        super().__init__("prometheus", settings)
        self._bin = ""

    @property
    def ports(self) -> tuple[int, ...]:
        return (self.settings.prometheus_port,)

    def install(self) -> None:
        self._bin = _install.ensure_tool(("prometheus",), ["prometheus"], "Prometheus")

    def argv(self) -> list[str]:
        self.home.mkdir(parents=True, exist_ok=True)
        return [
            self._bin,
            f"--config.file={DEPLOY / 'prometheus' / 'prometheus.yml'}",
            f"--storage.tsdb.path={self.home}",
            f"--web.listen-address=127.0.0.1:{self.settings.prometheus_port}",
            "--web.enable-lifecycle",
        ]

    def healthy(self) -> bool:
        return http_get(f"http://127.0.0.1:{self.settings.prometheus_port}/-/ready")[0] == 200

    def reload(self) -> str | None:
        status, body = http_get(
            f"http://127.0.0.1:{self.settings.prometheus_port}/-/reload",
            timeout_s=10,
            method="POST",
        )
        return None if status == 200 else f"reload failed (HTTP {status}): {body.strip()}"


class Alertmanager(Service):
    def __init__(self, settings: Settings) -> None:
        super().__init__("alertmanager", settings)
        self._bin = ""

    @property
    def ports(self) -> tuple[int, ...]:
        return (self.settings.alertmanager_port,)

    def install(self) -> None:
        self._bin = _install.ensure_tool(
            ("prometheus-alertmanager", "alertmanager"), ["prometheus-alertmanager"], "Alertmanager"
        )

    def argv(self) -> list[str]:
        self.home.mkdir(parents=True, exist_ok=True)
        return [
            self._bin,
            f"--config.file={DEPLOY / 'alertmanager' / 'alertmanager.yml'}",
            f"--storage.path={self.home}",
            f"--web.listen-address=127.0.0.1:{self.settings.alertmanager_port}",
            "--cluster.listen-address=",
        ]

    def healthy(self) -> bool:
        return http_get(f"http://127.0.0.1:{self.settings.alertmanager_port}/-/ready")[0] == 200

    def reload(self) -> str | None:
        status, body = http_get(
            f"http://127.0.0.1:{self.settings.alertmanager_port}/-/reload",
            timeout_s=10,
            method="POST",
        )
        return None if status == 200 else f"reload failed (HTTP {status}): {body.strip()}"


SERVICE_TYPES: dict[str, Callable[[Settings], Service]] = {
    "kafka": Kafka,
    "clickhouse": ClickHouse,
    "prometheus": Prometheus,
    "alertmanager": Alertmanager,
}
