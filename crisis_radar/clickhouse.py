"""The versioned migration runner; the client factory and identifier check are
``radar_base.clickhouse`` (shared with the worker), re-exported here.

Migrations are ``deploy/clickhouse/migrations/NNNN_name.sql`` files, applied in order, each once;
applied versions are recorded in ``schema_migrations``. Values always travel as query parameters;
only identifiers (database, table names from our own code) are put into SQL text, and the
database name is checked against a strict pattern first.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from clickhouse_driver import Client

from radar_base.clickhouse import check_identifier, make_client
from radar_base.settings import PROJECT_ROOT, Settings

__all__ = [
    "MIGRATIONS_DIR", "Migration", "applied_versions", "check_identifier", "discover",
    "ensure_database", "make_client", "migrate",
]  # fmt: skip
MIGRATIONS_DIR = PROJECT_ROOT / "deploy" / "clickhouse" / "migrations"
_FILE = re.compile(r"^(\d{4})_([A-Za-z0-9_]+)\.sql$")


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


_LEDGER = """
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


def ensure_database(settings: Settings, database: str) -> None:
    admin = make_client(settings, database="default")
    try:
        admin.execute(f"CREATE DATABASE IF NOT EXISTS {check_identifier(database)}")
    finally:
        admin.disconnect()


def applied_versions(client: Client) -> set[int]:
    rows = client.execute("SELECT DISTINCT version FROM schema_migrations")
    return {int(r[0]) for r in rows}


def migrate(
    settings: Settings,
    database: str | None = None,
    directory: Path = MIGRATIONS_DIR,
    log: Any = None,
) -> list[Migration]:
    """Create the database if needed and apply pending migrations; return those applied."""
    db = check_identifier(database or settings.clickhouse_database)
    ensure_database(settings, db)
    client = make_client(settings, database=db)
    try:
        client.execute(_LEDGER)
        done = applied_versions(client)
        applied: list[Migration] = []
        for mig in discover(directory):
            if mig.version in done:
                continue
            for stmt in mig.statements():
                client.execute(stmt)
            client.execute(
                "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES",
                [(mig.version, mig.name, mig.checksum, datetime.now(UTC).replace(microsecond=0))],
            )
            applied.append(mig)
            if log:
                log(f"applied {mig.path.name}")
        return applied
    finally:
        client.disconnect()
