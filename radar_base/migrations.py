"""The migration files (``deploy/clickhouse/migrations/NNNN_name.sql``) and the check that a
database has them all. Applying them is the application's (``crisis_radar.clickhouse.migrate``);
the check is here so the worker can make it at start-up too.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from clickhouse_driver import Client

from radar_base.clickhouse import check_identifier, make_client
from radar_base.errors import MissingMigration, clickhouse_network_error
from radar_base.settings import PROJECT_ROOT, Settings

MIGRATIONS_DIR = PROJECT_ROOT / "deploy" / "clickhouse" / "migrations"
_FILE = re.compile(r"^(\d{4})_([A-Za-z0-9_]+)\.sql$")
_TABLE = re.compile(
    r"\b(?:CREATE\s+(?:TABLE|(?:MATERIALIZED\s+)?VIEW)\s+(?:IF\s+NOT\s+EXISTS\s+)?|ALTER\s+TABLE\s+)"
    r"([A-Za-z_][A-Za-z0-9_]*)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()[:16]

    def statements(self) -> list[str]:
        """Split on ';' at line ends; our DDL never has ';' inside strings. Drops comments."""
        body = "\n".join(
            line for line in self.sql.splitlines() if not line.strip().startswith("--")
        )
        return [s.strip() for s in body.split(";") if s.strip()]

    @property
    def table(self) -> str:
        """The first table (or view) the migration creates or alters: named in errors."""
        for stmt in self.statements():
            m = _TABLE.search(stmt)
            if m:
                return m.group(1)
        return "?"


# --- the cluster form of a migration (docs/scaling.md "ClickHouse cluster") ---------------------
# A migration file is written once, for one server. On a cluster (Settings.clickhouse_cluster)
# each of its statements is rewritten here, so migrations 0001..N and any later file get the
# same treatment without a cluster copy of each:
# - CREATE TABLE t ... ENGINE = XMergeTree(args): ``t_local`` ON CLUSTER with engine
#   ReplicatedXMergeTree('/clickhouse/tables/{shard}/<db>.t_local', '{replica}', args), then
#   ``t`` ON CLUSTER as a Distributed table over it, sharded by a hash of t's ORDER BY key: rows
#   that may replace each other (same key) land on one shard, so FINAL on ``t`` stays exact.
#   Analysts and sinks keep using ``t``.
# - CREATE MATERIALIZED VIEW v TO t AS SELECT ... FROM s: on every server, from ``s_local`` into
#   ``t_local``: each shard rolls up the rows it stores; the target being replicated, the other
#   replica receives the rolled-up rows by replication (an MV does not fire on fetched parts).
# - CREATE VIEW v AS SELECT ... FROM t: on every server, over the Distributed ``t``.
# - ALTER TABLE t (column changes): ``t_local`` on one replica of each shard (replication
#   does the rest), then ``t`` on every server one by one (18.16 refuses ON CLUSTER for a
#   non-replicated table on replicated shards); other ALTERs on ``t_local`` only. Not ON CLUSTER
#   for ``t_local``: 18.16's DDL worker lets both replicas of a shard race for it, and the loser
#   ("column already exists", then "Node exists" in ZooKeeper) never reports the task done, so
#   the statement hangs for distributed_ddl_task_timeout (seen in 2 of 5 fresh clusters).
#   Statements to run server by server start with ``EVERY_SERVER``, once per shard with
#   ``EACH_SHARD``.
# - Other engines (Memory, Log...): the same table ON CLUSTER (one per server).
# Table names are qualified with the database: an ON CLUSTER statement runs on the other
# servers in their default database. Anything else has no cluster form and is refused.
LOCAL_SUFFIX = "_local"
EVERY_SERVER = "/* on every server */ "
EACH_SHARD = "/* on one replica of each shard */ "
_IF_NOT = r"(IF\s+NOT\s+EXISTS\s+)?"
_CREATE_TABLE = re.compile(r"^CREATE\s+TABLE\s+" + _IF_NOT + r"(\w+)\s*(.*)$", re.S | re.I)
_CREATE_MV = re.compile(
    r"^CREATE\s+MATERIALIZED\s+VIEW\s+" + _IF_NOT + r"(\w+)\s+TO\s+(\w+)\s+AS\s+(.*)$",
    re.S | re.I,
)
_CREATE_VIEW = re.compile(r"^CREATE\s+VIEW\s+" + _IF_NOT + r"(\w+)\s+AS\s+(.*)$", re.S | re.I)
_ALTER = re.compile(r"^ALTER\s+TABLE\s+(\w+)\s+(.*)$", re.S | re.I)
_DROP = re.compile(r"^DROP\s+(TABLE|VIEW)\s+(IF\s+EXISTS\s+)?(\w+)$", re.S | re.I)
_ENGINE = re.compile(r"\bENGINE\s*=\s*(\w*MergeTree)\b\s*", re.I)
_ANY_ENGINE = re.compile(r"\bENGINE\s*=", re.I)
_ORDER_BY = re.compile(
    r"\bORDER\s+BY\s+(.+?)\s*(?=\bPRIMARY\s+KEY\b|\bSAMPLE\s+BY\b|\bSETTINGS\b|\Z)",
    re.S | re.I,
)
_COLUMN_ALTER = re.compile(r"^(ADD|DROP|MODIFY|RENAME|COMMENT|CLEAR)\s+COLUMN\b", re.I)
_SOURCE = re.compile(r"\b(FROM|JOIN)\s+(\w+)\b(?!\s*[.(])", re.I)


def _closing(text: str, start: int) -> int:
    """Index of the ')' matching the '(' at ``start``."""
    depth = 0
    for i in range(start, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return i
    raise ValueError(f"unbalanced parentheses in: {text[start : start + 80]}...")


class ClusterDDL:
    """Rewrites single-server migration statements into their cluster form (see above).

    Stateful: it learns which names are replicated tables from the CREATEs it has seen, so it is
    fed every migration in order (applied ones too) and its output for pending ones is run.
    """

    def __init__(self, cluster: str, database: str) -> None:
        self.cluster = check_identifier(cluster)
        self.database = check_identifier(database)
        self.replicated: set[str] = set()  # tables split into <name>_local + Distributed <name>
        self.known: set[str] = set()  # every table or view created so far

    def _on(self, name: str) -> str:
        return f"{self.database}.{name} ON CLUSTER {self.cluster}"

    def _sources(self, select: str, local: bool) -> str:
        """Qualify the known tables a SELECT reads; ``local``: the shard-local tables."""

        def qualify(m: re.Match[str]) -> str:
            name = m.group(2)
            if name not in self.known:
                return m.group(0)
            suffix = LOCAL_SUFFIX if local and name in self.replicated else ""
            return f"{m.group(1)} {self.database}.{name}{suffix}"

        return _SOURCE.sub(qualify, select)

    def rewrite(self, stmt: str) -> list[str]:
        stmt = stmt.strip()
        if m := _CREATE_TABLE.match(stmt):
            return self._create_table(m.group(1) or "", m.group(2), m.group(3))
        if m := _CREATE_MV.match(stmt):
            ine, name, target, select = m.groups()
            if target not in self.replicated:
                raise ValueError(f"materialized view {name}: target {target} is not replicated")
            self.known.add(name)
            return [
                f"CREATE MATERIALIZED VIEW {ine or ''}{self._on(name)} "
                f"TO {self.database}.{target}{LOCAL_SUFFIX} AS {self._sources(select, True)}"
            ]
        if m := _CREATE_VIEW.match(stmt):
            ine, name, select = m.groups()
            self.known.add(name)
            return [f"CREATE VIEW {ine or ''}{self._on(name)} AS {self._sources(select, False)}"]
        if m := _ALTER.match(stmt):
            name, ops = m.groups()
            if name not in self.replicated:
                return [f"ALTER TABLE {self._on(name)} {ops}"]
            local = f"{EACH_SHARD}ALTER TABLE {self.database}.{name}{LOCAL_SUFFIX} {ops}"
            if all(_COLUMN_ALTER.match(op.strip()) for op in self._split_ops(ops)):
                return [local, f"{EVERY_SERVER}ALTER TABLE {self.database}.{name} {ops}"]
            return [local]
        if m := _DROP.match(stmt):
            kind, if_exists, name = m.groups()
            out = [f"DROP {kind} {if_exists or ''}{self._on(name)}"]
            if name in self.replicated:
                out.append(f"DROP TABLE {if_exists or ''}{self._on(name + LOCAL_SUFFIX)}")
                self.replicated.discard(name)
            self.known.discard(name)
            return out
        raise ValueError(f"no cluster form for this migration statement: {stmt[:120]}")

    @staticmethod
    def _split_ops(ops: str) -> list[str]:
        """ALTER operations separated by top-level commas."""
        parts, depth, start = [], 0, 0
        for i, ch in enumerate(ops):
            depth += {"(": 1, ")": -1}.get(ch, 0)
            if ch == "," and depth == 0:
                parts.append(ops[start:i])
                start = i + 1
        parts.append(ops[start:])
        return parts

    def _create_table(self, ine: str, name: str, rest: str) -> list[str]:
        self.known.add(name)
        engine = _ENGINE.search(rest)
        if engine is None:
            if not _ANY_ENGINE.search(rest):
                raise ValueError(f"table {name}: no ENGINE clause")
            return [f"CREATE TABLE {ine}{self._on(name)} {rest}"]  # one copy per server
        args = ""
        after = engine.end()
        if after < len(rest) and rest[after] == "(":
            close = _closing(rest, after)
            args, after = rest[after + 1 : close].strip(), close + 1
        local = name + LOCAL_SUFFIX
        path = f"'/clickhouse/tables/{{shard}}/{self.database}.{local}'"
        replicated = ", ".join(a for a in (path, "'{replica}'", args) if a)
        order = _ORDER_BY.search(rest, after)
        key = order.group(1).strip() if order else "tuple()"
        if key.startswith("(") and _closing(key, 0) == len(key) - 1:
            key = key[1:-1].strip()
        shard_key = "rand()" if key in ("", "tuple()") else f"cityHash64({key})"
        self.replicated.add(name)
        return [
            f"CREATE TABLE {ine}{self._on(local)} {rest[: engine.start()]}"
            f"ENGINE = Replicated{engine.group(1)}({replicated}){rest[after:]}",
            f"CREATE TABLE {ine}{self._on(name)} AS {self.database}.{local} "
            f"ENGINE = Distributed({self.cluster}, {self.database}, {local}, {shard_key})",
        ]


def statements_for(
    migrations: list[Migration], cluster: str, database: str
) -> list[tuple[Migration, list[str]]]:
    """Each migration with the statements to run: as written on one server (``cluster`` empty),
    their cluster form (``ClusterDDL``) otherwise."""
    if not cluster:
        return [(m, m.statements()) for m in migrations]
    ddl = ClusterDDL(cluster, database)
    return [(m, [out for s in m.statements() for out in ddl.rewrite(s)]) for m in migrations]


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    found: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        m = _FILE.match(path.name)
        if not m:
            raise ValueError(f"migration file name must be NNNN_name.sql: {path.name}")
        found.append(Migration(int(m.group(1)), m.group(2), path))
    versions = [m.version for m in found]
    if len(versions) != len(set(versions)):
        raise ValueError(f"duplicate migration versions in {directory}")
    return found


def applied_versions(client: Client) -> set[int]:
    rows = client.execute("SELECT DISTINCT version FROM schema_migrations")
    return {int(r[0]) for r in rows}


def require_schema(
    settings: Settings, database: str | None = None, directory: Path = MIGRATIONS_DIR
) -> None:
    """Raise ``MissingMigration`` unless ``database`` has every migration applied (a missing
    database or ledger counts as none), ``ServiceUnreachable`` when ClickHouse does not answer.
    """
    from clickhouse_driver import errors as ch

    db = check_identifier(database or settings.clickhouse_database)
    where = f"{settings.clickhouse_host}:{settings.clickhouse_port}"
    client = make_client(settings, database=db, connect_timeout=3)
    try:
        done = applied_versions(client)
    except (ch.NetworkError, ch.SocketTimeoutError, OSError) as exc:
        raise clickhouse_network_error(exc, where) from exc
    except ch.ServerException as exc:
        if exc.code not in (ch.ErrorCodes.UNKNOWN_DATABASE, ch.ErrorCodes.UNKNOWN_TABLE):
            raise
        done = set()
    finally:
        client.disconnect()
    missing = [m for m in discover(directory) if m.version not in done]
    if missing:
        first = missing[0]
        flag = "" if db == settings.clickhouse_database else f" --database {db}"
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise MissingMigration(
            f"ClickHouse database {db} at {where} lacks migration {first.version:04d} "
            f"(table {first.table}){more}",
            where,
            f"run `crisis-radar migrate{flag}`",
        )
