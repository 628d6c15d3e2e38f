"""Helpers for tests/test_queries.py and tests/test_dashboards.py: one seeded data set, run on the
real ClickHouse (18.16, via the ``clickhouse`` fixture) and on current ClickHouse (chdb)."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from crisis_radar.clickhouse import LEDGER, discover

ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # sample data: 09:00-12:00 UTC
CRISIS_AT = T0 + timedelta(minutes=90)  # telvana turns at 10:30
BRANDS = ("telvana", "orbitel", "nexa", "crunchly")


def sql_blocks(markdown: str) -> list[str]:
    return [b.strip() for b in re.findall(r"```sql\n(.*?)```", markdown, flags=re.S)]


def _lit(value: Any) -> str:
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, datetime):
        return f"toDateTime('{value:%Y-%m-%d %H:%M:%S}', 'UTC')"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_lit(v) for v in value) + "]"
    if isinstance(value, bool):
        return str(int(value))
    return repr(value)


def insert_sql(table: str, rows: list[dict[str, Any]]) -> str:
    cols = list(rows[0])
    values = ", ".join("(" + ", ".join(_lit(r[c]) for c in cols) + ")" for r in rows)
    return f"INSERT INTO {table} ({', '.join(cols)}) VALUES {values}"


def _posts(rng: random.Random) -> Iterator[dict[str, Any]]:
    for minute in range(180):
        at = T0 + timedelta(minutes=minute)
        for brand in BRANDS:
            crisis = brand == "telvana" and at >= CRISIS_AT
            for i in range(8 if crisis else 2):
                label = "negative" if crisis and i % 4 else rng.choice(["neutral", "positive"])
                cluster = f"{brand}-outage" if crisis and i % 2 else f"{brand}-{minute}-{i}"
                yield {
                    "brand": brand,
                    "created_at": at + timedelta(seconds=7 * i),
                    "post_key": f"simulated:{brand}-{minute}-{i}",
                    "platform": "simulated",
                    "post_id": f"{brand}-{minute}-{i}",
                    "author_id": f"a{rng.randrange(500)}",
                    "author_handle": f"user{i}",
                    "followers": rng.randrange(10, 5000),
                    "text": f"{brand} is down again, no signal {i}" if crisis else f"hi {brand}",
                    # telvana's crisis is half Portuguese (per-language panels and report)
                    "lang": "pt" if crisis and i % 2 else "en",
                    "url": "",
                    "hashtags": [brand],
                    "mentions": [],
                    "likes": i,
                    "reposts": 0,
                    "replies": 0,
                    "quotes": 0,
                    "sentiment_label": label,
                    "sentiment_score": -0.6 if label == "negative" else 0.3,
                    "cluster_id": cluster,
                    "is_duplicate": bool(crisis and i % 2 and minute > 90),
                    "cluster_size": 1,
                    "cluster_authors": 1,
                    "campaign": bool(crisis and i % 2),
                    # a complaint: negative, names @telvana (care queue, response figures)
                    "addressed": bool(crisis and i % 4 == 1),
                    "scored_at": at + timedelta(seconds=60),
                }


REPLIES_UNTIL = CRISIS_AT + timedelta(minutes=60)  # telvana stops answering at 11:30


def _replies(posts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """telvana's official account answers every other complaint 3-10 min later, until it goes
    silent: the rest wait in the care queue."""
    out = []
    for n, p in enumerate(q for q in posts if q["addressed"]):
        at = p["created_at"] + timedelta(minutes=3 + n % 8)
        if n % 2 or at >= REPLIES_UNTIL:
            continue
        out.append({
            "brand": p["brand"], "created_at": at, "post_key": f"simulated:r-{p['post_id']}",
            "platform": "simulated", "post_id": f"r-{p['post_id']}",
            "author_id": "sim:official:telvana", "author_handle": "telvana_care",
            "text": f"@{p['author_handle']} sorry, we are on it", "url": "",
            "reply_to": p["post_id"], "scored_at": at + timedelta(seconds=60),
        })  # fmt: skip
    return out


RESPONSE_FIELDS = ("complaints", "due_15m", "answered_15m", "due_1h", "answered_1h",
                   "responses_1h", "response_median_s", "unanswered_1h", "silent_min")  # fmt: skip


def _response(
    posts: list[dict[str, Any]], replies: list[dict[str, Any]], minutes: Iterable[datetime]
) -> dict[tuple[str, datetime], dict[str, Any]]:
    """The response figures of every (brand, minute), by the worker's own tracker."""
    from detectors.response import ResponseTracker

    trackers: dict[str, ResponseTracker] = {}
    for p in posts:
        if p["addressed"]:
            trackers.setdefault(p["brand"], ResponseTracker()).add(
                p["created_at"], p["post_id"], None, complaint=True
            )
    for r in replies:
        trackers.setdefault(r["brand"], ResponseTracker()).add(
            r["created_at"], r["post_id"], r["reply_to"], reply=True
        )
    out = {}
    for minute in sorted(set(minutes)):
        for brand, tr in trackers.items():
            c = tr.close(minute)
            out[(brand, minute)] = {f: getattr(c, f) for f in RESPONSE_FIELDS}
    return out


def _minutes(posts: list[dict[str, Any]], replies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    cells: dict[tuple[str, datetime], dict[str, Any]] = {}
    for p in posts:
        minute = p["created_at"].replace(second=0)
        c = cells.setdefault(
            (p["brand"], minute),
            {
                "brand": p["brand"],
                "minute": minute,
                "posts": 0,
                "unique_posts": 0,
                "unique_authors": 0,
                "negative": 0,
                "neutral": 0,
                "positive": 0,
                "sentiment_sum": 0.0,
                "reach": 0,
                "duplicates": 0,
                "campaign_posts": 0,
                "new_clusters": 0,
                "late_posts": 0,
                "version": 1,
            },
        )
        c["posts"] += 1
        c["unique_posts"] += not p["is_duplicate"]
        c["unique_authors"] += 1
        c[p["sentiment_label"]] += 1
        c["sentiment_sum"] += p["sentiment_score"]
        c["reach"] += p["followers"]
        c["duplicates"] += p["is_duplicate"]
        c["campaign_posts"] += p["campaign"]
    response = _response(posts, replies, (m for _, m in cells))
    for key, c in cells.items():
        c.update(response.get(key, dict.fromkeys(RESPONSE_FIELDS, 0)))
        c["brand_replies"] = 0
    for r in replies:
        cells[(r["brand"], r["created_at"].replace(second=0))]["brand_replies"] += 1
    rows = list(cells.values())
    # one minute amended by late posts: version 2 must replace version 1, never add to it
    first = dict(rows[0])
    rows[0] = {
        **first,
        "posts": first["posts"] + 1,
        "neutral": first["neutral"] + 1,
        "late_posts": 1,
        "version": 2,
    }
    return [first, *rows]


def _alerts() -> list[dict[str, Any]]:
    signals = json.dumps([{"signal": "volume", "observed": 8, "expected": 2, "score": 0.9}])
    out = []
    for offset, sev, label in ((2, 2, "warning"), (4, 3, "crisis")):
        out.append(
            {
                "brand": "telvana",
                "minute": CRISIS_AT + timedelta(minutes=offset),
                "alert_id": f"telvana-{offset}-{sev}",
                "severity": sev,
                "severity_label": label,
                "previous_severity": sev - 1,
                "score": 0.5 + 0.15 * sev,
                "summary": f"telvana {label}: volume x4, negative share 75%",
                "signals": signals,
                "top_posts": "[]",
                "top_terms": ["outage", "signal"],
                "top_clusters": "[]",
                "created_at": CRISIS_AT + timedelta(minutes=offset, seconds=5),
            }
        )
    return out


def _expected_events() -> list[dict[str, Any]]:
    """A launch announced across telvana's turn (issue 18), and one of another brand."""
    return [
        {"event_id": "e1", "brand": "telvana", "starts": CRISIS_AT - timedelta(minutes=30),
         "ends": CRISIS_AT + timedelta(hours=1), "kind": "launch", "note": "Telvana One",
         "given_by": "ann", "given_at": T0},
        {"event_id": "e2", "brand": "orbitel", "starts": T0 - timedelta(hours=1),
         "ends": T0 + timedelta(minutes=30), "kind": "tv_spot", "note": "",
         "given_by": "bob", "given_at": T0},
    ]  # fmt: skip


def _dead_letters() -> list[dict[str, Any]]:
    return [
        {
            "received_at": T0 + timedelta(minutes=m),
            "reason": "bad_json",
            "letter_id": f"l{m}",
            "source": "posts.raw",
            "error": "Expecting value",
            "original": "e30=",
        }
        for m in range(5)
    ]


def seed_statements() -> list[str]:
    """Migrations (recorded in the ledger, as `crisis-radar migrate` does: commands check it)
    then sample data, as SQL text runnable on both servers."""
    migrations = discover()
    stmts = [s for m in migrations for s in m.statements()]
    stmts.append(LEDGER)
    stmts.append(insert_sql("schema_migrations", [
        {"version": m.version, "name": m.name, "checksum": m.checksum, "applied_at": T0}
        for m in migrations
    ]))  # fmt: skip
    return stmts + seed_data_statements()


def sample_posts() -> list[dict[str, Any]]:
    """The sample posts (one dict a row, ``posts`` column names)."""
    return list(_posts(random.Random(7)))


def seed_data_statements() -> list[str]:
    """Only the sample data's INSERTs (for a schema made otherwise, e.g. on a cluster)."""
    stmts: list[str] = []
    posts = sample_posts()
    for start in range(0, len(posts), 1000):
        stmts.append(insert_sql("posts", posts[start : start + 1000]))
    # a redelivered batch: FINAL and uniq-based rollups must not double count it
    stmts.append(insert_sql("posts", posts[:50]))
    replies = _replies(posts)
    stmts.append(insert_sql("brand_replies", replies))
    stmts.append(insert_sql("brand_minutes", _minutes(posts, replies)))
    stmts.append(insert_sql("alerts", _alerts()))
    stmts.append(insert_sql("dead_letters", _dead_letters()))
    stmts.append(insert_sql("expected_events", _expected_events()))
    return stmts


class Chdb:
    """Current ClickHouse in-process, one database, same call shape as clickhouse_driver."""

    def __init__(self) -> None:
        from chdb import session

        self._s = session.Session()
        self._s.query("CREATE DATABASE IF NOT EXISTS crisis_radar")
        self._s.query("USE crisis_radar")

    def execute(self, sql: str) -> list[tuple[Any, ...]]:
        out = self._s.query(sql, "JSONCompact")
        text = out.bytes().decode() if hasattr(out, "bytes") else str(out)
        return [tuple(r) for r in json.loads(text)["data"]] if text.strip() else []

    def run_all(self, statements: Iterable[str]) -> None:
        for stmt in statements:
            self._s.query(stmt)

    def close(self) -> None:
        self._s.close()


class ClickHouseHttp:
    """The real server through its HTTP interface: runs any SQL text (the native driver cannot
    send an INSERT with inline VALUES), results as JSONCompact rows."""

    def __init__(
        self, host: str, port: int, database: str, user: str = "default", password: str = ""
    ) -> None:
        self.host, self.port, self.database = host, port, database
        self.url = f"http://{host}:{port}/"
        self.params = {"database": database, "user": user, "password": password}

    def as_user(self, user: str, password: str = "") -> ClickHouseHttp:
        return ClickHouseHttp(self.host, self.port, self.database, user, password)

    def execute(self, sql: str) -> list[tuple[Any, ...]]:
        is_select = re.match(r"\s*(SELECT|SHOW|DESCRIBE)\b", sql, flags=re.I) is not None
        text = self.raw(sql + ("\nFORMAT JSONCompact" if is_select else ""))
        return [tuple(r) for r in json.loads(text)["data"]] if is_select else []

    def raw(self, sql: str) -> str:
        import urllib.error
        import urllib.parse
        import urllib.request

        url = self.url + "?" + urllib.parse.urlencode(self.params)
        try:
            with urllib.request.urlopen(url, data=sql.encode(), timeout=60) as resp:
                return str(resp.read().decode())
        except urllib.error.HTTPError as exc:
            raise RuntimeError(exc.read().decode()[:2000]) from None

    def run_all(self, statements: Iterable[str]) -> None:
        for stmt in statements:
            self.raw(stmt)
