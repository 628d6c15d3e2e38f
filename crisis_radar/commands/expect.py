"""``crisis-radar expect``: announce a planned event of a brand (a launch, a TV spot...).

    crisis-radar expect --brand telvana --from 2026-11-24T14:00Z --to 2026-11-24T20:00Z \\
        --kind launch --note "Telvana One launch"

Kinds: launch | campaign | tv_spot | maintenance. Stored in ClickHouse (expected_events, drawn
as annotations on the Grafana boards) and produced to crisis.feedback, where the running worker
learns it: during the event, volume up with the usual or a positive mix does not page; a
negative turn still does, and its alert names the event (docs/feedback.md). An event may not
overlap another announced event of the same brand.
"""

from __future__ import annotations

import argparse
import uuid
from datetime import UTC, datetime

from crisis_radar.clickhouse import check_identifier, make_client, require_schema
from crisis_radar.commands.feedback import EVENT_COLUMNS, choice, now, store_and_send, who
from crisis_radar.settings import get_settings
from radar_base.errors import ConfigError
from schemas.feedback import EVENT_KINDS, ExpectedEvent


def parse_time(value: str, flag: str) -> datetime:
    try:
        t = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"{flag} {value!r} is not a time; use ISO 8601, e.g. "
                          "2026-11-24T14:00Z") from None  # fmt: skip
    t = t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
    return t.replace(second=0, microsecond=0)


def known_brands(path: object) -> set[str]:
    from detectors.brands import Watchlist

    return set(Watchlist.from_yaml(str(path)).ids)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="crisis-radar expect",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--brand", required=True, help="brand id of the watchlist")
    p.add_argument("--from", dest="start", required=True, help="start, UTC ISO 8601")
    p.add_argument("--to", dest="end", required=True, help="end, UTC ISO 8601 (exclusive)")
    p.add_argument("--kind", required=True, help="launch | campaign | tv_spot | maintenance")
    p.add_argument("--note", default="", help="what it is (named in alerts)")
    p.add_argument("--by", help="who announces it (default: $USER)")
    p.add_argument("--database", help="ClickHouse database (default: from settings)")
    args = p.parse_args(argv)
    settings = get_settings()
    kind = choice(args.kind, EVENT_KINDS, "kind")
    brands = known_brands(settings.watchlist_path)
    if args.brand not in brands:
        raise ConfigError(f"unknown brand {args.brand!r}: not in {settings.watchlist_path}")
    start, end = parse_time(args.start, "--from"), parse_time(args.end, "--to")
    if end <= start:
        raise ConfigError(f"--to {end:%Y-%m-%d %H:%M} is not after --from "
                          f"{start:%Y-%m-%d %H:%M}")  # fmt: skip
    db = check_identifier(args.database or settings.clickhouse_database)
    require_schema(settings, db)
    client = make_client(settings, database=db)
    try:
        clash = client.execute(
            "SELECT kind, starts, ends, note FROM expected_events WHERE brand = %(b)s "
            "AND starts < %(e)s AND ends > %(s)s ORDER BY starts LIMIT 1",
            {"b": args.brand, "s": start.replace(tzinfo=None), "e": end.replace(tzinfo=None)},
        )
        if clash:
            k, s, e, note = clash[0]
            raise ConfigError(
                f"{args.brand} already has an announced {k}{f' {note!r}' if note else ''} "
                f"{s:%Y-%m-%d %H:%M}-{e:%Y-%m-%d %H:%M} UTC overlapping this one"
            )
        record = ExpectedEvent(
            event_id=uuid.uuid4().hex, brand=args.brand, start=start, end=end,
            kind=kind, note=args.note, by=who(args.by), at=now(),  # type: ignore[arg-type]
        )  # fmt: skip
        store_and_send(settings, client, "expected_events", EVENT_COLUMNS, record,
                       args.brand.encode())  # fmt: skip
    finally:
        client.disconnect()
    print(f"{args.brand}: {record.describe()} (by {record.by}, id {record.event_id})")
    return 0
