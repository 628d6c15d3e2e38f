"""``crisis-radar retention``: drop monthly partitions older than the retention policy.

ClickHouse 18.16 has no TTL, so retention is "drop whole months": every table is partitioned by
``toYYYYMM`` of its event time and ``ALTER TABLE ... DROP PARTITION`` is instant on old and new
servers. Run it monthly from cron. Default policy: posts, brand replies (the brand's own posts,
migration 0017) and dead letters 13 months; aggregates, rollups and alerts are kept (small, and
what post-crisis reviews need).

On a cluster (``CRISIS_RADAR_CLICKHOUSE_CLUSTER``) the rows live in the ``*_local`` tables: their
partitions are read from every shard (``cluster()``) and dropped on one replica of each shard
(replication drops them from the others; not ``ON CLUSTER``, where 18.16's DDL worker lets
replicas race: radar_base/migrations.py), so every replica of every shard loses the same months.

    crisis-radar retention --dry-run
    crisis-radar retention --keep posts=6 --keep dead_letters=1
"""

from __future__ import annotations

import argparse
import re
import sys
from datetime import UTC, date, datetime
from typing import Any

from crisis_radar.clickhouse import check_identifier, make_client, on_each_shard, require_schema
from crisis_radar.progress import progress_bar
from crisis_radar.settings import get_settings

# brand_replies: per-post rows like posts, kept as long so the care queue and the report's
# response figures never see a complaint whose reply was dropped
DEFAULT_KEEP_MONTHS = {"posts": 13, "brand_replies": 13, "dead_letters": 13}
_MONTH = re.compile(r"^\d{6}$")


def cutoff(today: date, keep_months: int) -> int:
    """First YYYYMM kept: the current month and the ``keep_months - 1`` before it."""
    months = today.year * 12 + today.month - 1 - (keep_months - 1)
    return (months // 12) * 100 + months % 12 + 1


def _partitions(client: Any, db: str, cluster: str) -> list[tuple[str, str]]:
    """(policy table, YYYYMM partition) of the active parts: on a cluster, of every shard's
    ``*_local`` table, named by their Distributed table (the names the policy uses)."""
    # one replica per shard answers cluster(): the union is every shard's partitions
    sql = (
        f"SELECT table, partition FROM cluster('{check_identifier(cluster)}', system, parts) "
        if cluster
        else "SELECT table, partition FROM system.parts "
    ) + "WHERE database = %(db)s AND active GROUP BY table, partition ORDER BY table, partition"
    rows = client.execute(
        sql,
        {"db": db},
    )
    if not cluster:
        return [(str(t), str(p)) for t, p in rows]
    return sorted({(str(t)[: -len("_local")], str(p)) for t, p in rows if t.endswith("_local")})


def _stored(table: str, cluster: str) -> str:
    """The table that holds the rows: ``posts_local`` on a cluster, ``posts`` on one server."""
    return check_identifier(f"{table}_local" if cluster else table)


def _keep(spec: str) -> tuple[str, int]:
    table, _, months = spec.partition("=")
    if not months.isdigit() or int(months) < 1:
        raise argparse.ArgumentTypeError(f"expected TABLE=MONTHS (MONTHS >= 1), got {spec!r}")
    return check_identifier(table), int(months)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="crisis-radar retention", description=__doc__)
    parser.add_argument("--database", help="ClickHouse database (default: from settings)")
    parser.add_argument(
        "--keep",
        type=_keep,
        action="append",
        default=[],
        metavar="TABLE=MONTHS",
        help="override the policy for a table (repeatable)",
    )
    parser.add_argument(
        "--today",
        type=date.fromisoformat,
        default=datetime.now(UTC).date(),
        help="reference date (YYYY-MM-DD)",
    )
    parser.add_argument("--dry-run", action="store_true", help="only list what would be dropped")
    args = parser.parse_args(argv)
    settings = get_settings()
    policy = DEFAULT_KEEP_MONTHS | dict(args.keep)
    db = check_identifier(args.database or settings.clickhouse_database)
    require_schema(settings, db)  # unreachable or not migrated: one line (error boundary)
    try:
        client = make_client(settings, database=db)
        rows = _partitions(client, db, settings.clickhouse_cluster)
    except Exception as exc:  # connection refused, unknown database...
        reason = " ".join(str(exc).split("Stack trace:")[0].split())  # drop the server's trace
        print(f"crisis-radar retention: cannot read partitions of {db}: {reason}", file=sys.stderr)
        return 1
    doomed = [
        (t, p)
        for t, p in rows
        if t in policy and _MONTH.match(str(p)) and int(p) < cutoff(args.today, policy[t])
    ]
    for table, part in doomed:
        print(f"{'would drop' if args.dry_run else 'drop'} {db}.{table} partition {part}")
    if not args.dry_run:
        for table, part in progress_bar(
            doomed, desc="dropping partitions", unit="part", file=sys.stderr, disable=not doomed
        ):
            stored = _stored(table, settings.clickhouse_cluster)
            drop = f"ALTER TABLE {db}.{check_identifier(stored)} DROP PARTITION {int(part)}"
            if settings.clickhouse_cluster:  # replication drops it from the other replicas
                on_each_shard(settings, client, db, drop)
            else:
                client.execute(drop)
    client.disconnect()
    print(
        f"{len(doomed)} partition(s) {'to drop' if args.dry_run else 'dropped'}; policy "
        + ", ".join(f"{t} {m} months" for t, m in sorted(policy.items()))
    )
    return 0
