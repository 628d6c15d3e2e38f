"""``crisis-radar care``: the care queue of a brand, in the terminal (from ClickHouse).

    crisis-radar care --brand telvana             # the 20 complaints to answer first
    crisis-radar care --brand telvana --limit 50

Unanswered complaints (negative crowd posts addressed to the brand that none of its official
accounts has replied to) of the last 24 h before the brand's latest post, biggest reach and
oldest first (the ``care_queue`` view, migration 0017), under the brand's latest response
figures (docs/response.md). The care page links here (deploy/prometheus/rules/care.yml).
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import Any

from crisis_radar.clickhouse import check_identifier, make_client, require_schema
from crisis_radar.settings import get_settings
from radar_base.errors import ConfigError

_FIGURES = (
    "minute, complaints, brand_replies, due_15m, answered_15m, due_1h, answered_1h, "
    "responses_1h, response_median_s, unanswered_1h, silent_min"
)
_QUEUE = "priority, age_min, reach, followers, engagement, author_handle, author_id, text, url"


def _known_brands(path: Any) -> list[str]:
    from detectors.brands import Watchlist

    return Watchlist.from_yaml(path).ids


def _share(n: int, d: int) -> str:
    return f"{n / d:.0%} of {d}" if d else "none due"


def render(brand: str, figures: tuple[Any, ...] | None, queue: list[tuple[Any, ...]]) -> str:
    out = []
    if figures is None:
        out.append(f"{brand}: no closed minute stored yet")
    else:
        minute: datetime = figures[0]
        c, r, d15, a15, d1h, a1h, n, med, open_, silent = figures[1:]
        out += [
            f"{brand}: response as of {minute:%Y-%m-%d %H:%M} UTC (last closed minute)",
            f"  complaints {c}, brand replies {r} this minute; "
            f"{open_} of the last hour unanswered; last reply {silent} min ago",
            f"  answered within 15 min: {_share(a15, d15)}; within 1 h: {_share(a1h, d1h)}; "
            f"median first response (last hour): "
            + (f"{med / 60:.1f} min over {n}" if n else "no response"),
        ]
    if not queue:
        out += ["", "  care queue: empty (no unanswered complaint in the last 24 h)"]
        return "\n".join(out)
    out += ["", f"  care queue ({len(queue)} shown, biggest reach and oldest first):"]
    out.append(f"    {'priority':>9}  {'age':>6}  {'reach':>8}  author / text")
    for prio, age, reach, _f, _e, handle, author, text, url in queue:
        who = f"@{handle}" if handle else author
        line = " ".join(str(text).split())[:90]
        out.append(f"    {prio:>9.0f}  {age:>4}m  {reach:>8}  {who}: {line}")
        if url:
            out.append(f"    {'':>9}  {'':>6}  {'':>8}  {url}")
    return "\n".join(out)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="crisis-radar care",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--brand", required=True, help="brand id (from the watchlist)")
    parser.add_argument("--limit", type=int, default=20, help="complaints shown (default 20)")
    parser.add_argument("--database", help="ClickHouse database (default: from settings)")
    args = parser.parse_args(argv)
    settings = get_settings()
    known = _known_brands(settings.watchlist_path)
    if args.brand not in known:
        raise ConfigError(
            f"unknown brand {args.brand!r}: not in the watchlist "
            f"({', '.join(known[:8])}{', ...' if len(known) > 8 else ''})",
            str(settings.watchlist_path),
        )
    db = check_identifier(args.database or settings.clickhouse_database)
    require_schema(settings, db)  # unreachable or not migrated: one line (error boundary)
    client = make_client(settings, database=db)
    try:
        figures = client.execute(
            f"SELECT {_FIGURES} FROM brand_minutes FINAL WHERE brand = %(b)s "
            "ORDER BY minute DESC LIMIT 1",
            {"b": args.brand},
        )
        queue = client.execute(
            f"SELECT {_QUEUE} FROM care_queue WHERE brand = %(b)s "
            "ORDER BY priority DESC, created_at, post_key LIMIT %(n)s",
            {"b": args.brand, "n": max(1, args.limit)},
        )
    except Exception as exc:
        reason = " ".join(str(exc).split("Stack trace:")[0].split())
        print(f"crisis-radar care: cannot read {db}: {reason}", file=sys.stderr)
        return 1
    finally:
        client.disconnect()
    print(render(args.brand, figures[0] if figures else None, queue))
    return 0
