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
