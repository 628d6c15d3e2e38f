"""The cluster form of every migration file (radar_base.migrations.ClusterDDL), without servers:
shapes, and current ClickHouse (chdb) parsing and running it. The real 18.16 cluster runs it in
tests/test_cluster_clickhouse.py (-m cluster)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from crisis_radar.clickhouse import cluster_ledger
from radar_base.migrations import (
    EACH_SHARD,
    EVERY_SERVER,
    LOCAL_SUFFIX,
    ClusterDDL,
    discover,
    statements_for,
)

DB, CLUSTER = "radar", "crisis_radar"
CLUSTER_FORM = statements_for(discover(), CLUSTER, DB)
ALL = [s for _, stmts in CLUSTER_FORM for s in stmts]


def test_single_server_statements_are_the_files_as_written() -> None:
    for mig, stmts in statements_for(discover(), "", DB):
        assert stmts == mig.statements(), mig.path.name


def test_every_statement_of_every_migration_has_a_cluster_form() -> None:
    assert [m for m, _ in CLUSTER_FORM] == discover()
    for mig, stmts in CLUSTER_FORM:
        assert len(stmts) >= len(mig.statements()), mig.path.name
        for s in stmts:
            if s.startswith((EVERY_SERVER, EACH_SHARD)):
                assert re.match(rf"/\*[\w ]+\*/ ALTER TABLE {DB}\.\w+ ", s), s[:80]
                assert " ON CLUSTER " not in s, s[:120]
            else:
                assert f" ON CLUSTER {CLUSTER} " in s + " ", s[:120]  # a DROP ends with it
                assert re.match(rf"^\w+( MATERIALIZED)? \w+ (IF (NOT )?EXISTS )?{DB}\.", s), s[:80]


def test_merge_tree_tables_become_replicated_local_plus_distributed() -> None:
    creates = {m.group(1): s for s in ALL if (m := re.match(rf"CREATE TABLE IF NOT EXISTS "
                                                            rf"{DB}\.(\w+) ON", s))}  # fmt: skip
    for table in ("posts", "brand_minutes", "alerts", "dead_letters", "brand_hours", "brand_days"):
        local = creates[table + LOCAL_SUFFIX]
        assert "ENGINE = Replicated" in local
        assert f"('/clickhouse/tables/{{shard}}/{DB}.{table}_local', '{{replica}}'" in local
        assert f"AS {DB}.{table}_local ENGINE = Distributed({CLUSTER}, {DB}, {table}_local, " \
            in creates[table]  # fmt: skip
    assert "'{replica}', scored_at)" in creates["posts_local"]  # the version column stays
    # rows that may replace each other (same ORDER BY key) go to the same shard
    assert creates["posts"].endswith("cityHash64(brand, created_at, post_key))")
    assert creates["brand_minutes"].endswith("cityHash64(brand, minute))")


def test_views_read_the_right_tables() -> None:
    mv = next(s for s in ALL if "brand_hours_mv" in s)
    assert f"TO {DB}.brand_hours_local AS" in mv and f"FROM {DB}.posts_local" in mv
    view = next(s for s in ALL if "VIEW IF NOT EXISTS radar.brand_hours_exact" in s)
    assert f"FROM {DB}.brand_minutes FINAL" in view  # the Distributed table: every shard


def test_column_alters_reach_both_tables_other_alters_only_local() -> None:
    ddl = ClusterDDL(CLUSTER, DB)
    ddl.rewrite("CREATE TABLE t (a UInt8, d Date) ENGINE = MergeTree() PARTITION BY d ORDER BY a")
    ops = "ADD COLUMN b UInt8 DEFAULT 0, DROP COLUMN a"
    assert ddl.rewrite(f"ALTER TABLE t {ops}") == [
        f"{EACH_SHARD}ALTER TABLE {DB}.t_local {ops}",
        f"{EVERY_SERVER}ALTER TABLE {DB}.t {ops}",
    ]
    assert ddl.rewrite("ALTER TABLE t DROP PARTITION 202601") == [
        f"{EACH_SHARD}ALTER TABLE {DB}.t_local DROP PARTITION 202601"
    ]
    assert ddl.rewrite("CREATE TABLE m (x UInt8) ENGINE = Memory") == [
        f"CREATE TABLE {DB}.m ON CLUSTER {CLUSTER} (x UInt8) ENGINE = Memory"
    ]
    assert ddl.rewrite("DROP TABLE IF EXISTS t") == [
        f"DROP TABLE IF EXISTS {DB}.t ON CLUSTER {CLUSTER}",
        f"DROP TABLE IF EXISTS {DB}.t_local ON CLUSTER {CLUSTER}",
    ]


def test_statements_without_a_cluster_form_are_refused() -> None:
    ddl = ClusterDDL(CLUSTER, DB)
    for stmt in ("INSERT INTO posts SELECT * FROM x", "OPTIMIZE TABLE posts FINAL",
                 "CREATE MATERIALIZED VIEW v TO nowhere AS SELECT 1"):  # fmt: skip
        with pytest.raises(ValueError):
            ddl.rewrite(stmt)
    with pytest.raises(ValueError):
        ClusterDDL("bad name", DB)


def _single_server(stmt: str) -> str:
    """The cluster form with what needs ZooKeeper and a cluster taken out, for chdb: no
    ON CLUSTER, Replicated engines without their path and replica, Distributed -> Merge."""
    stmt = stmt.removeprefix(EVERY_SERVER).removeprefix(EACH_SHARD)
    stmt = stmt.replace(f" ON CLUSTER {CLUSTER}", "")
    stmt = re.sub(r"Replicated(\w+)\('[^']*', '\{replica\}'(?:, )?", r"\1(", stmt)
    return re.sub(
        rf"Distributed\({CLUSTER}, (\w+), (\w+), .*\)$", r"Merge(\1, '^\2$')", stmt, flags=re.S
    )


def test_cluster_form_runs_on_current_clickhouse_chdb(tmp_path: Path) -> None:
    """chdb has no ZooKeeper nor cluster: every cluster statement must parse (formatQuery), and
    its single-server rendering (_single_server) must run, the shard keys included."""
    if importlib.util.find_spec("chdb") is None:
        pytest.skip("chdb not installed (pip install -e '.[sqlcheck]')")
    from chdb import session

    sess = session.Session(str(tmp_path / "chdb"))
    ledger = cluster_ledger(CLUSTER, DB)
    for stmt in [*ALL, ledger]:
        bare = stmt.removeprefix(EVERY_SERVER).removeprefix(EACH_SHARD)
        quoted = bare.replace("\\", "\\\\").replace("'", "\\'")
        assert "ENGINE" in str(sess.query(f"SELECT formatQuery('{quoted}')", "TSVRaw")) or \
            "ALTER" in stmt or "VIEW" in stmt or stmt.startswith("DROP")  # fmt: skip
    sess.query(f"CREATE DATABASE {DB}")
    for stmt in [*ALL, ledger]:
        sess.query(_single_server(stmt))
        if m := re.search(r"ENGINE = Distributed\(\w+, \w+, (\w+), (.*)\)$", stmt, flags=re.S):
            sess.query(f"SELECT {m.group(2)} FROM {DB}.{m.group(1)} LIMIT 0")
    tables = str(sess.query(f"SHOW TABLES FROM {DB}", "CSV"))
    for table in ("posts", "posts_local", "brand_hours_mv", "brand_hours_exact"):
        assert f'"{table}"' in tables
    cols = str(sess.query(f"DESCRIBE TABLE {DB}.posts", "CSV"))
    assert '"backfill"' in cols  # 0014's ALTER reached the table analysts read
