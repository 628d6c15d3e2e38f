"""The post-crisis report of a backtest's worst alert, from its output files (no ClickHouse).

A ``report.build.Source`` over what a backtest wrote: the minutes of the brand and its
competitors in the report window (read back from ``minutes.jsonl``, last version of each
minute, as ``brand_minutes FINAL``), its alerts in the window (``alerts.jsonl``), and for posts
the bounded sample the alerts carry (their top posts, terms and duplicate clusters): a
backtest keeps no posts, so the per-platform table and the response section stay empty and the
top posts are timed at the minute of the alert that named them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from crisis_radar.history.backtest import read_jsonl
from crisis_radar.report.build import build_from, write_files
from crisis_radar.report.queries import Cluster, LanguageRow, PlatformRow, TopPost
from crisis_radar.report.timeline import Complaint, Minute, Term
from schemas.models import CrisisAlert

BEFORE_MIN, AFTER_MIN = 180, 240  # the report window around the alert (crisis-radar report)


def alert_row(a: CrisisAlert) -> dict[str, Any]:
    """An alert as ``report.queries`` returns rows of the alerts table."""
    row = a.model_dump()
    row["severity"], row["previous_severity"] = int(a.severity), int(a.previous_severity)
    row["severity_label"] = a.severity.label
    return row


def _label(score: float) -> str:
    return "negative" if score < -0.05 else "positive" if score > 0.05 else "neutral"


class OutputSource:
    """``Source`` over a backtest's ``minutes.jsonl`` / ``alerts.jsonl`` for one window."""

    def __init__(self, out: Path, alert: CrisisAlert) -> None:
        self.out = out
        self.alert = alert
        self._alerts: list[CrisisAlert] | None = None

    def _brand_alerts(self, brand: str, start: datetime, end: datetime) -> list[CrisisAlert]:
        if self._alerts is None:  # the alerts of the report's brand: a handful per week
            rows = read_jsonl(self.out / "alerts.jsonl")
            self._alerts = [CrisisAlert.model_validate(r) for r in rows if r["brand"] == brand]
        return [a for a in self._alerts if a.brand == brand and start <= a.minute < end]

    def get_alert(self, alert_id: str) -> dict[str, Any] | None:
        return alert_row(self.alert) if alert_id == self.alert.alert_id else None

    def minutes(self, brands: list[str], start: datetime, end: datetime
                ) -> dict[str, list[Minute]]:  # fmt: skip
        last: dict[tuple[str, str], dict[str, Any]] = {}
        wanted = set(brands)
        for row in read_jsonl(self.out / "minutes.jsonl"):
            if row["brand"] in wanted:
                t = datetime.fromisoformat(row["minute"].replace("Z", "+00:00"))
                if start <= t < end:
                    row["minute"] = t
                    last[(row["brand"], t.isoformat())] = row  # later versions replace
        out: dict[str, list[Minute]] = {b: [] for b in brands}
        for (brand, _), r in sorted(last.items()):
            out[brand].append(Minute(r["minute"], r["posts"], r["negative"], r["sentiment_sum"],
                                     r.get("unknown", 0)))  # fmt: skip
        return out

    def alerts(self, brand: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
        return [alert_row(a) for a in self._brand_alerts(brand, start, end)]

    def _window_alerts(self, brand: str, start: datetime, end: datetime) -> list[CrisisAlert]:
        return self._brand_alerts(brand, start, end) or [self.alert]

    def top_posts(self, brand: str, start: datetime, end: datetime) -> list[TopPost]:
        seen: dict[str, TopPost] = {}
        for a in self._window_alerts(brand, start, end):
            for p in a.top_posts:
                seen.setdefault(p.post_key, TopPost(
                    a.minute, p.post_key.split(":", 1)[0], p.author, p.reach, 0,
                    _label(p.sentiment_score), p.text, ""))  # fmt: skip
        return sorted(seen.values(), key=lambda p: (-p.followers, p.created_at, p.text))[:10]

    def terms(self, brand: str, start: datetime, during_start: datetime,
              during_end: datetime) -> list[Term]:  # fmt: skip
        """The alerts' top terms; ``during``: how many of the alerts' top posts carry it."""
        alerts = self._window_alerts(brand, start, during_end)
        texts = [p.text.lower() for a in alerts for p in a.top_posts]
        names: dict[str, None] = {}
        for a in alerts:
            names.update(dict.fromkeys(a.top_terms))
        terms = [Term(t, sum(t.lower() in x for x in texts), 0) for t in names]
        return sorted(terms, key=lambda t: -t.during)[:15]  # stable: the alerts' order next

    def clusters(self, brand: str, start: datetime, end: datetime) -> list[Cluster]:
        best: dict[str, Cluster] = {}
        for a in self._window_alerts(brand, start, end):
            for c in a.top_clusters:
                old = best.get(c.cluster_id)
                if old is None or c.posts > old.posts:
                    best[c.cluster_id] = Cluster(
                        c.cluster_id,
                        c.posts,
                        c.distinct_authors,
                        c.campaign,
                        a.minute,
                        0,
                        c.example_text,
                    )
        return sorted(best.values(), key=lambda c: (-c.posts, c.cluster_id))[:10]

    def platforms(self, brand: str, start: datetime, end: datetime) -> list[PlatformRow]:
        return []  # posts are not kept

    def languages(self, brand: str, start: datetime, end: datetime) -> list[LanguageRow]:
        return []  # posts are not kept

    def complaints(self, brand: str, start: datetime, end: datetime) -> list[Complaint]:
        return []  # posts are not kept: no response section

    def reply_minutes(self, brand: str, start: datetime, end: datetime
                      ) -> list[tuple[datetime, int]]:  # fmt: skip
        return []


def write_backtest_report(
    out: Path, alert: CrisisAlert, watchlist: Path, progress: Callable[[str], object]
) -> Path:
    """``out/report/report.{html,md}`` (+ charts) for ``alert``; the HTML path."""
    start = alert.minute - timedelta(minutes=BEFORE_MIN)
    end = alert.minute + timedelta(minutes=AFTER_MIN)
    report = build_from(OutputSource(out, alert), alert.brand, start, end, alert.alert_id,
                        watchlist=watchlist, progress=progress)  # fmt: skip
    return write_files(report, out / "report", progress)
