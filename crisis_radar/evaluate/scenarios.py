"""Scenario evaluation: replay simulated posts through the worker's own core and score alerts.

Path: posts -> ``crisis_radar.history.offline.OfflinePipeline`` (the stage objects the worker
runs: partitioned dedup, brand match, sentiment, aligned minute windows, crisis scoring; the
same path as ``backtest``). Labels carried in the simulated posts are never read. Results per
event kind: recall, detection delay (event start -> first warning), false warnings per
brand-day/brand-week, launches that reached crisis.

With an ``Analyst`` (``crisis-radar evaluate scenarios --feedback``), the replay is rerun with
feedback applied as the crisis team would give it (issue 18, docs/feedback.md): every page is
labelled once it is over, ``real`` if it fell in a crisis event of the truth, ``false_alarm``
otherwise, and the label reaches the pipeline from the next batch on.
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
from schemas.feedback import AlertFeedback
from schemas.models import BrandMinute, CrisisAlert, Post, ScoredPost, Severity

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
    volume_detectors: list[str] = field(default_factory=list)  # what scored volume, by class


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


LABEL_LAG = timedelta(minutes=10)  # minute-level replay: a label applies this long after its page


def replay_minutes_feedback(
    minutes: Iterable[BrandMinute], analyst: Analyst | None,
    make_scorer: Callable[[], CrisisScorer] | None = None, lag: timedelta = LABEL_LAG,
) -> Replay:  # fmt: skip
    """The brand minutes of one ``OfflinePipeline`` pass scored again by a ``CrisisScorer``
    (``evaluate scenarios --minutes-only``): minutes of the full replay's crisis stage in
    seconds instead of the posts through every stage again (25-35 min a seed on a loaded box).
    ``analyst``: labels each page once it is over, applied ``lag`` of event time later (the full
    replay applies them from the next batch: a few minutes to an hour later). Without an
    analyst it is the full replay's scoring; with one it reproduced the full runs of seeds 313
    and 314 to the minute, one rush page apart (docs/feedback.md)."""
    from streams.core import teach
    from streams.processing import AlertContext, build_alert

    scorer = (make_scorer or CrisisScorer)()
    rep = Replay()
    pending: list[tuple[datetime, AlertFeedback]] = []
    for m in minutes:
        if m.version != 1:  # amendments: stored, never scored again (CrisisStage.score)
            continue
        while pending and pending[0][0] <= m.minute:
            teach(scorer, pending.pop(0)[1])  # as the worker's crisis stage does
        a = scorer.process_one(m)
        rep.timeline[m.brand].append((m.minute, a.severity, a.score))
        rep.evidence[m.brand].append((m.minute, a.evidence.get("attention", 0.0),
                                      a.evidence.get("negativity", 0.0)))  # fmt: skip
        if analyst is None or not (a.changed and a.severity != a.previous_severity):
            continue
        alert = build_alert(m.brand, m, a, a.previous_severity, AlertContext(),
                            m.minute + timedelta(minutes=1))  # fmt: skip
        label = analyst.see(alert)
        if label is not None:
            pending.append((m.minute + lag, label))
    return rep


def read_minutes(path: Path) -> Iterator[BrandMinute]:
    for line in read_lines(path):
        if line.strip():
            yield BrandMinute.model_validate_json(line)


def pass_minutes(
    lines: Iterable[bytes],
    settings: Any,
    batch: int = 2000,
    progress: Callable[[int], object] | None = None,
) -> list[BrandMinute]:
    """The brand minutes of one ``OfflinePipeline`` pass (what ``replay_posts`` scores)."""
    rep = replay_posts(lines, settings, batch, progress)
    return rep.minutes


class Analyst:
    """The crisis team, from the truth: each page (a brand's alerts from its entry into warning
    until it falls back below) is labelled once it is over, on its highest alert, ``real`` if
    the page began in a crisis event's window of that brand (as ``evaluate`` counts it), else
    ``false_alarm`` (a launch, a bot burst, a competitor's crisis spilling over, nothing).
    The records are those ``crisis-radar feedback alert`` sends (``schemas.feedback``)."""

    def __init__(self, truth: dict[str, Any]) -> None:
        crisis_kinds = set(truth.get("crisis_kinds", []))
        self.crisis: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
        for e in truth["events"]:
            if e["kind"] in crisis_kinds:
                s, end = _parse(e["start"]), _parse(e["end"])
                self.crisis[e["brand"]].append((s - timedelta(minutes=5), end + GRACE))
        self.open: dict[str, tuple[datetime, CrisisAlert]] = {}  # brand -> (page start, top)
        self.given: list[AlertFeedback] = []

    def see(self, alert: CrisisAlert) -> AlertFeedback | None:
        """One alert of the replay, in order; the label of the page it ends, if it ends one."""
        page = self.open.get(alert.brand)
        if alert.severity >= Severity.WARNING:
            if page is None:
                self.open[alert.brand] = (alert.minute, alert)
            elif alert.severity > page[1].severity:
                self.open[alert.brand] = (page[0], alert)
            return None
        if page is None:
            return None
        del self.open[alert.brand]
        start, top = page
        real = any(a <= start <= z for a, z in self.crisis[alert.brand])
        share = next((s.observed for s in top.signals if s.signal == "negative_share"), 0.0)
        mood = next((s.observed for s in top.signals if s.signal == "mean_sentiment"), -1.0)
        vol = next((s.observed / max(s.expected, 1.0) for s in top.signals
                    if s.signal == "volume"), 0.0)  # fmt: skip
        label = AlertFeedback(
            feedback_id=f"analyst{len(self.given)}", alert_id=top.alert_id, brand=top.brand,
            minute=top.minute, severity=int(top.severity), score=top.score,
            negative_share=max(0.0, min(1.0, share)), mean_sentiment=max(-1.0, min(1.0, mood)),
            volume_ratio=max(0.0, vol),
            label="real" if real else "false_alarm",
            note="crisis-radar evaluate scenarios --feedback", by="analyst", at=alert.minute,
        )  # fmt: skip
        self.given.append(label)
        return label

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for f in self.given:
            out[f.label] += 1
        return dict(out)


def replay_posts(
    lines: Iterable[bytes],
    settings: Any,
    batch: int = 2000,
    progress: Callable[[int], object] | None = None,
    analyst: Analyst | None = None,
    make_scorer: Callable[[], CrisisScorer] | None = None,
) -> Replay:
    """Canonical post lines (in event-time order, as ``simulate`` writes them) through the
    worker's own stages (``crisis_radar.history.offline.OfflinePipeline``: partitioned dedup,
    brand match, sentiment, aligned minute windows, crisis scoring), as ``backtest`` runs.
    ``analyst``: labels each page once it is over; the labels apply from the next batch (with
    the enrich child, the one after: outputs lag a batch), a few minutes to an hour of event
    time later, as an analyst's label would. ``make_scorer``: each brand's crisis scorer
    (``crisis_radar.evaluate.detectors.crisis_scorer``: another volume detector); None: the
    worker's."""
    from crisis_radar.history.offline import OfflinePipeline, Step

    pipe = OfflinePipeline.from_settings(settings, make_scorer=make_scorer)
    rep = Replay()

    def take(step: Step) -> None:
        rep.minutes += step.minutes
        labels = []
        for a in step.assessed:
            m = a.minute
            rep.timeline[m.brand].append((m.minute, a.severity, a.score))
            rep.evidence[m.brand].append((m.minute, a.evidence.get("attention", 0.0),
                                          a.evidence.get("negativity", 0.0)))  # fmt: skip
            if analyst is not None and a.alert is not None:
                label = analyst.see(a.alert)
                if label is not None:
                    labels.append(label.to_json())
        if labels:
            pipe.feedback(labels)

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
    from crisis_radar.evaluate.detectors import describe

    rep.volume_detectors = sorted({describe(st.volume) for sc, _, _ in pipe.crisis.scorers.values()
                                   for st in sc.brands.values()})  # fmt: skip
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
        "volume_detectors": rep.volume_detectors,
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
    if res.get("volume_detectors"):
        lines.append(f"volume/authors detector in use: {', '.join(res['volume_detectors'])}")
    return "\n".join(lines)


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.0f}"


def minutes_to_jsonl(minutes: Sequence[BrandMinute], path: Path) -> None:
    opener: Any = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt") as fh:
        for m in minutes:
            fh.write(m.model_dump_json() + "\n")


def load_truth(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def compare_feedback(before: dict[str, Any], after: dict[str, Any], labels: dict[str, int]
                     ) -> dict[str, Any]:  # fmt: skip
    """The figures with feedback next to those without, and every crisis event whose first
    warning came later (or not at all) with feedback."""
    crisis = {e["kind"] for e in before["events"] if before["signals"][e["kind"]]["crisis_kind"]}
    later = []
    for b, a in zip(before["events"], after["events"], strict=True):
        if b["kind"] not in crisis or b["delay_min"] is None:
            continue
        if a["delay_min"] is None or a["delay_min"] > b["delay_min"]:
            later.append({"kind": b["kind"], "brand": b["brand"], "start": b["start"],
                          "delay_before": b["delay_min"],
                          "delay_after": a["delay_min"]})  # fmt: skip
    keys = ("crisis_recall", "median_delay_min", "false_warnings",
            "false_warnings_per_brand_week", "launch_crisis_alerts")  # fmt: skip
    return {
        "labels": labels,
        "before": {**{k: before[k] for k in keys}, "other_events_paged": _paged(before, crisis)},
        "after": {**{k: after[k] for k in keys}, "other_events_paged": _paged(after, crisis)},
        "max_delay_before": _max_crisis_delay(before, crisis),
        "max_delay_after": _max_crisis_delay(after, crisis),
        "later": later,
    }


def _paged(res: dict[str, Any], crisis: set[str]) -> int:
    """Events that are no crisis (launches, bot bursts) but reached warning: pages that are not
    counted as false warnings (they fall in an event's window) and that feedback may silence."""
    return sum(k["detected"] for kind, k in res["kinds"].items() if kind not in crisis)


def _max_crisis_delay(res: dict[str, Any], crisis: set[str]) -> float | None:
    d = [e["delay_min"] for e in res["events"]
         if e["kind"] in crisis and e["delay_min"] is not None]  # fmt: skip
    return max(d) if d else None


def format_comparison(c: dict[str, Any]) -> str:
    b, a = c["before"], c["after"]
    labels = ", ".join(f"{n} {k}" for k, n in sorted(c["labels"].items())) or "none"
    lines = [
        f"feedback: the analyst gave {labels}",
        f"{'':<28}{'without':>10}{'with':>10}",
        f"{'crisis recall':<28}{_num(b['crisis_recall'])}{_num(a['crisis_recall'])}",
        f"{'median delay (min)':<28}{_num(b['median_delay_min'])}{_num(a['median_delay_min'])}",
        f"{'max delay (min)':<28}{_num(c['max_delay_before'])}{_num(c['max_delay_after'])}",
        f"{'false warnings':<28}{b['false_warnings']:>10}{a['false_warnings']:>10}",
        f"{'false warnings/brand-week':<28}{_num(b['false_warnings_per_brand_week'])}"
        f"{_num(a['false_warnings_per_brand_week'])}",
        f"{'other events that paged':<28}{b['other_events_paged']:>10}"
        f"{a['other_events_paged']:>10}",
        f"{'launches with a crisis alert':<28}{b['launch_crisis_alerts']:>10}"
        f"{a['launch_crisis_alerts']:>10}",
    ]
    for e in c["later"]:
        after = "missed" if e["delay_after"] is None else f"{e['delay_after']:.0f} min"
        lines.append(f"  later with feedback: {e['kind']} on {e['brand']} at {e['start']}: "
                     f"{e['delay_before']:.0f} min -> {after}")  # fmt: skip
    return "\n".join(lines)


def _num(v: float | None) -> str:
    return f"{'-':>10}" if v is None else f"{v:>10.2f}"
