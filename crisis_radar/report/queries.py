"""ClickHouse reads of the report: every value is a query parameter, never formatted into SQL.

Runs on ClickHouse 18.16 and current releases: no CTEs, window functions, JSONExtract or
toStartOfInterval; ReplacingMergeTree tables are read with FINAL; aggregate aliases never reuse
a column name (18.16 resolves aliases inside aggregates).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from crisis_radar.report.timeline import Alert, Complaint, Minute

ALERT_COLS = (
    "alert_id",
    "brand",
    "minute",
    "severity",
    "severity_label",
    "previous_severity",
    "score",
    "summary",
    "signals",
    "top_posts",
    "top_terms",
    "top_clusters",
    "created_at",
)
_WINDOW = (
    "brand = %(brand)s AND {col} >= toDateTime(%(start)s, 'UTC') "
    "AND {col} < toDateTime(%(end)s, 'UTC')"
)


def utc(t: datetime) -> datetime:
    """Aware UTC (the driver returns naive or aware datetimes depending on the column)."""
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _ts(t: datetime) -> str:
    return utc(t).strftime("%Y-%m-%d %H:%M:%S")


def _window(brand: str, start: datetime, end: datetime) -> dict[str, Any]:
    return {"brand": brand, "start": _ts(start), "end": _ts(end)}


def _alert(row: tuple[Any, ...]) -> dict[str, Any]:
    a = dict(zip(ALERT_COLS, row, strict=True))
    a["minute"], a["created_at"] = utc(a["minute"]), utc(a["created_at"])
    return a


def get_alert(client: Any, alert_id: str) -> dict[str, Any] | None:
    """One alert by id, or the newest alert of any brand for ``alert_id == "latest"``."""
    cols = ", ".join(ALERT_COLS)
    if alert_id == "latest":
        rows = client.execute(
            f"SELECT {cols} FROM alerts FINAL ORDER BY created_at DESC, severity DESC LIMIT 1"
        )
    else:
        rows = client.execute(
            f"SELECT {cols} FROM alerts FINAL WHERE alert_id = %(id)s LIMIT 1", {"id": alert_id}
        )
    return _alert(rows[0]) if rows else None


def brands_with_minutes(client: Any) -> list[str]:
    """Every brand with at least one stored minute, sorted."""
    rows = client.execute("SELECT brand FROM brand_minutes GROUP BY brand ORDER BY brand")
    return [r[0] for r in rows]


def alerts(client: Any, brand: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    rows = client.execute(
        f"SELECT {', '.join(ALERT_COLS)} FROM alerts FINAL WHERE "
        + _WINDOW.format(col="minute")
        + " ORDER BY minute, severity",
        _window(brand, start, end),
    )
    return [_alert(r) for r in rows]


def as_alerts(rows: list[dict[str, Any]]) -> list[Alert]:
    return [Alert(r["minute"], int(r["severity"]), r["created_at"]) for r in rows]


def minutes(
    client: Any, brands: list[str], start: datetime, end: datetime
) -> dict[str, list[Minute]]:
    """brand_minutes FINAL of several brands (the brand and its competitors)."""
    out: dict[str, list[Minute]] = {b: [] for b in brands}
    if not brands:
        return out
    rows = client.execute(
        "SELECT brand, minute, posts, negative, sentiment_sum, unknown FROM brand_minutes FINAL "
        "WHERE brand IN %(brands)s AND minute >= toDateTime(%(start)s, 'UTC') "
        "AND minute < toDateTime(%(end)s, 'UTC') ORDER BY brand, minute",
        {"brands": tuple(brands), "start": _ts(start), "end": _ts(end)},
    )
    for brand, minute, posts, neg, sent, unknown in rows:
        out[brand].append(Minute(utc(minute), int(posts), int(neg), float(sent), int(unknown)))
    return out


@dataclass(frozen=True)
class TopPost:
    created_at: datetime
    platform: str
    author: str
    followers: int
    engagement: int
    sentiment: str
    text: str
    url: str


def top_posts(
    client: Any, brand: str, start: datetime, end: datetime, n: int = 10
) -> list[TopPost]:
    """Posts with the largest reach (author followers), engagement breaking ties."""
    rows = client.execute(
        "SELECT created_at, platform, author_handle, followers, likes + reposts + replies + quotes,"
        " sentiment_label, text, url FROM posts FINAL WHERE "
        + _WINDOW.format(col="created_at")
        + " ORDER BY followers DESC, likes + reposts DESC, post_key LIMIT %(n)s",
        _window(brand, start, end) | {"n": n},
    )
    return [TopPost(utc(r[0]), r[1], r[2], int(r[3]), int(r[4]), r[5], r[6], r[7]) for r in rows]


def texts(
    client: Any, brand: str, start: datetime, end: datetime, limit: int = 20_000
) -> list[tuple[str, str]]:
    """(text, language) of original (non-duplicate) posts, a bounded sample for term counting;
    language '' for rows stored before languages were identified."""
    rows = client.execute(
        "SELECT text, lang FROM posts FINAL WHERE "
        + _WINDOW.format(col="created_at")
        + " AND is_duplicate = 0 LIMIT %(n)s",
        _window(brand, start, end) | {"n": limit},
    )
    return [(r[0], r[1]) for r in rows]


@dataclass(frozen=True)
class Cluster:
    cluster_id: str
    posts: int
    authors: int
    campaign: bool
    first_seen: datetime
    reach: int
    example: str


def clusters(client: Any, brand: str, start: datetime, end: datetime, n: int = 10) -> list[Cluster]:
    """Largest duplicate clusters in the window with their distinct authors and campaign flag."""
    rows = client.execute(
        "SELECT cluster_id, count() AS n_posts, uniqExact(author_id) AS n_authors, "
        "max(campaign) AS is_campaign, min(created_at) AS first_seen, sum(followers) AS "
        "total_reach, any(text) AS example FROM posts FINAL WHERE "
        + _WINDOW.format(col="created_at")
        + " AND cluster_id != '' GROUP BY cluster_id HAVING n_posts > 1 "
        "ORDER BY n_posts DESC, cluster_id LIMIT %(n)s",
        _window(brand, start, end) | {"n": n},
    )
    return [
        Cluster(r[0], int(r[1]), int(r[2]), bool(r[3]), utc(r[4]), int(r[5]), r[6]) for r in rows
    ]


@dataclass(frozen=True)
class PlatformRow:
    platform: str
    posts: int
    negative: int
    mean_sentiment: float


def platforms(client: Any, brand: str, start: datetime, end: datetime) -> list[PlatformRow]:
    rows = client.execute(
        "SELECT platform, count() AS n_posts, countIf(sentiment_label = 'negative') AS n_neg, "
        "avg(sentiment_score) AS mean_score FROM posts FINAL WHERE "
        + _WINDOW.format(col="created_at")
        + " GROUP BY platform ORDER BY n_posts DESC, platform",
        _window(brand, start, end),
    )
    return [PlatformRow(r[0], int(r[1]), int(r[2]), float(r[3])) for r in rows]


@dataclass
class LanguageRow:
    lang: str  # ISO 639-1, or "und" (undetermined / stored before languages were identified)
    posts: int
    negative: int
    unknown: int = 0  # no sentiment model for the language: no evidence

    @property
    def negative_share(self) -> float | None:
        """Over the posts with sentiment evidence; None when there are none."""
        n = self.posts - self.unknown
        return self.negative / n if n > 0 else None


def languages(client: Any, brand: str, start: datetime, end: datetime) -> list[LanguageRow]:
    """Posts and negative posts per language (brand_lang_minutes, exact: posts FINAL)."""
    rows = client.execute(
        "SELECT lang, sum(posts) AS n_posts, sum(negative) AS n_neg, sum(unknown) AS n_unk "
        "FROM brand_lang_minutes "
        "WHERE " + _WINDOW.format(col="minute") + " GROUP BY lang ORDER BY n_posts DESC, lang",
        _window(brand, start, end),
    )
    return [LanguageRow(str(r[0]), int(r[1]), int(r[2]), int(r[3])) for r in rows]


def complaints(client: Any, brand: str, start: datetime, end: datetime) -> list[Complaint]:
    """Complaints to the brand posted in the window (as the care queue defines them: negative
    original crowd posts that address it or reply to one of its posts) with the time of the
    brand's first reply to each (any time, up to now). n_replies tells a join miss (18.16 has no
    join_use_nulls: a missing first reply reads as 1970)."""
    rows = client.execute(
        "SELECT created_at, first_reply_at, n_replies FROM ("
        "SELECT platform, post_id AS complaint_id, created_at FROM posts FINAL WHERE "
        + _WINDOW.format(col="created_at")
        + " AND sentiment_label = 'negative' AND repost_of = '' AND (addressed = 1 OR "
        "(platform, reply_to) IN (SELECT platform, post_id FROM brand_replies "
        "WHERE brand = %(brand)s))) AS complaint ANY LEFT JOIN ("
        "SELECT platform, reply_to AS complaint_id, min(created_at) AS first_reply_at, "
        "count() AS n_replies FROM brand_replies FINAL WHERE brand = %(brand)s "
        "AND reply_to != '' GROUP BY platform, complaint_id"
        ") AS answer USING platform, complaint_id ORDER BY created_at, complaint_id",
        _window(brand, start, end),
    )
    return [Complaint(utc(r[0]), utc(r[1]) if int(r[2]) else None) for r in rows]


def reply_minutes(
    client: Any, brand: str, start: datetime, end: datetime
) -> list[tuple[datetime, int]]:
    """(minute, posts of the brand's official accounts) in the window (brand_replies)."""
    rows = client.execute(
        "SELECT toStartOfMinute(created_at) AS reply_minute, count() AS n_replies "
        "FROM brand_replies FINAL WHERE "
        + _WINDOW.format(col="created_at")
        + " GROUP BY reply_minute ORDER BY reply_minute",
        _window(brand, start, end),
    )
    return [(utc(r[0]), int(r[1])) for r in rows]
