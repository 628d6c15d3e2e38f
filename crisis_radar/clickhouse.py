"""The versioned migration runner; the client factory and identifier check
(``radar_base.clickhouse``), the migration files and the schema check (``radar_base.migrations``)
are shared with the worker and re-exported here.

Migrations are ``deploy/clickhouse/migrations/NNNN_name.sql`` files, applied in order, each once;
applied versions are recorded in ``schema_migrations``. Values always travel as query parameters;
only identifiers (database, table names from our own code) are put into SQL text, and the
database name is checked against a strict pattern first.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from radar_base.clickhouse import check_identifier, make_client
from radar_base.errors import MissingMigration, ServiceUnreachable, clickhouse_network_error
from radar_base.migrations import (
    EACH_SHARD,
    EVERY_SERVER,
    LOCAL_SUFFIX,
    MIGRATIONS_DIR,
    ClusterDDL,
    Migration,
    applied_versions,
    discover,
    require_schema,
    statements_for,
)
from radar_base.settings import Settings

__all__ = [
    "LEDGER", "LOCAL_SUFFIX", "MIGRATIONS_DIR", "ClusterDDL", "Migration", "applied_versions",
    "check_identifier", "cluster_ledger", "cluster_servers", "discover", "ensure_database",
    "local_table", "make_client", "migrate", "on_cluster", "on_each_shard", "require_schema",
    "statements_for", "unreachable_servers",
]  # fmt: skip


LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations
(
    version UInt32,
    name String,
    checksum String,
    applied_at DateTime('UTC')
)
ENGINE = ReplacingMergeTree()
ORDER BY version
"""


def cluster_ledger(cluster: str, database: str) -> str:
    """The ledger on a cluster: one table replicated on every server (one ZooKeeper path for
    all, the ``{replica}`` macro being unique cluster-wide), so the schema check answers the
    same whichever server a worker reaches."""
    db, on = check_identifier(database), check_identifier(cluster)
    return LEDGER.replace(
        "schema_migrations", f"{db}.schema_migrations ON CLUSTER {on}", 1
    ).replace(
        "ReplacingMergeTree()",
        f"ReplicatedReplacingMergeTree('/clickhouse/tables/all/{db}.schema_migrations', "
        "'{replica}')",
    )


def local_table(settings: Settings, table: str) -> str:
    """Where ``table``'s rows are stored on each server: the table itself on one server,
    ``<table>_local`` on a cluster (partitions are dropped there, ON CLUSTER)."""
    return check_identifier(table) + (LOCAL_SUFFIX if settings.clickhouse_cluster else "")


# ON CLUSTER DDL waits for every server's DDL worker, up to the server's
# distributed_ddl_task_timeout (180 s by default), which then reports which hosts did not answer.
# The socket must outwait that: a busy cluster takes over a minute per statement at times, and the
# client's 60 s default cut the migration off with a bare "timed out".
DDL_TIMEOUT_S = 240


def ddl_client(settings: Settings, database: str) -> Any:
    """A client for migrations: on a cluster, one that outwaits the server's own DDL timeout."""
    if settings.clickhouse_cluster:
        return make_client(settings, database=database, send_receive_timeout=DDL_TIMEOUT_S)
    return make_client(settings, database=database)


def on_cluster(settings: Settings) -> str:
    """`` ON CLUSTER <name>`` for DDL on a cluster, '' on one server."""
    cluster = settings.clickhouse_cluster
    return f" ON CLUSTER {check_identifier(cluster)}" if cluster else ""


def cluster_shards(settings: Settings, client: Any) -> list[list[tuple[str, int]]]:
    """(host, native port) of every server of the settings' cluster, as the server knows it:
    one list of replicas per shard, both in the cluster's order."""
    rows = client.execute(
        "SELECT shard_num, host_name, port FROM system.clusters WHERE cluster = %(c)s "
        "ORDER BY shard_num, replica_num",
        {"c": settings.clickhouse_cluster},
    )
    if not rows:
        raise ValueError(f"ClickHouse knows no cluster {settings.clickhouse_cluster!r}")
    shards: dict[int, list[tuple[str, int]]] = {}
    for shard, host, port in rows:
        shards.setdefault(int(shard), []).append((str(host), int(port)))
    return list(shards.values())


def cluster_servers(settings: Settings, client: Any) -> list[tuple[str, int]]:
    """(host, native port) of every server of the settings' cluster, shard by shard."""
    return [server for shard in cluster_shards(settings, client) for server in shard]


def _server_settings(settings: Settings, server: tuple[str, int]) -> Settings:
    host, port = server
    return settings.model_copy(update={"clickhouse_host": host, "clickhouse_port": port})


def _server_client(settings: Settings, server: tuple[str, int], db: str) -> Any:
    return ddl_client(_server_settings(settings, server), db)


def on_each_shard(settings: Settings, client: Any, db: str, stmt: str) -> None:
    """Run ``stmt`` (an ALTER of a replicated table) once per shard, on the first replica that
    answers: replication carries it to the others, a stopped one included once it is back
    (radar_base.migrations: why not ON CLUSTER)."""
    from clickhouse_driver import errors as ch

    for replicas in cluster_shards(settings, client):
        for i, server in enumerate(replicas):
            one = _server_client(settings, server, db)
            try:
                one.execute(stmt)
            except ch.ServerException as exc:
                # "Alter is not finished because some replicas are inactive right now": it is
                # in ZooKeeper's log, and a stopped replica applies it when it is back.
                if exc.code != ch.ErrorCodes.UNFINISHED:
                    raise
            except (ch.NetworkError, ch.SocketTimeoutError, OSError):
                if i == len(replicas) - 1:
                    raise
                continue  # the shard's next replica
            finally:
                one.disconnect()
            break


def _on_every_server(settings: Settings, client: Any, db: str, stmt: str) -> None:
    for server in cluster_servers(settings, client):
        one = _server_client(settings, server, db)
        try:
            one.execute(stmt)
        finally:
            one.disconnect()


# A cluster server that has not answered a connection and one query in this long is down.
PROBE_TIMEOUT_S = 5


def unreachable_servers(settings: Settings) -> list[str]:
    """``host:port (reason)`` of every server of the settings' cluster that does not answer."""
    from clickhouse_driver import errors as ch

    entry = make_client(settings, database="default")
    try:
        servers = cluster_servers(settings, entry)
    finally:
        entry.disconnect()
    down = []
    for server in servers:
        one = make_client(
            _server_settings(settings, server), "default",
            connect_timeout=PROBE_TIMEOUT_S, send_receive_timeout=PROBE_TIMEOUT_S,
        )  # fmt: skip
        try:
            one.execute("SELECT 1")
        except (ch.NetworkError, ch.SocketTimeoutError, OSError, EOFError) as exc:
            reason = clickhouse_network_error(exc).what.rsplit("(", 1)[-1].rstrip(")")
            down.append(f"{server[0]}:{server[1]} ({reason})")
        finally:
            one.disconnect()
    return down


def ensure_database(settings: Settings, database: str) -> None:
    admin = ddl_client(settings, "default")
    try:
        admin.execute(
            f"CREATE DATABASE IF NOT EXISTS {check_identifier(database)}{on_cluster(settings)}"
        )
    finally:
        admin.disconnect()


def migrate(
    settings: Settings,
    database: str | None = None,
    directory: Path = MIGRATIONS_DIR,
    log: Any = None,
) -> list[Migration]:
    """Create the database if needed and apply pending migrations; return those applied.

    With ``settings.clickhouse_cluster`` set, every statement runs in its cluster form
    (``radar_base.migrations.ClusterDDL``: replicated local tables, Distributed ones over them,
    all ON CLUSTER), and the ledger is replicated on every server."""
    db = check_identifier(database or settings.clickhouse_database)
    cluster = settings.clickhouse_cluster
    if cluster:
        # Up to date: no DDL at all, so a cluster with a server down (the reason it has
        # replicas) still starts a backfill or a demo. Pending: every server must take the
        # DDL, and a stopped one would make each ON CLUSTER statement wait the server's 180 s
        # before failing halfway; say so now, naming it, with nothing applied.
        try:
            require_schema(settings, db, directory)  # read on one server, no DDL
            return []
        except MissingMigration:
            pass
        down = unreachable_servers(settings)
        if down:
            raise ServiceUnreachable(
                f"cannot migrate database {db} on cluster {cluster}: "
                f"{len(down)} server(s) do not answer: {', '.join(down)}",
                "",
                "start them (`crisis-radar stack up` here) and run `crisis-radar migrate` "
                "again; nothing was applied",
            )
    ensure_database(settings, db)
    client = ddl_client(settings, db)
    try:
        client.execute(cluster_ledger(cluster, db) if cluster else LEDGER)
        done = applied_versions(client)
        applied: list[Migration] = []
        for mig, statements in statements_for(discover(directory), cluster, db):
            if mig.version in done:
                continue
            for stmt in statements:
                if stmt.startswith(EVERY_SERVER):
                    _on_every_server(settings, client, db, stmt)
                elif stmt.startswith(EACH_SHARD):
                    on_each_shard(settings, client, db, stmt)
                else:
                    client.execute(stmt)
            client.execute(
                "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES",
                [(mig.version, mig.name, mig.checksum, datetime.now(UTC).replace(microsecond=0))],
            )
            applied.append(mig)
            if log:
                log(f"applied {mig.path.name}")
        if cluster and applied:
            # Done means every server's schema check passes: the ledger rows inserted here reach
            # the other replicas asynchronously (a worker starting at once on another server
            # found the last migration missing; a test did, on CI).
            _on_every_server(settings, client, db, f"SYSTEM SYNC REPLICA {db}.schema_migrations")
        return applied
    finally:
        client.disconnect()
