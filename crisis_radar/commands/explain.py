"""``crisis-radar explain``: why an alert fired, in the terminal (from ClickHouse).

    crisis-radar explain --brand telvana            # the brand's latest alert
    crisis-radar explain --brand telvana --last 3
    crisis-radar explain --alert-id 4f1c...
    crisis-radar explain --alert-id latest          # the newest alert of any brand

Shows the deciding minute, the signals (observed vs expected), top terms, posts and duplicate
clusters stored with the alert, and the brand's minutes around it. Pages link here
(deploy/prometheus/rules/crisis.yml). Then what feedback changed for the brand
(docs/feedback.md): its paging levels and the labels behind them, the label of the alert, its
announced events and the sentiment corrections of its posts.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from crisis_radar.clickhouse import check_identifier, make_client, require_schema
from crisis_radar.settings import get_settings

SEVERITY = {0: "none", 1: "watch", 2: "warning", 3: "crisis"}
_ALERT_COLS = (
    "alert_id, brand, minute, severity, previous_severity, score, summary, signals, "
    "top_posts, top_terms, top_clusters, created_at, expected_event"
)


def _json(text: str) -> list[dict[str, Any]]:
    try:
        value = json.loads(text or "[]")
    except ValueError:
        return []
    return value if isinstance(value, list) else []


def render(alert: dict[str, Any], context: list[tuple[Any, ...]]) -> str:
    sev, prev = SEVERITY.get(alert["severity"], "?"), SEVERITY.get(alert["previous_severity"], "?")
    out = [
        f"{alert['brand']}: {sev} at {alert['minute']:%Y-%m-%d %H:%M} UTC "
        f"(score {alert['score']:.2f}, was {prev}; raised {alert['created_at']:%H:%M:%S}, "
        f"id {alert['alert_id']})",
        f"  {alert['summary']}",
        "",
        "  signals (observed vs expected):",
    ]
    for s in sorted(_json(alert["signals"]), key=lambda s: -float(s.get("score", 0))):
        out.append(
            f"    {s.get('signal', '?'):<16} {float(s.get('observed', 0)):>10.3g} vs "
            f"{float(s.get('expected', 0)):>10.3g}   score {float(s.get('score', 0)):.2f}"
        )
    if alert["top_terms"]:
        out += ["", "  top terms: " + ", ".join(alert["top_terms"])]
    posts = _json(alert["top_posts"])
    if posts:
        out += ["", "  top posts:"]
        out += [
            f"    [{p.get('reach', 0)} reach] {p.get('author', '?')}: "
            f"{str(p.get('text', ''))[:110]}"
            for p in posts[:5]
        ]
    clusters = _json(alert["top_clusters"])
    if clusters:
        out += ["", "  duplicate clusters:"]
        out += [
            f"    {c.get('posts', 0)} posts / {c.get('distinct_authors', 0)} authors"
            f"{' CAMPAIGN' if c.get('campaign') else ''}: {str(c.get('example_text', ''))[:90]}"
            for c in clusters[:5]
        ]
    if context:
        out += ["", "  minute       posts  negative  share"]
        for minute, posts_n, neg in context:
            mark = "  <- deciding minute" if minute == alert["minute"] else ""
            share = neg / posts_n if posts_n else 0.0
            out.append(f"    {minute:%H:%M}  {posts_n:>7}  {neg:>8}  {share:>5.0%}{mark}")
    return "\n".join(out)


def feedback_section(client: Any, brand: str, alert: dict[str, Any] | None = None) -> str:
    """What analysts' feedback changed for ``brand`` (the worker's running values, replayed
    from the stored labels by the same code: detectors.feedback)."""
    from detectors.feedback import (
        BASE_ENTER,
        MAX_RAISE,
        MAX_TOLERANCE,
        MIX_MARGIN,
        apply_labels,
        fmt_mood,
    )

    cols = [
        "feedback_id",
        "alert_id",
        "label",
        "score",
        "severity",
        "by",
        "at",
        "note",
        "negative_share",
        "mean_sentiment",
        "volume_ratio",
    ]
    rows = client.execute(
        "SELECT feedback_id, alert_id, label, score, severity, given_by, given_at, note, "
        "negative_share, mean_sentiment, volume_ratio "
        "FROM alert_feedback WHERE brand = %(b)s ORDER BY given_at, feedback_id",
        {"b": brand},
    )
    fb = apply_labels([dict(zip(cols, r, strict=True)) for r in rows])
    out = ["", f"  feedback on {brand}:"]
    if fb.raise_ > 0 or fb.tolerance > 0:
        out.append(
            f"    paging levels raised by {fb.raise_:.2f} (cap {MAX_RAISE:.2f}): warning "
            f"{BASE_ENTER[2]:.2f} -> {fb.enter(2):.2f}, crisis {BASE_ENTER[3]:.2f} -> "
            f"{fb.enter(3):.2f} (watch unchanged); surges up to {fb.tolerance:.0%} negative "
            f"(smoothed) stay at watch (cap {MAX_TOLERANCE:.0%}); both only while the smoothed "
            f"mean sentiment is {fmt_mood(fb.mood)} and the recent smoothed volume at least "
            f"x{fb.volume_floor:.2g} the expected, and the smoothed positive share at least "
            f"{MIX_MARGIN:.1f}x the lowest share of the brand's usual one that a labelled page "
            f"reached (learned by the worker from its own minutes: its log and the metric "
            f'crisis_radar_brand_feedback_bound{{bound="mix_floor"}}) (the false '
            f"alarms' pattern): a more negative turn, a slower rise or a crowd without their "
            f"positives meets the levels as built"
        )
    else:
        out.append("    paging levels as built: no feedback has changed them")
    for c in fb.changes[-10:]:
        moved = (f"raise {c.before:.2f} -> {c.after:.2f}, tolerated "
                 f"{c.tolerance_before:.0%} -> {c.tolerance_after:.0%}, pattern mood "
                 f"{fmt_mood(c.mood_before)} -> {fmt_mood(c.mood_after)}, volume "
                 f"x{c.volume_before:.2g} -> x{c.volume_after:.2g}")  # fmt: skip
        if (
            c.after == c.before
            and c.tolerance_after == c.tolerance_before
            and c.mood_after == c.mood_before
            and c.volume_after == c.volume_before
        ):
            moved = "no change"
        note = f" ({c.note})" if c.note else ""
        out.append(f"    {c.at:%Y-%m-%d %H:%M} {c.by}: alert {c.alert_id[:12]} {c.label}: "
                   f"{moved}{note}")  # fmt: skip
    if alert is not None:
        mine = [c for c in fb.changes if c.alert_id == alert["alert_id"]]
        if mine:
            out.append(f"    this alert: labelled {mine[-1].label} by {mine[-1].by}")
        if alert.get("expected_event"):
            out.append(f"    this alert came during the {alert['expected_event']}")
    events = client.execute(
        "SELECT kind, starts, ends, note, given_by FROM expected_events WHERE brand = %(b)s "
        "ORDER BY starts DESC LIMIT 5",
        {"b": brand},
    )
    for kind, start, end, note, by in events:
        out.append(f"    announced {kind}{f' {note!r}' if note else ''} "
                   f"{start:%Y-%m-%d %H:%M}-{end:%Y-%m-%d %H:%M} UTC by {by}")  # fmt: skip
    corr = client.execute(
        "SELECT count(), uniqExact(given_by), uniqExact(post_key) FROM post_feedback "
        "WHERE brand = %(b)s",
        {"b": brand},
    )
    n, authors, posts = corr[0] if corr else (0, 0, 0)
    if n:
        from detectors.feedback import SentimentCorrections

        model = SentimentCorrections()
        out.append(
            f"    sentiment corrections: {n} on {posts} posts by {authors} analysts (each "
            f"counts at most {model.per_author_day} a day; a text is overridden only where "
            f"{model.min_authors} analysts corrected close paraphrases)"
        )
    return "\n".join(out)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="crisis-radar explain",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--brand", help="brand id (latest alerts of this brand)")
    who.add_argument(
        "--alert-id", help="one alert by id (from the crisis.alerts record), or 'latest'"
    )
    parser.add_argument("--last", type=int, default=1, help="how many alerts (default 1)")
    parser.add_argument("--context", type=int, default=5, help="minutes shown around (default 5)")
    parser.add_argument("--database", help="ClickHouse database (default: from settings)")
    args = parser.parse_args(argv)
    settings = get_settings()
    db = check_identifier(args.database or settings.clickhouse_database)
    where, params = (
        ("brand = %(v)s", {"v": args.brand})
        if args.brand
        else ("alert_id = %(v)s", {"v": args.alert_id})
    )
    if args.alert_id == "latest":  # newest alert of any brand (as crisis-radar report --alert)
        where, params = "1 = 1", {}
    require_schema(settings, db)  # unreachable or not migrated: one line (error boundary)
    try:
        client = make_client(settings, database=db)
        rows = client.execute(
            f"SELECT {_ALERT_COLS} FROM alerts FINAL WHERE {where} "
            "ORDER BY minute DESC, severity DESC LIMIT %(n)s",
            params | {"n": max(1, args.last)},
        )
    except Exception as exc:
        reason = " ".join(str(exc).split("Stack trace:")[0].split())
        print(f"crisis-radar explain: cannot read alerts from {db}: {reason}", file=sys.stderr)
        return 1
    if not rows:
        print(
            f"crisis-radar explain: no alert for {args.brand or args.alert_id} in {db}",
            file=sys.stderr,
        )
        return 1
    names = [c.strip() for c in _ALERT_COLS.split(",")]
    for i, row in enumerate(rows):
        alert = dict(zip(names, row, strict=True))
        context = client.execute(
            "SELECT minute, posts, negative FROM brand_minutes FINAL WHERE brand = %(b)s "
            "AND minute >= toDateTime(%(t)s) - %(w)s AND minute <= toDateTime(%(t)s) + %(w)s "
            "ORDER BY minute",
            {"b": alert["brand"], "t": alert["minute"], "w": args.context * 60},
        )
        print(("\n" if i else "") + render(alert, context))
        if i == len(rows) - 1 or rows[i + 1][1] != alert["brand"]:
            print(feedback_section(client, alert["brand"], alert))
    client.disconnect()
    return 0
