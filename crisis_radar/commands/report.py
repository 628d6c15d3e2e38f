"""``crisis-radar report``: post-crisis report (HTML + Markdown with charts) from ClickHouse.

    crisis-radar report --alert latest
    crisis-radar report --alert 4f1c... --out out/telvana
    crisis-radar report --brand telvana --from 2026-11-23T09:00Z --to 2026-11-23T15:00Z

With --alert the window is --before minutes before the alert minute to --after minutes after.
Writes report.html (self-contained), report.md and the charts as PNG into --out
(default out/report-<brand>-<start>/) and prints the HTML path.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from crisis_radar.clickhouse import check_identifier, make_client, require_schema
from crisis_radar.settings import get_settings


def _time(text: str) -> datetime:
    try:
        t = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"not an ISO time: {text!r} (e.g. 2026-11-23T09:00Z)"
        ) from exc
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="crisis-radar report",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--brand", help="brand id (window from --from/--to)")
    who.add_argument("--alert", help="alert id, or 'latest' for the newest alert")
    p.add_argument(
        "--from", dest="start", type=_time, help="window start, ISO UTC (default: --to minus 6 h)"
    )
    p.add_argument("--to", dest="end", type=_time, help="window end, ISO UTC (default: now)")
    p.add_argument(
        "--before",
        type=int,
        default=180,
        help="with --alert: minutes before the alert minute (default 180)",
    )
    p.add_argument(
        "--after",
        type=int,
        default=240,
        help="with --alert: minutes after the alert minute (default 240)",
    )
    p.add_argument("--out", help="output folder (default out/report-<brand>-<start>/)")
    p.add_argument("--database", help="ClickHouse database (default: from settings)")
    return p


def _watched(settings: Any) -> set[str]:
    """Brand ids of the watchlist (none if it cannot be read: the stored data still decides)."""
    from detectors.brands import Watchlist

    try:
        return set(Watchlist.from_yaml(settings.watchlist_path).ids)
    except Exception:  # a missing or broken watchlist is `doctor`'s to report, not the report's
        return set()


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    from crisis_radar.report import queries, write_report
    from crisis_radar.report.build import window_for_alert

    settings = get_settings()
    try:
        db = check_identifier(args.database or settings.clickhouse_database)
    except ValueError as exc:
        print(f"crisis-radar report: {exc}", file=sys.stderr)
        return 2
    require_schema(settings, db)  # unreachable or not migrated: one line (error boundary)
    try:
        client = make_client(settings, database=db)
        alert_id = None
        if args.alert:
            alert = queries.get_alert(client, args.alert)
            if alert is None:
                print(f"crisis-radar report: no alert {args.alert!r} in {db}", file=sys.stderr)
                return 1
            alert_id, brand = alert["alert_id"], alert["brand"]
            start, end = window_for_alert(alert, args.before, args.after)
            start, end = args.start or start, args.end or end
        else:
            brand = args.brand
            known = queries.brands_with_minutes(client)
            if brand not in known and brand not in _watched(settings):
                # a typo would otherwise give an empty report that looks like a quiet brand
                named = ", ".join(known[:20]) + (" ..." if len(known) > 20 else "") or "none yet"
                print(
                    f"crisis-radar report: no brand {brand!r} in {db} nor in the watchlist; "
                    f"brands with data: {named}",
                    file=sys.stderr,
                )
                return 2
            end = args.end or datetime.now(UTC).replace(second=0, microsecond=0)
            start = args.start or end - timedelta(hours=6)
        if start >= end:
            print("crisis-radar report: --from must be before --to", file=sys.stderr)
            return 2
        path = write_report(client, db, brand, start, end, args.out, alert_id)
    except Exception as exc:  # connection or server errors: one line, not a stack trace
        reason = " ".join(str(exc).split("Stack trace:")[0].split())
        print(f"crisis-radar report: cannot build the report from {db}: {reason}", file=sys.stderr)
        return 1
    print(path)
    client.disconnect()
    return 0
