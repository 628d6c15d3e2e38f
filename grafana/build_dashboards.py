"""Generate crisis-radar's Grafana dashboards (grafana/dashboards/*.json) from code.

    .venv/bin/python grafana/build_dashboards.py           # (re)write the JSON
    .venv/bin/python grafana/build_dashboards.py --check   # exit 1 if the committed JSON is stale

Output is deterministic (sorted keys, fixed ids), so the JSON is reviewed and committed like code.
ClickHouse SQL must run on 18.16 and current ClickHouse (tests/test_dashboards.py runs every
panel): no toStartOfInterval/$__timeInterval, bucket with intDiv on $__interval_s instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "dashboards"
PROM = {"type": "prometheus", "uid": "prometheus"}
CH = {"type": "grafana-clickhouse-datasource", "uid": "clickhouse"}
CH_TIMESERIES, CH_TABLE = 0, 1  # the plugin's "format" values
BOARD_URL = "/d/{uid}"
Json = dict[str, Any]

# Time bucket for ClickHouse time series: Grafana's interval, never finer than a minute.
STEP = "greatest($__interval_s, 60)"
BUCKET = "toDateTime(intDiv(toUInt32({col}), STEP) * STEP)".replace("STEP", STEP)


def prom(expr: str, legend: str = "", instant: bool = False) -> Json:
    return {
        "datasource": PROM,
        "expr": expr,
        "legendFormat": legend,
        "instant": instant,
        "range": not instant,
    }


def ch(sql: str, fmt: int = CH_TIMESERIES) -> Json:
    sql = " ".join(line.strip() for line in sql.strip().splitlines())
    return {
        "datasource": CH,
        "editorType": "sql",
        "format": fmt,
        "rawSql": sql,
        "queryType": "table" if fmt == CH_TABLE else "timeseries",
    }


def panel(
    title: str,
    targets: list[Json],
    kind: str = "timeseries",
    w: int = 12,
    h: int = 8,
    unit: str = "short",
    description: str = "",
    **extra: Any,
) -> Json:
    ds = targets[0]["datasource"]
    for ref, t in zip("ABCDEFGH", targets, strict=False):
        t["refId"] = ref
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": ds,
        "targets": targets,
        "gridPos": {"w": w, "h": h},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        **extra,
    }


def layout(panels: list[Json]) -> list[Json]:
    """Fixed ids and a left-to-right, top-to-bottom grid of 24 columns."""
    x = y = row_h = 0
    for i, p in enumerate(panels, start=1):
        w, h = p["gridPos"]["w"], p["gridPos"]["h"]
        if p["type"] == "row" or x + w > 24:
            x, y, row_h = 0, y + row_h, 0
        p["id"] = i
        p["gridPos"] |= {"x": x, "y": y}
        x, row_h = (24, h) if p["type"] == "row" else (x + w, max(row_h, h))
    return panels


def row(title: str, repeat: str | None = None) -> Json:
    r: Json = {
        "type": "row",
        "title": title,
        "collapsed": False,
        "panels": [],
        "gridPos": {"w": 24, "h": 1},
    }
    if repeat:
        r["repeat"] = repeat
    return r


def var_prom(name: str, label: str, metric: str) -> Json:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": PROM,
        "query": {"query": f"label_values({metric}, {name})", "refId": "v"},
        "definition": f"label_values({metric}, {name})",
        "refresh": 2,
        "sort": 1,
        "multi": True,
        "includeAll": True,
        "allValue": ".*",
        "current": {"text": "All", "value": "$__all"},
    }


def var_ch(name: str, label: str, sql: str) -> Json:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": CH,
        "query": sql,
        "definition": sql,
        "refresh": 2,
        "sort": 1,
        "multi": False,
        "includeAll": False,
    }


ALERT_ANNOTATION = {
    "name": "Crisis alerts (ClickHouse)",
    "datasource": CH,
    "enable": True,
    "iconColor": "red",
    "target": ch(
        """
        SELECT minute AS time, concat(brand, ': ', severity_label) AS title, summary AS text,
               brand AS tags
        FROM alerts FINAL
        WHERE $__timeFilter(minute) AND severity >= 2
        ORDER BY time""",
        CH_TABLE,
    ),
}


# Planned events (`crisis-radar expect`) as regions: start to end, on every board. An event that
# began before the time range still shows (overlap, not start, filters).
EVENT_ANNOTATION = {
    "name": "Announced events (ClickHouse)",
    "datasource": CH,
    "enable": True,
    "iconColor": "blue",
    "target": ch(
        """
        SELECT starts AS time, ends AS timeEnd,
               concat(brand, ': announced ', kind) AS title, note AS text, brand AS tags
        FROM expected_events
        WHERE starts <= $__toTime AND ends >= $__fromTime
        ORDER BY time""",
        CH_TABLE,
    ),
}


def board(
    uid: str,
    title: str,
    panels: list[Json],
    variables: list[Json],
    annotations: list[Json],
    refresh: str = "10s",
) -> Json:
    links = [
        {"title": t, "type": "link", "url": BOARD_URL.format(uid=u), "targetBlank": False}
        for u, t in (
            ("crisis-overview", "Overview"),
            ("crisis-brand", "Brand"),
            ("crisis-pipeline", "Pipeline"),
        )
        if u != uid
    ]
    return {
        "uid": uid,
        "title": title,
        "tags": ["crisis-radar"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": False,
        "refresh": refresh,
        "time": {"from": "now-6h", "to": "now"},
        "links": links,
        "templating": {"list": variables},
        "annotations": {"list": [dict(a) for a in annotations]},
        "panels": layout(panels),
    }


def overview() -> Json:
    sel = 'group=~"$group"'
    panels = [
        panel(
            "Brands by severity (0 none, 1 watch, 2 warning, 3 crisis)",
            [
                prom(
                    "sort_desc(max by (brand, group, team) "
                    f"(crisis_radar_brand_severity{{{sel}}}))",
                    "{{brand}}",
                    instant=True,
                )
            ],
            kind="bargauge",
            w=8,
            h=9,
            options={"orientation": "horizontal", "displayMode": "basic"},
            fieldConfig={
                "defaults": {
                    "min": 0,
                    "max": 3,
                    "unit": "none",
                    "thresholds": {
                        "mode": "absolute",
                        "steps": [
                            {"color": "green", "value": None},
                            {"color": "yellow", "value": 1},
                            {"color": "orange", "value": 2},
                            {"color": "red", "value": 3},
                        ],
                    },
                },
                "overrides": [],
            },
        ),
        panel(
            "Firing alerts",
            [prom('ALERTS{alertstate="firing"}', instant=True)],
            kind="table",
            w=8,
            h=9,
        ),
        panel(
            "Latest crisis alerts",
            [
                ch(
                    """
            SELECT minute, brand, severity_label, round(score, 2) AS score, summary
            FROM alerts FINAL WHERE $__timeFilter(minute)
            ORDER BY minute DESC LIMIT 50""",
                    CH_TABLE,
                )
            ],
            kind="table",
            w=8,
            h=9,
        ),
        # Competitor groups side by side: one row per group, its brands compared inside.
        row("Group $group", repeat="group"),
        panel(
            "Crisis score — $group",
            [
                prom(
                    'max by (brand) (crisis_radar_brand_crisis_score{group=~"$group"})', "{{brand}}"
                )
            ],
            w=8,
            unit="percentunit",
            fieldConfig={"defaults": {"min": 0, "max": 1, "unit": "percentunit"}, "overrides": []},
        ),
        panel(
            "Volume (posts / closed minute) — $group",
            [prom('sum by (brand) (crisis_radar_brand_volume{group=~"$group"})', "{{brand}}")],
            w=8,
        ),
        panel(
            "Negative share — $group",
            [
                prom(
                    'max by (brand) (crisis_radar_brand_negative_share{group=~"$group"})',
                    "{{brand}}",
                )
            ],
            w=8,
            unit="percentunit",
        ),
        row("History (ClickHouse)"),
        panel(
            "Volume per brand",
            [
                ch(f"""
            SELECT {BUCKET.format(col="minute")} AS time, brand, sum(posts) AS posts
            FROM brand_minutes FINAL WHERE $__timeFilter(minute)
            GROUP BY time, brand ORDER BY time""")
            ],
            w=12,
        ),
        panel(
            "Negative share per brand",
            [
                ch(f"""
            SELECT {BUCKET.format(col="minute")} AS time, brand,
                   if(sum(posts) - sum(unknown) = 0, 0,
                      sum(negative) / (sum(posts) - sum(unknown))) AS negative_share
            FROM brand_minutes FINAL WHERE $__timeFilter(minute)
            GROUP BY time, brand ORDER BY time""")
            ],
            w=12,
            unit="percentunit",
        ),
        panel(
            "Complaints answered within 1 h per brand",
            [
                ch(f"""
            SELECT {BUCKET.format(col="minute")} AS time, brand,
                   sum(answered_1h) / sum(due_1h) AS answered_1h
            FROM brand_minutes FINAL WHERE $__timeFilter(minute)
            GROUP BY time, brand HAVING sum(due_1h) > 0 ORDER BY time""")
            ],
            w=12,
            unit="percentunit",
            description="Brands with official accounts in the watchlist (docs/response.md).",
        ),
        panel(
            "Unanswered complaints (last hour) — now",
            [
                prom(
                    "sort_desc(max by (brand) (crisis_radar_brand_unanswered_complaints))",
                    "{{brand}}",
                    instant=True,
                )
            ],
            kind="bargauge",
            w=12,
            options={"orientation": "horizontal", "displayMode": "basic"},
        ),
    ]
    return board(
        "crisis-overview",
        "crisis-radar: overview",
        panels,
        [var_prom("group", "Competitor group", "crisis_radar_brand_severity")],
        [ALERT_ANNOTATION, EVENT_ANNOTATION],
    )


def brand() -> Json:
    where = "brand = '${brand}' AND $__timeFilter(minute)"
    series = BUCKET.format(col="minute")
    panels = [
        panel(
            "Crisis score and severity",
            [
                prom('max(crisis_radar_brand_crisis_score{brand="$brand"})', "score"),
                prom('max(crisis_radar_brand_severity{brand="$brand"}) / 3', "severity / 3"),
            ],
            w=12,
            unit="percentunit",
        ),
        panel(
            "Volume: posts, unique, duplicates, campaign",
            [
                ch(f"""
            SELECT {series} AS time, sum(posts) AS posts, sum(unique_posts) AS unique_posts,
                   sum(duplicates) AS duplicates, sum(campaign_posts) AS campaign
            FROM brand_minutes FINAL WHERE {where}
            GROUP BY time ORDER BY time""")
            ],
            w=12,
        ),
        panel(
            "Sentiment split",
            [
                ch(f"""
            SELECT {series} AS time, sum(negative) AS negative, sum(neutral) AS neutral,
                   sum(positive) AS positive
            FROM brand_minutes FINAL WHERE {where}
            GROUP BY time ORDER BY time""")
            ],
            w=12,
            fieldConfig={
                "defaults": {"custom": {"stacking": {"mode": "percent"}}, "unit": "short"},
                "overrides": [],
            },
        ),
        panel(
            "Volume by language",
            [
                ch(f"""
            SELECT {BUCKET.format(col="created_at")} AS time, lang, count() AS posts
            FROM posts FINAL
            WHERE brand = '${{brand}}' AND $__timeFilter(created_at)
            GROUP BY time, lang ORDER BY time, lang""")
            ],
            w=12,
            description="Posts per language (ISO 639-1; und: undetermined, or stored before "
            "languages were identified). docs/languages.md",
        ),
        panel(
            "Negative share by language",
            [
                ch(
                    """
            SELECT lang, sum(posts) AS n_posts, sum(negative) AS n_negative,
                   sum(unknown) AS n_no_model,
                   round(if(sum(posts) - sum(unknown) = 0, 0,
                            sum(negative) / (sum(posts) - sum(unknown))), 3) AS negative_share
            FROM brand_lang_minutes
            WHERE brand = '${brand}' AND $__timeFilter(minute)
            GROUP BY lang ORDER BY n_posts DESC, lang""",
                    CH_TABLE,
                )
            ],
            kind="table",
            w=12,
            description="Over the time range: a crisis in one language shows here while the "
            "others stay calm (brand_lang_minutes, docs/languages.md).",
        ),
        panel(
            "Reach (sum of author followers)",
            [
                ch(f"""
            SELECT {series} AS time, sum(reach) AS reach
            FROM brand_minutes FINAL WHERE {where}
            GROUP BY time ORDER BY time""")
            ],
            w=12,
        ),
        # The brand's own voice (issue 18, docs/response.md): how fast it answers complaints.
        panel(
            "Complaints and brand replies",
            [
                ch(f"""
            SELECT {series} AS time, sum(complaints) AS complaints,
                   sum(brand_replies) AS brand_replies
            FROM brand_minutes FINAL WHERE {where}
            GROUP BY time ORDER BY time""")
            ],
            w=12,
            description="Complaints: negative crowd posts addressing the brand (@handle, official "
            "account, or a reply to its post). Brand replies: posts of its official accounts, "
            "never counted as volume. docs/response.md",
        ),
        panel(
            "Complaints answered within 15 min / 1 h",
            [
                ch(f"""
            SELECT {series} AS time, sum(answered_15m) / sum(due_15m) AS answered_15m
            FROM brand_minutes FINAL WHERE {where}
            GROUP BY time HAVING sum(due_15m) > 0 ORDER BY time"""),
                ch(f"""
            SELECT {series} AS time, sum(answered_1h) / sum(due_1h) AS answered_1h
            FROM brand_minutes FINAL WHERE {where}
            GROUP BY time HAVING sum(due_1h) > 0 ORDER BY time"""),
            ],
            w=12,
            unit="percentunit",
            description="Shown at the minute the deadline fell in (complaints posted 15 min / "
            "1 h earlier): final, never amended. Gaps: no complaint due.",
            fieldConfig={"defaults": {"min": 0, "max": 1, "unit": "percentunit"}, "overrides": []},
        ),
        panel(
            "Median first response (rolling 1 h)",
            [
                ch(f"""
            SELECT {series} AS time, argMax(response_median_s, minute) AS median_first_response
            FROM brand_minutes FINAL WHERE {where} AND responses_1h > 0
            GROUP BY time ORDER BY time""")
            ],
            w=12,
            unit="s",
            description="Median delay of the first responses given in the 60 minutes up to the "
            "bucket's last minute (event time).",
        ),
        panel(
            "Care: unanswered complaints (1 h) and minutes since the last reply",
            [
                prom(
                    'max(crisis_radar_brand_unanswered_complaints{brand="$brand"})',
                    "unanswered (last hour)",
                ),
                prom(
                    'max(crisis_radar_brand_silent_minutes{brand="$brand"})',
                    "minutes since last reply",
                ),
            ],
            w=12,
            description="The care rule's inputs: BrandNotAnswering fires when a brand in warning "
            "or crisis has not replied for 30 min with 5+ complaints unanswered.",
        ),
        panel(
            "Care queue: unanswered complaints by priority",
            [
                ch(
                    """
            SELECT created_at, platform, author_handle, followers, engagement, reach, age_min,
                   round(priority) AS priority_score, text, url
            FROM care_queue
            WHERE brand = '${brand}'
            ORDER BY priority DESC, created_at LIMIT 50""",
                    CH_TABLE,
                )
            ],
            kind="table",
            w=24,
            description="Complaints no brand reply answers yet, last 24 h before the brand's "
            "latest post; priority = reach x (1 + age in hours). Terminal: crisis-radar care "
            "--brand B.",
        ),
        panel(
            "Duplicate clusters (narratives, copy-paste campaigns)",
            [
                ch(
                    """
            SELECT cluster_id, count() AS posts, uniq(author_id) AS authors,
                   max(campaign) AS campaign, min(created_at) AS first_seen, any(text) AS example
            FROM posts FINAL
            WHERE brand = '${brand}' AND $__timeFilter(created_at)
            GROUP BY cluster_id HAVING posts > 1
            ORDER BY posts DESC LIMIT 20""",
                    CH_TABLE,
                )
            ],
            kind="table",
            w=24,
        ),
        panel(
            "Top negative posts by reach",
            [
                ch(
                    """
            SELECT created_at, platform, author_handle, followers,
                   round(sentiment_score, 2) AS sentiment, text, url
            FROM posts FINAL
            WHERE brand = '${brand}' AND $__timeFilter(created_at)
              AND sentiment_label = 'negative' AND is_duplicate = 0
            ORDER BY followers DESC LIMIT 20""",
                    CH_TABLE,
                )
            ],
            kind="table",
            w=24,
        ),
        panel(
            "Alert history",
            [
                ch(
                    """
            SELECT minute, severity_label, previous_severity, round(score, 2) AS score, summary,
                   top_terms
            FROM alerts FINAL
            WHERE brand = '${brand}' AND $__timeFilter(minute)
            ORDER BY minute DESC LIMIT 50""",
                    CH_TABLE,
                )
            ],
            kind="table",
            w=24,
        ),
    ]
    brands = var_ch("brand", "Brand", "SELECT DISTINCT brand FROM brand_minutes ORDER BY brand")
    return board(
        "crisis-brand",
        "crisis-radar: brand drill-down",
        panels,
        [brands],
        [
            ALERT_ANNOTATION
            | {
                "target": ch(
                    """
                    SELECT minute AS time, severity_label AS title, summary AS text,
                           brand AS tags
                    FROM alerts FINAL
                    WHERE brand = '${brand}' AND $__timeFilter(minute)
                    ORDER BY time""",
                    CH_TABLE,
                )
            },
            EVENT_ANNOTATION
            | {
                "target": ch(
                    """
                    SELECT starts AS time, ends AS timeEnd, concat('announced ', kind) AS title,
                           note AS text, brand AS tags
                    FROM expected_events
                    WHERE brand = '${brand}' AND starts <= $__toTime AND ends >= $__fromTime
                    ORDER BY time""",
                    CH_TABLE,
                )
            },
        ],
    )


def pipeline() -> Json:
    rate = "[$__rate_interval]"
    panels = [
        panel("Worker up", [prom('up{job="crisis-radar"}', "{{instance}}")], kind="stat", w=6),
        panel(
            "Firing pipeline alerts",
            [prom('ALERTS{alertstate="firing", team="platform"}', instant=True)],
            kind="table",
            w=18,
        ),
        panel(
            "Posts in per stage (/s)",
            [prom(f"sum by (stage) (rate(crisis_radar_posts_in_total{rate}))", "{{stage}}")],
            unit="ops",
        ),
        panel(
            "Posts out per stage (/s)",
            [prom(f"sum by (stage) (rate(crisis_radar_posts_out_total{rate}))", "{{stage}}")],
            unit="ops",
        ),
        panel(
            "Dead letters by reason (/s)",
            [
                prom(
                    f"sum by (stage, reason) (rate(crisis_radar_dlq_total{rate}))",
                    "{{stage}} {{reason}}",
                )
            ],
            unit="ops",
        ),
        panel(
            "Late and repeated posts (/s)",
            [
                prom(
                    f"sum by (stage) (rate(crisis_radar_late_posts_total{rate}))", "late {{stage}}"
                ),
                # the same post read again (overlapping exports, a source re-reading a page)
                prom(
                    f"sum by (stage) (rate(crisis_radar_repeated_posts_total{rate}))",
                    "repeated (counted once) {{stage}}",
                ),
            ],
            unit="ops",
        ),
        panel("Consumer lag", [prom("sum by (topic) (crisis_radar_consumer_lag)", "{{topic}}")]),
        panel(
            "Latency event time → scored (p50, p99)",
            [
                prom(
                    "histogram_quantile(0.5, sum by (le, stage) "
                    f"(rate(crisis_radar_processing_latency_seconds_bucket{rate})))",
                    "p50 {{stage}}",
                ),
                prom(
                    "histogram_quantile(0.99, sum by (le, stage) "
                    f"(rate(crisis_radar_processing_latency_seconds_bucket{rate})))",
                    "p99 {{stage}}",
                ),
            ],
            unit="s",
        ),
        panel(
            "ClickHouse rows inserted (/s)",
            [
                prom(
                    f"sum by (table) (rate(crisis_radar_clickhouse_insert_rows_total{rate}))",
                    "{{table}}",
                )
            ],
            w=8,
            unit="ops",
        ),
        panel(
            "ClickHouse insert errors (/s)",
            [
                prom(
                    f"sum by (table) (rate(crisis_radar_clickhouse_insert_errors_total{rate}))",
                    "{{table}}",
                )
            ],
            w=8,
            unit="ops",
        ),
        panel(
            "ClickHouse insert p99",
            [
                prom(
                    "histogram_quantile(0.99, sum by (le, table) "
                    f"(rate(crisis_radar_clickhouse_insert_seconds_bucket{rate})))",
                    "{{table}}",
                )
            ],
            w=8,
            unit="s",
        ),
        panel(
            "Rows per table (ClickHouse)",
            [
                ch(
                    """
            SELECT table, sum(rows) AS rows, round(sum(bytes_on_disk) / 1048576, 1) AS mib,
                   count() AS parts
            FROM system.parts WHERE database = currentDatabase() AND active
            GROUP BY table ORDER BY table""",
                    CH_TABLE,
                )
            ],
            kind="table",
            w=8,
        ),
        panel(
            "Freshness: last post per brand",
            [
                ch(
                    """
            SELECT brand, max(created_at) AS last_post, max(inserted_at) AS last_insert,
                   toInt64(max(inserted_at)) - toInt64(max(created_at)) AS lag_s
            FROM posts WHERE $__timeFilter(created_at)
            GROUP BY brand ORDER BY last_post""",
                    CH_TABLE,
                )
            ],
            kind="table",
            w=8,
        ),
        panel(
            "Dead letters by reason (ClickHouse)",
            [
                ch(
                    """
            SELECT source, reason, count() AS letters, max(received_at) AS last_seen,
                   any(error) AS example_error
            FROM dead_letters FINAL WHERE $__timeFilter(received_at)
            GROUP BY source, reason ORDER BY letters DESC""",
                    CH_TABLE,
                )
            ],
            kind="table",
            w=8,
        ),
    ]
    # maintenance windows and launches explain load there too
    return board("crisis-pipeline", "crisis-radar: pipeline health", panels, [], [EVENT_ANNOTATION])


DASHBOARDS = {"crisis-overview": overview, "crisis-brand": brand, "crisis-pipeline": pipeline}


def render() -> dict[str, str]:
    return {
        f"{uid}.json": json.dumps(build(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        for uid, build in DASHBOARDS.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the JSON on disk is stale")
    parser.add_argument("--out", type=Path, default=OUT, help=f"output folder (default {OUT})")
    args = parser.parse_args(argv)
    stale = []
    for name, text in render().items():
        path = args.out / name
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            args.out.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if stale:
        print(
            f"stale dashboards (run grafana/build_dashboards.py): {', '.join(stale)}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
