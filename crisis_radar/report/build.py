"""Collect a report from a ``Source`` (ClickHouse queries, or a backtest's rows in memory) into
numbers (timeline) and charts, then write it."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from crisis_radar.report import charts, queries
from crisis_radar.report import timeline as tlm
from crisis_radar.report.queries import Cluster, LanguageRow, PlatformRow, TopPost, utc
from crisis_radar.report.timeline import Complaint, Minute, Phase, ResponsePhase, Term, Timeline

Progress = Callable[[str], object]


def _stderr(msg: str) -> None:
    print(f"report: {msg}", file=sys.stderr)


@dataclass
class Competitor:
    brand: str
    before_posts: int
    before_negative_share: float
    during_posts: int
    during_negative_share: float


@dataclass
class Report:
    brand: str
    start: datetime
    end: datetime
    alert: dict[str, Any] | None
    minutes: list[Minute]
    alerts: list[dict[str, Any]]
    timeline: Timeline
    phases: list[Phase]
    top_posts: list[TopPost]
    terms: list[Term]
    clusters: list[Cluster]
    competitors: list[Competitor]
    platforms: list[PlatformRow]
    charts: dict[str, bytes] = field(default_factory=dict)  # file stem -> PNG
    languages: list[LanguageRow] = field(default_factory=list)
    response: list[ResponsePhase] = field(default_factory=list)  # before / during / after


def competitor_ids(brand: str, watchlist: Path | None) -> list[str]:
    """Brands of the same watchlist ``group`` (plain YAML, no detector import)."""
    from crisis_radar.simulate.watchlist import load_brands

    if watchlist is None:
        from crisis_radar.settings import get_settings

        watchlist = get_settings().watchlist_path
    try:
        brands = load_brands(watchlist)
    except ValueError:
        return []
    group = next((b.group for b in brands if b.id == brand), "")
    return [b.id for b in brands if group and b.group == group and b.id != brand]


def _competitor(brand: str, ms: list[Minute], tl: Timeline) -> Competitor:
    ph = tlm.phases(ms, tl)
    return Competitor(brand, ph[0].posts, ph[0].negative_share, ph[1].posts, ph[1].negative_share)


class Source(Protocol):
    """Where a report's rows come from: ClickHouse (``ClickHouseSource``) or, for an offline
    backtest, what the run kept in memory (``crisis_radar.history.backtest``)."""

    def get_alert(self, alert_id: str) -> dict[str, Any] | None: ...
    def minutes(self, brands: list[str], start: datetime, end: datetime
                ) -> dict[str, list[Minute]]: ...  # fmt: skip
    def alerts(self, brand: str, start: datetime, end: datetime) -> list[dict[str, Any]]: ...
    def top_posts(self, brand: str, start: datetime, end: datetime) -> list[TopPost]: ...
    def terms(self, brand: str, start: datetime, during_start: datetime,
              during_end: datetime) -> list[Term]: ...  # fmt: skip
    def clusters(self, brand: str, start: datetime, end: datetime) -> list[Cluster]: ...
    def platforms(self, brand: str, start: datetime, end: datetime) -> list[PlatformRow]: ...
    def languages(self, brand: str, start: datetime, end: datetime) -> list[LanguageRow]: ...
    def complaints(self, brand: str, start: datetime, end: datetime) -> list[Complaint]: ...
    def reply_minutes(self, brand: str, start: datetime, end: datetime
                      ) -> list[tuple[datetime, int]]: ...  # fmt: skip


class ClickHouseSource:
    """``Source`` over a clickhouse-driver Client whose database holds the tables."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def get_alert(self, alert_id: str) -> dict[str, Any] | None:
        return queries.get_alert(self.client, alert_id)

    def minutes(self, brands: list[str], start: datetime, end: datetime
                ) -> dict[str, list[Minute]]:  # fmt: skip
        return queries.minutes(self.client, brands, start, end)

    def alerts(self, brand: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
        return queries.alerts(self.client, brand, start, end)

    def top_posts(self, brand: str, start: datetime, end: datetime) -> list[TopPost]:
        return queries.top_posts(self.client, brand, start, end)

    def terms(self, brand: str, start: datetime, during_start: datetime,
              during_end: datetime) -> list[Term]:  # fmt: skip
        during = queries.texts(self.client, brand, during_start, during_end)
        before = queries.texts(self.client, brand, start, during_start)
        return tlm.top_terms(during, before, brand_words=[brand])

    def clusters(self, brand: str, start: datetime, end: datetime) -> list[Cluster]:
        return queries.clusters(self.client, brand, start, end)

    def platforms(self, brand: str, start: datetime, end: datetime) -> list[PlatformRow]:
        return queries.platforms(self.client, brand, start, end)

    def languages(self, brand: str, start: datetime, end: datetime) -> list[LanguageRow]:
        return queries.languages(self.client, brand, start, end)

    def complaints(self, brand: str, start: datetime, end: datetime) -> list[Complaint]:
        return queries.complaints(self.client, brand, start, end)

    def reply_minutes(self, brand: str, start: datetime, end: datetime
                      ) -> list[tuple[datetime, int]]:  # fmt: skip
        return queries.reply_minutes(self.client, brand, start, end)


def build_report(
    client: Any,
    brand: str,
    start: datetime,
    end: datetime,
    alert_id: str | None = None,
    *,
    watchlist: Path | None = None,
    recover_minutes: int = 10,
    progress: Progress = _stderr,
) -> Report:
    """The report of ``brand`` over [start, end) from ClickHouse (``client``)."""
    return build_from(
        ClickHouseSource(client),
        brand,
        start,
        end,
        alert_id,
        watchlist=watchlist,
        recover_minutes=recover_minutes,
        progress=progress,
    )


def build_from(
    source: Source,
    brand: str,
    start: datetime,
    end: datetime,
    alert_id: str | None = None,
    *,
    watchlist: Path | None = None,
    recover_minutes: int = 10,
    progress: Progress = _stderr,
) -> Report:
    start, end = utc(start).replace(second=0, microsecond=0), utc(end)
    alert = source.get_alert(alert_id) if alert_id else None
    progress("reading minutes and alerts")
    rivals = competitor_ids(brand, watchlist)
    series = source.minutes([brand, *rivals], start, end)
    ms = tlm.fill_gaps(series[brand], start, end)
    alert_rows = source.alerts(brand, start, end)
    tl = tlm.compute_timeline(ms, queries.as_alerts(alert_rows), recover_minutes=recover_minutes)
    if alert and alert["severity"] >= tlm.CRISIS and tl.page is None:
        tl.page = tlm.page_time(tlm.Alert(alert["minute"], alert["severity"], alert["created_at"]))
    ph = tlm.phases(ms, tl)
    progress("reading posts: top posts, terms, clusters, platforms")
    during_start = tl.first_anomalous or start
    during_end = tl.recovery or end
    report = Report(
        brand=brand,
        start=start,
        end=end,
        alert=alert,
        minutes=ms,
        alerts=alert_rows,
        timeline=tl,
        phases=ph,
        top_posts=source.top_posts(brand, during_start, during_end),
        terms=source.terms(brand, start, during_start, during_end),
        clusters=source.clusters(brand, during_start, during_end),
        competitors=[_competitor(b, tlm.fill_gaps(series[b], start, end), tl) for b in rivals],
        platforms=source.platforms(brand, start, end),
        languages=source.languages(brand, start, end),
    )
    progress("reading complaints and brand replies")
    said, replies = source.complaints(brand, start, end), source.reply_minutes(brand, start, end)
    if said or replies:  # a brand without official accounts has no response section
        report.response = tlm.response_phases(said, replies, tl)
    progress("drawing charts")
    report.charts["volume"] = charts.volume_chart(ms, tl, brand)
    report.charts["sentiment"] = charts.sentiment_chart(ms, tl, brand)
    if rivals:
        report.charts["competitors"] = charts.competitors_chart(
            {b: tlm.fill_gaps(series[b], start, end) for b in [brand, *rivals]}, tl
        )
    if report.platforms:
        p = report.platforms
        report.charts["platforms"] = charts.platform_chart(
            [r.platform for r in p], [r.posts for r in p], [r.negative for r in p]
        )
    return report


def default_out_dir(brand: str, start: datetime) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", brand)
    return Path("out") / f"report-{safe}-{utc(start):%Y%m%dT%H%M}"


def write_report(
    client: Any,
    database: str,
    brand: str,
    start: datetime,
    end: datetime,
    out_dir: Path | str | None = None,
    alert_id: str | None = None,
    *,
    watchlist: Path | None = None,
    progress: Progress = _stderr,
) -> Path:
    """Write ``report.html`` (self-contained) and ``report.md`` (+ PNGs) into ``out_dir``.

    ``client`` is a clickhouse-driver Client; ``database`` names the database holding the
    tables (queries are qualified by switching the client's database, values are parameters).
    Returns the HTML path.
    """
    from crisis_radar.clickhouse import check_identifier

    check_identifier(database)
    client.execute(f"USE {database}")
    report = build_report(
        client, brand, start, end, alert_id, watchlist=watchlist, progress=progress
    )
    out = Path(out_dir) if out_dir is not None else default_out_dir(brand, start)
    return write_files(report, out, progress)


def write_files(report: Report, out: Path, progress: Progress = _stderr) -> Path:
    """``report.html``, ``report.md`` and the chart PNGs into ``out``; the HTML path."""
    from crisis_radar.report import render

    out.mkdir(parents=True, exist_ok=True)
    for stem, png in report.charts.items():
        (out / f"{stem}.png").write_bytes(png)
    (out / "report.md").write_text(render.markdown(report), encoding="utf-8")
    html = out / "report.html"
    html.write_text(render.html(report), encoding="utf-8")
    progress(f"wrote {html}")
    return html


def window_for_alert(
    alert: dict[str, Any], before_min: int, after_min: int
) -> tuple[datetime, datetime]:
    t = alert["minute"]
    return t - timedelta(minutes=before_min), t + timedelta(minutes=after_min)
