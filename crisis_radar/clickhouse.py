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
from radar_base.migrations import (
    MIGRATIONS_DIR,
    Migration,
    applied_versions,
    discover,
    require_schema,
)
from radar_base.settings import Settings

__all__ = [
    "LEDGER", "MIGRATIONS_DIR", "Migration", "applied_versions", "check_identifier", "discover",
    "ensure_database", "make_client", "migrate", "require_schema",
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


def ensure_database(settings: Settings, database: str) -> None:
    admin = make_client(settings, database="default")
    try:
        admin.execute(f"CREATE DATABASE IF NOT EXISTS {check_identifier(database)}")
    finally:
        admin.disconnect()


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
        client.execute(LEDGER)
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
