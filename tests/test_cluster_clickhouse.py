"""The ClickHouse cluster on real 18.16 servers: 2 shards x 2 replicas plus ZooKeeper, started once
per session by `crisis_radar.stack` under a temporary stack folder on free ports (the shared
single-node stack is not touched). Migrations in their cluster form, the analysts' queries of
docs/queries.md unchanged, and the fault test of issue 20: a replica stopped for 60 s while the
sink inserts; after it rejoins, both replicas of every shard hold every row.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlcheck import ClickHouseHttp, sample_posts, seed_data_statements
from test_queries import _check_numbers, _run_all

from crisis_radar import stack
from crisis_radar.clickhouse import make_client, migrate, on_each_shard, require_schema
from crisis_radar.settings import Settings
from crisis_radar.stack import _proc
from crisis_radar.stack.cluster import ClickHouseNode
from radar_base.errors import ServiceUnreachable

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

SHARDS, REPLICAS = 2, 2
CLUSTER = "crisis_radar"


@pytest.fixture(scope="session")
def ch_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Settings of a running 2x2 cluster (ZooKeeper + 4 servers), stopped at session end."""
    n = SHARDS * REPLICAS
    used: set[int] = set()
    bases = []
    for _ in range(3):  # native, HTTP, interserver
        base = _proc.free_port_block(n, used)
        used |= set(range(base, base + n))
        bases.append(base)
    zk = _proc.free_port_block(1, used)
    settings = Settings(
        stack_dir=Path(tmp_path_factory.mktemp("stack-cluster")),
        clickhouse_port=bases[0],
        clickhouse_http_port=bases[1],
        clickhouse_interserver_port=bases[2],
        zookeeper_port=zk,
        clickhouse_shards=SHARDS,
        clickhouse_replicas=REPLICAS,
        clickhouse_cluster=CLUSTER,
    )
    try:
        stack.up(["clickhouse"], settings)
        yield settings
    finally:
        stack.down(["clickhouse"], settings)


def _nodes(settings: Settings) -> list[ClickHouseNode]:
    return [s for s in stack.services(["clickhouse"], settings) if isinstance(s, ClickHouseNode)]


def _on(settings: Settings, node: ClickHouseNode, database: str = "default") -> Any:
    return make_client(settings.model_copy(update={"clickhouse_port": node.tcp_port}), database)


@pytest.fixture
def cluster_db(ch_cluster: Settings) -> Iterator[Settings]:
    """Cluster settings with a fresh migrated database of this test's own."""
    db = f"c{uuid.uuid4().hex[:10]}"
    settings = ch_cluster.model_copy(update={"clickhouse_database": db})
    migrate(settings)
    yield settings
    admin = make_client(settings, "default")
    with contextlib.suppress(Exception):  # best effort: the whole cluster goes at session end
        admin.execute(f"DROP DATABASE IF EXISTS {db} ON CLUSTER {CLUSTER}")
    admin.disconnect()


def test_stack_runs_two_shards_of_two_replicas(ch_cluster: Settings) -> None:
    nodes = _nodes(ch_cluster)
    assert [n.name for n in nodes] == [
        "clickhouse-s1r1", "clickhouse-s1r2", "clickhouse-s2r1", "clickhouse-s2r2"
    ]  # fmt: skip
    states = {st.name: st.state for st in stack.status(["clickhouse"], ch_cluster)}
    assert set(states.values()) == {"running"} and "zookeeper" in states
    for node in nodes:
        client = _on(ch_cluster, node)
        macros = dict(client.execute("SELECT macro, substitution FROM system.macros"))
        assert macros == {"shard": str(node.shard), "replica": f"s{node.shard}r{node.replica}"}
        servers = client.execute(
            "SELECT shard_num, replica_num, port FROM system.clusters WHERE cluster = %(c)s",
            {"c": CLUSTER},
        )
        assert len(servers) == SHARDS * REPLICAS
        assert client.execute("SELECT count() FROM system.zookeeper WHERE path = '/'")[0][0] > 0
        client.disconnect()


def test_migrations_make_replicated_and_distributed_tables(cluster_db: Settings) -> None:
    assert migrate(cluster_db) == []  # idempotent: the replicated ledger has them all
    db = cluster_db.clickhouse_database
    for node in _nodes(cluster_db):
        client = _on(cluster_db, node, db)
        engines = dict(client.execute(
            "SELECT name, engine FROM system.tables WHERE database = %(db)s", {"db": db}
        ))  # fmt: skip
        client.disconnect()
        for table in ("posts", "brand_minutes", "alerts", "dead_letters"):
            assert engines[table] == "Distributed", (node.name, table)
            assert engines[f"{table}_local"] == "ReplicatedReplacingMergeTree"
        assert engines["brand_hours_local"] == "ReplicatedAggregatingMergeTree"
        assert engines["brand_hours_mv"] == "MaterializedView"
        assert engines["schema_migrations"] == "ReplicatedReplacingMergeTree"
        # every server answers the worker's schema check (the ledger is on all of them)
        require_schema(cluster_db.model_copy(update={"clickhouse_port": node.tcp_port}))


def _http(settings: Settings) -> ClickHouseHttp:
    db = ClickHouseHttp("127.0.0.1", settings.clickhouse_http_port, settings.clickhouse_database)
    db.params["insert_distributed_sync"] = "1"
    return db


def _local_keys(settings: Settings, node: ClickHouseNode) -> set[str]:
    client = _on(settings, node, settings.clickhouse_database)
    try:
        return {k for (k,) in client.execute("SELECT post_key FROM posts_local")}
    finally:
        client.disconnect()


def _wait_replicated(settings: Settings, timeout_s: float = 180.0) -> None:
    """Until no replica has replication work queued (a deadline, not a speed check)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        queued = 0
        for node in _nodes(settings):
            client = _on(settings, node)
            queued += client.execute(
                "SELECT count() FROM system.replication_queue WHERE database = %(db)s",
                {"db": settings.clickhouse_database},
            )[0][0]
            client.disconnect()
        if queued == 0:
            return
        time.sleep(1)
    raise AssertionError(f"replication queues not empty after {timeout_s:.0f}s")


def test_analysts_queries_run_unchanged_on_the_cluster(cluster_db: Settings) -> None:
    db = _http(cluster_db)
    db.run_all(seed_data_statements())
    assert _run_all(db) == {}  # every ```sql block of docs/queries.md, as written
    _check_numbers(db)  # FINAL and the rollups count each post once across shards
    _wait_replicated(cluster_db)
    nodes = _nodes(cluster_db)
    shard_keys = [_local_keys(cluster_db, n) for n in nodes]
    assert shard_keys[0] == shard_keys[1] and shard_keys[2] == shard_keys[3]  # replicas agree
    assert shard_keys[0] and shard_keys[2] and not shard_keys[0] & shard_keys[2]  # sharded
    assert shard_keys[0] | shard_keys[2] == {p["post_key"] for p in sample_posts()}


def _rows(start: int, n: int) -> list[tuple[Any, ...]]:
    from streams.sinks import POSTS_COLUMNS

    base = sample_posts()[0]
    out = []
    for i in range(start, start + n):
        row = {**base, "post_key": f"fault:{i}", "post_id": str(i), "reply_to": "",
               "repost_of": "", "backfill": 0,
               "created_at": base["created_at"] + timedelta(seconds=i)}  # fmt: skip
        out.append(tuple(int(row[c]) if isinstance(row[c], bool) else row[c]
                         for c in POSTS_COLUMNS))  # fmt: skip
    return out


def test_replica_stopped_for_60s_mid_stream_loses_nothing(cluster_db: Settings) -> None:
    """The sink writes posts through the Distributed table of server s1r1 while s2r2, a replica
    of the other shard, is stopped for 60 s: inserts go on (shard 2 is written to s2r1), and once
    s2r2 is back it fetches what it missed: both replicas of each shard hold every row."""
    from streams.sinks import POSTS_COLUMNS, ClickHouseSink

    victim = _nodes(cluster_db)[3]
    assert victim.name == "clickhouse-s2r2"
    sink = ClickHouseSink(
        "posts", POSTS_COLUMNS, lambda: make_client(cluster_db), backoff_max_s=1.0
    )
    sent: set[str] = set()
    written_during_outage = 0
    outage = threading.Event()
    stop = threading.Event()
    errors: list[BaseException] = []

    def produce() -> None:
        nonlocal written_during_outage
        i = 0
        try:
            while not stop.is_set():
                batch = _rows(i, 50)
                sink.insert(batch)
                sent.update(str(r[POSTS_COLUMNS.index("post_key")]) for r in batch)
                if outage.is_set():
                    written_during_outage += len(batch)
                i += 50
                time.sleep(0.2)
        except BaseException as exc:  # surfaced by the main thread
            errors.append(exc)

    writer = threading.Thread(target=produce, daemon=True)
    writer.start()
    try:
        time.sleep(5)
        stack.down([victim.name], cluster_db)
        outage.set()
        assert not victim.healthy()
        time.sleep(60)
        outage.clear()
        during = written_during_outage
        stack.up([victim.name], cluster_db)
        time.sleep(5)
    finally:
        stop.set()
        writer.join(timeout=60)
    assert not errors, errors
    assert during > 0  # inserts went on while the replica was down
    _wait_replicated(cluster_db)
    keys = [_local_keys(cluster_db, n) for n in _nodes(cluster_db)]
    assert keys[0] == keys[1], "shard 1 replicas differ"
    assert keys[2] == keys[3], f"s2r2 misses {len(keys[2] - keys[3])} rows after rejoining"
    assert keys[0] | keys[2] == sent and not keys[0] & keys[2]
    client = make_client(cluster_db)
    assert client.execute("SELECT count() FROM posts FINAL")[0][0] == len(sent)
    client.disconnect()


def test_shard_alter_goes_to_the_next_replica_when_the_first_is_down(
    cluster_db: Settings,
) -> None:
    """Migrations and retention ALTER a replicated table on one replica per shard (not ON
    CLUSTER: radar_base/migrations.py): with s2r1, shard 2's first replica, stopped, the ALTER runs
    on s2r2, and s2r1 applies it from ZooKeeper once it is back."""
    db = cluster_db.clickhouse_database
    victim = _nodes(cluster_db)[2]
    assert victim.name == "clickhouse-s2r1"
    entry = make_client(cluster_db, db)
    stack.down([victim.name], cluster_db)
    try:
        assert not victim.healthy()
        on_each_shard(
            cluster_db, entry, db, f"ALTER TABLE {db}.alerts_local ADD COLUMN probe UInt8 DEFAULT 7"
        )
    finally:
        stack.up([victim.name], cluster_db)
        entry.disconnect()
    deadline = time.monotonic() + 120
    while True:  # s2r1 catches up on the metadata change after its restart
        has = []
        for node in _nodes(cluster_db):
            c = _on(cluster_db, node, db)
            has.append(bool(c.execute(
                "SELECT count() FROM system.columns WHERE database = %(db)s AND "
                "table = 'alerts_local' AND name = 'probe'", {"db": db},
            )[0][0]))  # fmt: skip
            c.disconnect()
        if all(has) or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert has == [True, True, True, True], has


def _ddl_tasks(settings: Settings) -> int:
    """ON CLUSTER DDL tasks ever queued in ZooKeeper (the servers' distributed_ddl path)."""
    client = make_client(settings, "default")
    try:
        return int(client.execute(
            "SELECT count() FROM system.zookeeper WHERE path = '/clickhouse/task_queue/ddl'"
        )[0][0])  # fmt: skip
    finally:
        client.disconnect()


def test_migrate_with_a_server_down(cluster_db: Settings) -> None:
    """With s2r1 stopped: an up-to-date database migrates as a no-op that queues no ON CLUSTER
    DDL (a backfill or demo still starts), and a database with migrations pending fails at once
    with an error naming the stopped server, before anything is applied (no 180 s wait per
    ON CLUSTER statement, no half-migrated cluster)."""
    victim = _nodes(cluster_db)[2]
    fresh = cluster_db.model_copy(update={"clickhouse_database": f"c{uuid.uuid4().hex[:10]}"})
    stack.down([victim.name], cluster_db)
    try:
        assert not victim.healthy()
        before = _ddl_tasks(cluster_db)
        assert migrate(cluster_db) == []
        assert _ddl_tasks(cluster_db) == before
        with pytest.raises(ServiceUnreachable) as caught:
            migrate(fresh)
        message = caught.value.headline()
        assert f"127.0.0.1:{victim.tcp_port} (connection refused)" in message, message
        assert "1 server(s)" in message and "nothing was applied" in caught.value.fix
        assert _ddl_tasks(cluster_db) == before
    finally:
        stack.up([victim.name], cluster_db)
    for node in _nodes(cluster_db):  # the fresh database was created nowhere
        client = _on(cluster_db, node)
        assert not client.execute(
            "SELECT count() FROM system.databases WHERE name = %(db)s",
            {"db": fresh.clickhouse_database},
        )[0][0]
        client.disconnect()


def test_retention_drops_old_months_on_every_server(
    cluster_db: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`crisis-radar retention` on a cluster: the old month's partition of posts_local is found on
    both shards and dropped from all four servers; this month's rows stay."""
    from crisis_radar.commands import retention
    from crisis_radar.settings import get_settings
    from streams.sinks import POSTS_COLUMNS

    created = POSTS_COLUMNS.index("created_at")
    old, new = [], []
    for i, row in enumerate(_rows(0, 40)):
        when = datetime(2024, 1, 10, tzinfo=UTC) if i % 2 else datetime(2026, 11, 20, tzinfo=UTC)
        (old if i % 2 else new).append((*row[:created], when, *row[created + 1 :]))
    client = make_client(cluster_db)
    client.execute(f"INSERT INTO posts ({', '.join(POSTS_COLUMNS)}) VALUES", old + new)
    client.disconnect()
    _wait_replicated(cluster_db)

    def per_server() -> list[tuple[int, int]]:
        out = []
        for node in _nodes(cluster_db):
            c = _on(cluster_db, node, cluster_db.clickhouse_database)
            out.append(tuple(c.execute(
                "SELECT countIf(toYear(created_at) = 2024), countIf(toYear(created_at) = 2026) "
                "FROM posts_local"
            )[0]))  # fmt: skip
            c.disconnect()
        return out

    before = per_server()
    assert before[0] == before[1] and before[2] == before[3]  # replicas agree
    assert before[0][0] > 0 and before[2][0] > 0  # the old month is on both shards
    env = {
        "CLICKHOUSE_PORT": cluster_db.clickhouse_port,
        "CLICKHOUSE_HTTP_PORT": cluster_db.clickhouse_http_port,
        "CLICKHOUSE_CLUSTER": CLUSTER,
        "CLICKHOUSE_DATABASE": cluster_db.clickhouse_database,
    }
    for name, value in env.items():
        monkeypatch.setenv(f"CRISIS_RADAR_{name}", str(value))
    get_settings.cache_clear()
    try:
        assert retention.main(["--today", "2026-12-06"]) == 0
    finally:
        get_settings.cache_clear()
    out = capsys.readouterr().out
    assert f"drop {cluster_db.clickhouse_database}.posts partition 202401" in out
    _wait_replicated(cluster_db)
    after = per_server()
    assert [a for a, _ in after] == [0, 0, 0, 0]
    assert [b for _, b in after] == [b for _, b in before]
