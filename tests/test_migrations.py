"""Migrations on the real ClickHouse: applied once, idempotent, tables as documented."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

from crisis_radar.clickhouse import MIGRATIONS_DIR, check_identifier, discover, migrate

EXPECTED_TABLES = {"posts", "brand_minutes", "alerts", "dead_letters", "schema_migrations"}
MINE = [m for m in discover() if m.version < 10]  # 0010+ belong to the rollups engineer


def test_migration_files_are_numbered_and_split() -> None:
    assert [m.version for m in MINE] == sorted(m.version for m in MINE)
    for mig in MINE:
        stmts = mig.statements()
        assert stmts and all("--" not in s for s in stmts), mig.path.name
        assert all("TTL" not in s and "CODEC" not in s and "DateTime64" not in s for s in stmts)


def test_identifier_check_rejects_injection() -> None:
    assert check_identifier("crisis_radar") == "crisis_radar"
    for bad in ("x;DROP TABLE posts", "a b", "", "1abc", "db`"):
        with pytest.raises(ValueError):
            check_identifier(bad)


def test_bad_file_name_is_refused(tmp_path: Path) -> None:
    (tmp_path / "1_oops.sql").write_text("SELECT 1")
    with pytest.raises(ValueError, match="NNNN_name"):
        discover(tmp_path)


@pytest.mark.stack
def test_migrate_is_idempotent(settings, clickhouse, clickhouse_database) -> None:
    first = migrate(settings, database=clickhouse_database)
    assert {m.version for m in MINE} <= {m.version for m in first}
    assert migrate(settings, database=clickhouse_database) == []  # second run: nothing to do
    tables = {r[0] for r in clickhouse.execute("SHOW TABLES")}
    assert tables >= EXPECTED_TABLES
    versions = clickhouse.execute("SELECT version FROM schema_migrations FINAL ORDER BY version")
    assert [v for (v,) in versions] == [m.version for m in discover()]
    engines = dict(
        clickhouse.execute(
            "SELECT name, engine FROM system.tables WHERE database = %(db)s",
            {"db": clickhouse_database},
        )
    )
    for table in ("posts", "brand_minutes", "alerts", "dead_letters"):
        assert engines[table] == "ReplacingMergeTree"


@pytest.mark.stack
def test_new_migration_file_is_applied_once(settings, clickhouse, clickhouse_database, tmp_path):
    for mig in discover():
        shutil.copy(mig.path, tmp_path / mig.path.name)
    migrate(settings, database=clickhouse_database, directory=tmp_path)
    (tmp_path / "0999_extra.sql").write_text("CREATE TABLE extra (x UInt8) ENGINE = Memory;\n")
    applied = migrate(settings, database=clickhouse_database, directory=tmp_path)
    assert [m.name for m in applied] == ["extra"]
    assert migrate(settings, database=clickhouse_database, directory=tmp_path) == []


def test_ddl_runs_on_current_clickhouse_chdb(tmp_path: Path) -> None:
    if importlib.util.find_spec("chdb") is None:
        pytest.skip(
            "chdb not installed (pip install -e '.[sqlcheck]'): current-ClickHouse DDL check"
        )
    from chdb import session

    sess = session.Session(str(tmp_path / "chdb"))
    sess.query("CREATE DATABASE IF NOT EXISTS t")
    sess.query("USE t")
    for mig in discover(MIGRATIONS_DIR):
        for stmt in mig.statements():
            sess.query(stmt)
    out = str(sess.query("SHOW TABLES FROM t", "CSV"))
    for table in ("posts", "brand_minutes", "alerts", "dead_letters"):
        assert table in out
