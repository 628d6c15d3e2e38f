"""Scenario evaluation: replay simulated posts through the worker's own core and score alerts.

Path: posts -> ``crisis_radar.history.offline.OfflinePipeline`` (the stage objects the worker
runs: partitioned dedup, brand match, sentiment, aligned minute windows, crisis scoring; the
same path as ``backtest``). Labels carried in the simulated posts are never read. Results per
event kind: recall, detection delay (event start -> first warning), false warnings per
brand-day/brand-week, launches that reached crisis.
"""

from __future__ import annotations

import gzip
import json
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from detectors.crisis import CrisisScorer
from schemas.models import BrandMinute, Post, ScoredPost, Severity

Enrich = Callable[[Sequence[Post], datetime], list[ScoredPost]]
GRACE = timedelta(minutes=60)  # alerts this long after an event still belong to it


@dataclass
class Replay:
    """Severity timeline per brand: list of (minute, severity, score); evidence per side.

    ``evidence[brand]``: (minute, attention, negativity), each side's accumulated evidence as a
    fraction of what a warning needs (1.0 = that side alone is at the warning level).
    """

    timeline: dict[str, list[tuple[datetime, Severity, float]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    evidence: dict[str, list[tuple[datetime, float, float]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    minutes: list[BrandMinute] = field(default_factory=list)


def replay_minutes(minutes: Iterable[BrandMinute], scorer: CrisisScorer | None = None) -> Replay:
    scorer = scorer or CrisisScorer()
    rep = Replay()
    for m in minutes:
        a = scorer.process_one(m)
        if m.version == 1:
            rep.timeline[m.brand].append((m.minute, a.severity, a.score))
            rep.evidence[m.brand].append(
                (m.minute, a.evidence.get("attention", 0.0), a.evidence.get("negativity", 0.0))
            )
    return rep


def replay_posts(
    lines: Iterable[bytes],
    settings: Any,
    batch: int = 2000,
    progress: Callable[[int], object] | None = None,
) -> Replay:
    """Canonical post lines (in event-time order, as ``simulate`` writes them) through the
    worker's own stages (``crisis_radar.history.offline.OfflinePipeline``: partitioned dedup,
    brand match, sentiment, aligned minute windows, crisis scoring), as ``backtest`` runs."""
    from crisis_radar.history.offline import OfflinePipeline, Step

    pipe = OfflinePipeline.from_settings(settings)
    rep = Replay()

    def take(step: Step) -> None:
        rep.minutes += step.minutes
        for a in step.assessed:
            m = a.minute
            rep.timeline[m.brand].append((m.minute, a.severity, a.score))
            rep.evidence[m.brand].append((m.minute, a.evidence.get("attention", 0.0),
                                          a.evidence.get("negativity", 0.0)))  # fmt: skip

    buf: list[tuple[bytes, bytes]] = []
    for line in lines:
        if line.strip():
            d = json.loads(line)
            buf.append((f"{d.get('platform')}:{d.get('post_id')}".encode(), line))
        if len(buf) >= batch:
            take(pipe.feed(buf))
            if progress is not None:
                progress(len(buf))
            buf = []
    if buf:
        take(pipe.feed(buf))
        if progress is not None:
            progress(len(buf))
    take(pipe.finish())
    return rep


def read_lines(path: Path) -> Iterator[bytes]:
    opener: Any = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        yield from fh


def _parse(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def evaluate(rep: Replay, truth: dict[str, Any]) -> dict[str, Any]:
    """Per-kind recall/delay, false warnings per brand-day/week, launches reaching crisis."""
    events = truth["events"]
    brands = list(truth.get("brands") or rep.timeline)
    windows: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    for e in events:
        s, end = _parse(e["start"]), _parse(e["end"])
        windows[e["brand"]].append((s - timedelta(minutes=5), end + GRACE))
    by_kind: dict[str, dict[str, Any]] = {}
    crisis_kinds = set(truth.get("crisis_kinds", []))
    per_event: list[dict[str, Any]] = []
    for e in events:
        s, end = _parse(e["start"]), _parse(e["end"]) + GRACE
        lo = s - timedelta(minutes=5)
        tl = [x for x in rep.timeline.get(e["brand"], []) if lo <= x[0] <= end]
        first_warn = next((m for m, sev, _ in tl if sev >= Severity.WARNING), None)
        peak = max((sev for _, sev, _ in tl), default=Severity.NONE)
        k = by_kind.setdefault(
            e["kind"],
            {"events": 0, "detected": 0, "delays": [], "crisis_alerts": 0, "watch_or_more": 0},
        )
        k["events"] += 1
        k["detected"] += first_warn is not None
        k["crisis_alerts"] += peak >= Severity.CRISIS
        k["watch_or_more"] += peak >= Severity.WATCH
        delay = None if first_warn is None else max(0.0, (first_warn - s).total_seconds() / 60)
        if delay is not None:
            k["delays"].append(delay)
        ev = [x for x in rep.evidence.get(e["brand"], []) if lo <= x[0] <= end]
        per_event.append(
            {
                "kind": e["kind"],
                "brand": e["brand"],
                "start": e["start"],
                "delay_min": delay,
                "peak": peak.label,
                # which side of the evidence reached its warning level first, and when
                "attention_min": _first_min(ev, 1, s),
                "negativity_min": _first_min(ev, 2, s),
            }
        )
    false_warn = 0
    span_min = 0
    for b in brands:
        tl = rep.timeline.get(b, [])
        span_min = max(span_min, len(tl))
        prev = Severity.NONE
        for m, sev, _ in tl:
            if sev >= Severity.WARNING > prev and not any(a <= m <= z for a, z in windows[b]):
                false_warn += 1
            prev = sev
    brand_days = max(len(brands) * span_min / 1440.0, 1e-9)
    kinds = {}
    delays: list[float] = []
    for kind, k in sorted(by_kind.items()):
        d = k.pop("delays")
        if kind in crisis_kinds:
            delays += d
        kinds[kind] = {
            **k,
            "recall": k["detected"] / k["events"],
            "median_delay_min": statistics.median(d) if d else None,
            "max_delay_min": max(d) if d else None,
        }
    det = [k for n, k in kinds.items() if n in crisis_kinds]

    return {
        "enrichment": "the worker's core (OfflinePipeline)",
        "brands": len(brands),
        "brand_days": brand_days,
        "brand_weeks": brand_days / 7,
        "false_warnings": false_warn,
        "false_warnings_per_brand_day": false_warn / brand_days,
        "false_warnings_per_brand_week": 7 * false_warn / brand_days,
        "crisis_recall": (
            sum(k["detected"] for k in det) / sum(k["events"] for k in det) if det else None
        ),
        "launch_crisis_alerts": kinds.get("launch_spike", {}).get("crisis_alerts", 0),
        "median_delay_min": statistics.median(delays) if delays else None,
        "kinds": kinds,
        "signals": _signal_breakdown(per_event, crisis_kinds),
        "events": per_event,
    }


def _first_min(ev: list[tuple[datetime, float, float]], side: int, start: datetime) -> float | None:
    """Minutes from ``start`` to the first minute this evidence side reached 1 (None: never)."""
    m = next((x[0] for x in ev if (x[1] if side == 1 else x[2]) >= 1.0), None)
    return None if m is None else (m - start).total_seconds() / 60.0


def _signal_breakdown(
    per_event: list[dict[str, Any]], crisis_kinds: set[str]
) -> dict[str, dict[str, Any]]:
    """Per kind: median minute each side reached its warning level, and which side was last
    (the one that set the delay)."""
    out: dict[str, dict[str, Any]] = {}
    for kind in sorted({e["kind"] for e in per_event}):
        evs = [e for e in per_event if e["kind"] == kind]
        row: dict[str, Any] = {"crisis_kind": kind in crisis_kinds}
        for side in ("attention", "negativity"):
            xs = [e[f"{side}_min"] for e in evs if e[f"{side}_min"] is not None]
            row[f"{side}_median_min"] = statistics.median(xs) if xs else None
        last = {"attention": 0, "negativity": 0, "tie": 0}
        for e in evs:
            a, n = e["attention_min"], e["negativity_min"]
            if a is None or n is None:
                continue
            last["tie" if a == n else "attention" if a > n else "negativity"] += 1
        row["last_side"] = last
        out[kind] = row
    return out


def format_report(res: dict[str, Any]) -> str:
    lines = [
        f"{'kind':<22}{'events':>7}{'recall':>8}{'med delay':>10}{'max delay':>10}"
        f"{'crisis':>8}{'watch+':>8}"
    ]
    for kind, k in res["kinds"].items():
        md = "-" if k["median_delay_min"] is None else f"{k['median_delay_min']:.1f}"
        mx = "-" if k["max_delay_min"] is None else f"{k['max_delay_min']:.0f}"
        lines.append(
            f"{kind:<22}{k['events']:>7}{k['recall']:>8.2f}{md:>10}{mx:>10}"
            f"{k['crisis_alerts']:>8}{k['watch_or_more']:>8}"
        )
    lines.append(
        f"brand-weeks {res['brand_weeks']:.1f}; crisis recall {res['crisis_recall']}; "
        f"median delay {res['median_delay_min']} min; false warnings {res['false_warnings']} "
        f"({res['false_warnings_per_brand_week']:.2f}/brand-week); "
        f"launches with a crisis alert {res['launch_crisis_alerts']}"
    )
    sig = res.get("signals") or {}
    for kind, r in sig.items():
        lines.append(
            f"  {kind:<20} attention at {_fmt(r['attention_median_min'])} min, "
            f"negativity at {_fmt(r['negativity_median_min'])} min (median); "
            f"last to cross: {r['last_side']}"
        )
    if res.get("enrichment"):
        lines.append(f"enrichment: {res['enrichment']}")
    return "\n".join(lines)


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.0f}"


def minutes_to_jsonl(minutes: Sequence[BrandMinute], path: Path) -> None:
    with path.open("w") as fh:
        for m in minutes:
            fh.write(m.model_dump_json() + "\n")


def load_truth(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data
