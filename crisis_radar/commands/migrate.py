"""``crisis-radar migrate [--database D]``: apply pending ClickHouse migrations."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="crisis-radar migrate", description="Apply pending ClickHouse migrations (each once)."
    )
    parser.add_argument(
        "--database", help="target database (default: CRISIS_RADAR_CLICKHOUSE_DATABASE)"
    )
    parser.add_argument("--list", action="store_true", help="list migration files and exit")
    args = parser.parse_args(argv)

    from crisis_radar.clickhouse import discover, migrate
    from crisis_radar.settings import get_settings

    if args.list:
        for mig in discover():
            print(f"{mig.version:04d} {mig.name}")
        return 0
    settings = get_settings()
    db = args.database or settings.clickhouse_database
    try:
        applied = migrate(settings, database=db, log=lambda m: print(m, file=sys.stderr))
    except ValueError as exc:
        print(f"crisis-radar migrate: {exc}", file=sys.stderr)
        return 2
    # ClickHouse unreachable: the error boundary (crisis_radar.cli) says where and what to do
    print(f"database {db}: {len(applied)} migration(s) applied, schema up to date")
    return 0
