"""The local ClickHouse cluster: ZooKeeper plus one ClickHouse 18.16 server per replica.

``crisis-radar stack up --clickhouse-shards S --clickhouse-replicas R`` writes the topology to
``<stack>/clickhouse-cluster.json``; from then on the stack's ``clickhouse`` service is this
cluster (until ``stack up --clickhouse-shards 1 --clickhouse-replicas 1``). Server k (k = 0 ..
S*R-1, shard-major) listens on ``clickhouse_port + k`` (native), ``clickhouse_http_port + k`` and
``clickhouse_interserver_port + k`` (replication), so server 0 is where clients already point.
Each one gets the same config.xml as the single server plus ``config.d/cluster.xml``: the
cluster definition (remote_servers, ``internal_replication`` true: the Distributed table writes
one replica per shard and replication copies it), ZooKeeper, the distributed DDL queue, and its
macros ``{shard}`` (1..S) and ``{replica}`` (``s<shard>r<replica>``: unique in the whole cluster,
so a table replicated on every server, like the migration ledger, can use it too).
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from crisis_radar.settings import Settings
from crisis_radar.stack import _install
from crisis_radar.stack._proc import http_get
from crisis_radar.stack.services import DEPLOY, ClickHouse, Service, _render

TOPOLOGY_FILE = "clickhouse-cluster.json"
DEFAULT_CLUSTER = "crisis_radar"


@dataclass(frozen=True)
class Topology:
    shards: int
    replicas: int
    name: str

    @property
    def servers(self) -> int:
        return self.shards * self.replicas


def topology(settings: Settings) -> Topology | None:
    """The cluster this stack runs, or None for the single server. Settings win (a fresh
    ``stack up`` with flags); otherwise what the last such ``stack up`` recorded."""
    name = settings.clickhouse_cluster or DEFAULT_CLUSTER
    if settings.clickhouse_shards * settings.clickhouse_replicas > 1:
        return Topology(settings.clickhouse_shards, settings.clickhouse_replicas, name)
    path = settings.stack_dir / TOPOLOGY_FILE
    if not path.exists():
        return None
    saved = json.loads(path.read_text())
    return Topology(int(saved["shards"]), int(saved["replicas"]), str(saved["name"]))


def save_topology(settings: Settings) -> Topology | None:
    """Record the settings' topology for later ``stack`` commands (1 x 1: back to one server)."""
    path = settings.stack_dir / TOPOLOGY_FILE
    if settings.clickhouse_shards * settings.clickhouse_replicas == 1:
        path.unlink(missing_ok=True)
        return None
    topo = topology(settings)
    assert topo is not None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"shards": topo.shards, "replicas": topo.replicas,
                                "name": topo.name}) + "\n")  # fmt: skip
    return topo


class ZooKeeper(Service):
    """One standalone ZooKeeper server (Apache's jars from Maven Central)."""

    # ClickHouse 18.16 started before its ZooKeeper answers crashes (SIGSEGV in
    # ZooKeeper::createImpl) on its first ON CLUSTER query: `stack up` waits for this one first.
    healthy_before_the_next = True

    def __init__(self, settings: Settings) -> None:
        super().__init__("zookeeper", settings, start_timeout_s=60.0, stop_timeout_s=15.0)
        self._java = ""
        self._libs = Path()

    @property
    def ports(self) -> tuple[int, ...]:
        return (self.settings.zookeeper_port,)

    def install(self) -> None:
        self._java = _install.java()
        self._libs = _install.zookeeper_libs()

    def argv(self) -> list[str]:
        cfg = _render(
            DEPLOY / "zookeeper" / "zoo.cfg.in",
            self.home / "zoo.cfg",
            {"data_dir": str(self.home / "data"), "port": str(self.settings.zookeeper_port)},
        )
        return [
            self._java,
            "-Xms64m",
            "-Xmx256m",
            "-Djava.awt.headless=true",
            f"-Dlogback.configurationFile={DEPLOY / 'zookeeper' / 'logback.xml'}",
            "-cp",
            f"{self._libs}/*",
            "org.apache.zookeeper.server.quorum.QuorumPeerMain",
            str(cfg),
        ]

    def healthy(self) -> bool:
        return "Mode: standalone" in four_letter("127.0.0.1", self.settings.zookeeper_port, "srvr")


def four_letter(host: str, port: int, word: str, timeout_s: float = 2.0) -> str:
    """ZooKeeper's answer to a four-letter command ('' when it does not answer)."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            sock.sendall(word.encode())
            chunks = []
            while chunk := sock.recv(4096):
                chunks.append(chunk)
    except OSError:
        return ""
    return b"".join(chunks).decode(errors="replace")


class ClickHouseNode(ClickHouse):
    """Server ``index`` of the cluster: replica ``replica`` of shard ``shard`` (both from 1)."""

    def __init__(self, settings: Settings, topo: Topology, shard: int, replica: int) -> None:
        super().__init__(settings)
        self.topo, self.shard, self.replica = topo, shard, replica
        self.index = (shard - 1) * topo.replicas + (replica - 1)
        self.name = f"clickhouse-s{shard}r{replica}"

    @property
    def tcp_port(self) -> int:
        return self.settings.clickhouse_port + self.index

    @property
    def http_port(self) -> int:
        return self.settings.clickhouse_http_port + self.index

    @property
    def interserver_port(self) -> int:
        return self.settings.clickhouse_interserver_port + self.index

    @property
    def ports(self) -> tuple[int, ...]:
        return (self.tcp_port, self.http_port, self.interserver_port)

    def argv(self) -> list[str]:
        for sub in ("data", "tmp", "user_files", "format_schemas", "log", "config.d"):
            (self.home / sub).mkdir(parents=True, exist_ok=True)
        # A copy of users.xml, so its users.d (the cluster's profile settings) is this server's.
        (self.home / "users.d").mkdir(parents=True, exist_ok=True)
        users = _render(DEPLOY / "clickhouse" / "users.xml", self.home / "users.xml", {})
        (self.home / "users.d" / "cluster.xml").write_text(CLUSTER_PROFILES)
        config = _render(
            DEPLOY / "clickhouse" / "config.xml",
            self.home / "config.xml",
            {
                "stack": str(self.home),
                "users_xml": str(users),
                "tcp_port": str(self.tcp_port),
                "http_port": str(self.http_port),
            },
        )
        (self.home / "config.d" / "cluster.xml").write_text(
            cluster_xml(self.settings, self.topo, self.shard, self.replica)
        )
        return [self._bin, f"--config-file={config}"]

    def healthy(self) -> bool:
        status, body = http_get(f"http://127.0.0.1:{self.http_port}/ping")
        return status == 200 and body.strip() == "Ok."


# Merged into every profile of users.xml on the cluster's servers. prefer_localhost_replica=0:
# 18.16 reads its own shard of a Distributed table in-process when it holds a replica of it, and
# that path fails "SELECT ... FROM alerts FINAL ORDER BY minute" ("Cannot find column alert_id":
# the FINAL key columns are not read); through the network, as for the other shards, it works.
# It costs one loopback connection per query; insert_distributed_sync: see make_client.
# distributed_product_mode=global: an IN subquery over a Distributed table (the care_queue view:
# complaints not IN the brand's replies) is read whole once and sent to every shard (GLOBAL IN);
# 18.16's default (deny) refuses even to create such a view.
_PROFILE = (
    "<prefer_localhost_replica>0</prefer_localhost_replica>"
    "<insert_distributed_sync>1</insert_distributed_sync>"
    "<distributed_product_mode>global</distributed_product_mode>"
)
CLUSTER_PROFILES = f"""<?xml version="1.0"?>
<!-- Generated by `crisis-radar stack up` (crisis_radar/stack/cluster.py). -->
<yandex>
    <profiles>
        <default>{_PROFILE}</default>
        <readonly>{_PROFILE}</readonly>
        <analyst>{_PROFILE}</analyst>
        <writer>{_PROFILE}</writer>
    </profiles>
</yandex>
"""


def cluster_xml(settings: Settings, topo: Topology, shard: int, replica: int) -> str:
    """config.d/cluster.xml of one server (merged into config.xml by ClickHouse)."""
    shards = []
    for s in range(1, topo.shards + 1):
        replicas = "".join(
            "\n                <replica><host>127.0.0.1</host>"
            f"<port>{settings.clickhouse_port + (s - 1) * topo.replicas + r - 1}</port></replica>"
            for r in range(1, topo.replicas + 1)
        )
        shards.append(
            "\n            <shard>\n                <internal_replication>true"
            f"</internal_replication>{replicas}\n            </shard>"
        )
    index = (shard - 1) * topo.replicas + (replica - 1)
    name = escape(topo.name)
    return f"""<?xml version="1.0"?>
<!-- Generated by `crisis-radar stack up` (crisis_radar/stack/cluster.py): server {index} of the
     {topo.shards}-shard x {topo.replicas}-replica cluster {name}. -->
<yandex>
    <interserver_http_host>127.0.0.1</interserver_http_host>
    <interserver_http_port>{settings.clickhouse_interserver_port + index}</interserver_http_port>
    <zookeeper>
        <node><host>127.0.0.1</host><port>{settings.zookeeper_port}</port></node>
        <session_timeout_ms>30000</session_timeout_ms>
    </zookeeper>
    <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>
    <macros>
        <shard>{shard}</shard>
        <replica>s{shard}r{replica}</replica>
    </macros>
    <remote_servers>
        <{name}>{"".join(shards)}
        </{name}>
    </remote_servers>
</yandex>
"""


def cluster_services(settings: Settings, topo: Topology) -> list[Service]:
    """ZooKeeper first, then the servers shard by shard."""
    out: list[Service] = [ZooKeeper(settings)]
    for s in range(1, topo.shards + 1):
        for r in range(1, topo.replicas + 1):
            out.append(ClickHouseNode(settings, topo, s, r))
    return out
