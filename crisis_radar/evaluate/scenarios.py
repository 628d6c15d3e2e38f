"""Scenario evaluation: replay simulated posts through the pure detection path and score alerts.

Path: posts -> enrichment (dedup + brand match + sentiment: ``streams.processing.Enricher``,
the code the worker runs; without it a fallback of VADER sentiment, exact-text dedup and
brand-id substring matching) -> ``MinuteAggregator`` -> ``CrisisScorer``. Labels carried in
the simulated posts are never read. Results per event kind: recall, detection delay (event
start -> first warning), false warnings per brand-day/brand-week, launches that reached crisis.
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
from typing import IO, Any

from detectors.aggregate import MinuteAggregator
from detectors.crisis import CrisisScorer
from detectors.terms import brand_words, post_terms
from schemas.models import BrandMinute, Post, ScoredPost, Severity

Enrich = Callable[[Sequence[Post], datetime], list[ScoredPost]]
GRACE = timedelta(minutes=60)  # alerts this long after an event still belong to it


def open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open(encoding="utf-8")


def read_posts(path: Path) -> Iterator[Post]:
    with open_text(path) as fh:
        for line in fh:
            if line.strip():
                yield Post.model_validate_json(line)


class _Vader:
    """Fallback sentiment when the project's model is not available: VADER's lexicon."""

    def __init__(self) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self.vader = SentimentIntensityAnalyzer()

    def predict_many(self, texts: Iterable[str]) -> list[tuple[str, float]]:
        out = []
        for t in texts:
            c = float(self.vader.polarity_scores(t)["compound"])
            out.append(("negative" if c <= -0.05 else "positive" if c >= 0.05 else "neutral", c))
        return out


class _ExactDedup:
    """Fallback dedup: exact normalised text."""

    def __init__(self) -> None:
        self.seen: dict[str, str] = {}

    def __call__(self, text: str) -> tuple[str, bool]:
        key = " ".join(text.lower().split())
        dup = key in self.seen
        return self.seen.setdefault(key, f"c{len(self.seen)}"), dup


# What the last ``default_enricher`` used (brands, dedup, sentiment): reported with results,
# so a run that silently fell back to VADER is visible.
COMPONENTS: dict[str, str] = {}


def default_enricher(watchlist: Path, brand_ids: Iterable[str]) -> Enrich:
    """Dedup + brand match + sentiment from ``detectors`` when available, else fallbacks.

    Fallbacks (documented in docs/detection.md): brand-id substring match, exact-text dedup,
    VADER sentiment. Never the labels the simulator may carry. ``COMPONENTS`` says which.
    """
    ids = list(brand_ids)
    COMPONENTS.clear()
    try:
        from detectors.brands import BrandMatcher, Watchlist

        matcher = BrandMatcher(Watchlist.from_yaml(watchlist))
        skip = brand_words(matcher.watchlist.brands)  # as streams.processing.Enricher

        def match(p: Post) -> list[str]:
            return matcher.match(p.text, p.lang, tuple(p.hashtags), tuple(p.mentions))
        COMPONENTS["brands"] = "BrandMatcher"
    except (ImportError, OSError, ValueError):
        COMPONENTS["brands"] = "fallback: brand-id substring"
        skip = frozenset(b.lower() for b in ids)

        def match(p: Post) -> list[str]:
            low = p.text.lower()
            return [b for b in ids if b.lower() in low]

    sentiment: Any
    try:
        from detectors.sentiment import SentimentModel

        model = SentimentModel.load_default()
        sentiment = None
        COMPONENTS["sentiment"] = f"SentimentModel {model.version}"
    except (ImportError, OSError):
        model, sentiment = None, _Vader()
        COMPONENTS["sentiment"] = "fallback: VADER"
    dedup: Any
    try:
        from detectors.dedup import Deduplicator

        dedup = Deduplicator(horizon_s=6 * 3600, seed=0)
        COMPONENTS["dedup"] = "Deduplicator"
    except ImportError:
        dedup = None
        COMPONENTS["dedup"] = "fallback: exact text"
    exact = _ExactDedup()

    def enrich(posts: Sequence[Post], now: datetime) -> list[ScoredPost]:
        matched = [(p, found) for p in posts if (found := match(p))]
        if model is not None:
            sents = [(s.label, s.score) for s in model.predict_many([p.text for p, _ in matched])]
        else:
            sents = sentiment.predict_many([p.text for p, _ in matched])
        out: list[ScoredPost] = []
        for (p, brands), (label, score) in zip(matched, sents, strict=True):
            if dedup is not None:
                d = dedup.process_one(p.text, p.author.id, p.created_at, p.repost_of,
                                      post_id=p.post_id)
                cid, dup, size, authors, camp = (d.cluster_id, not d.is_first, d.cluster_size,
                                                 d.distinct_authors, d.campaign)
            else:
                cid, dup = exact(p.text)
                size, authors, camp = 1, 1, False
            terms = post_terms(p.text, len(brands), skip)  # as streams.processing.Enricher
            for b in brands:
                out.append(ScoredPost(
                    post=p, brand=b, sentiment_label=label,
                    sentiment_score=max(-1.0, min(1.0, score)), cluster_id=cid,
                    is_duplicate=dup, cluster_size=size, cluster_authors=authors,
                    campaign=camp, scored_at=now, terms=terms))
        return out

    return enrich


@dataclass
class Replay:
    """Severity timeline per brand: list of (minute, severity, score); evidence per side.

    ``evidence[brand]``: (minute, attention, negativity), each side's accumulated evidence as a
    fraction of what a warning needs (1.0 = that side alone is at the warning level).
    """

    timeline: dict[str, list[tuple[datetime, Severity, float]]] = field(
        default_factory=lambda: defaultdict(list))
    evidence: dict[str, list[tuple[datetime, float, float]]] = field(
        default_factory=lambda: defaultdict(list))
    minutes: list[BrandMinute] = field(default_factory=list)


def replay_minutes(minutes: Iterable[BrandMinute], scorer: CrisisScorer | None = None) -> Replay:
    scorer = scorer or CrisisScorer()
    rep = Replay()
    for m in minutes:
        a = scorer.process_one(m)
        if m.version == 1:
            rep.timeline[m.brand].append((m.minute, a.severity, a.score))
            rep.evidence[m.brand].append((m.minute, a.evidence.get("attention", 0.0),
                                          a.evidence.get("negativity", 0.0)))
    return rep


def aggregate_posts(posts: Iterable[Post], enrich: Enrich, batch: int = 2000,
                    progress: Callable[[int], object] | None = None) -> list[BrandMinute]:
    """Enrich in batches, aggregate on event time with the watermark = max event time seen."""
    agg = MinuteAggregator(allowed_lateness_s=120)
    out: list[BrandMinute] = []
    buf: list[Post] = []
    wm: datetime | None = None

    def flush() -> None:
        nonlocal wm
        if not buf:
            return
        top = max(p.created_at for p in buf)
        for sp in enrich(buf, top):
            agg.add(sp)
        wm = top if wm is None else max(wm, top)
        out.extend(agg.advance(wm))
        if progress is not None:
            progress(len(buf))
        buf.clear()

    for p in posts:
        buf.append(p)
        if len(buf) >= batch:
            flush()
    flush()
    if wm is not None:
        out.extend(agg.advance(wm + timedelta(minutes=10)))
    return out


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
        k = by_kind.setdefault(e["kind"], {"events": 0, "detected": 0, "delays": [],
                                          "crisis_alerts": 0, "watch_or_more": 0})
        k["events"] += 1
        k["detected"] += first_warn is not None
        k["crisis_alerts"] += peak >= Severity.CRISIS
        k["watch_or_more"] += peak >= Severity.WATCH
        delay = None if first_warn is None else max(0.0, (first_warn - s).total_seconds() / 60)
        if delay is not None:
            k["delays"].append(delay)
        ev = [x for x in rep.evidence.get(e["brand"], []) if lo <= x[0] <= end]
        per_event.append({
            "kind": e["kind"], "brand": e["brand"], "start": e["start"], "delay_min": delay,
            "peak": peak.label,
            # which side of the evidence reached its warning level first, and when
            "attention_min": _first_min(ev, 1, s), "negativity_min": _first_min(ev, 2, s)})
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
        kinds[kind] = {**k, "recall": k["detected"] / k["events"],
                       "median_delay_min": statistics.median(d) if d else None,
                       "max_delay_min": max(d) if d else None}
    det = [k for n, k in kinds.items() if n in crisis_kinds]

    return {
        "enrichment": dict(COMPONENTS),
        "brands": len(brands), "brand_days": brand_days, "brand_weeks": brand_days / 7,
        "false_warnings": false_warn,
        "false_warnings_per_brand_day": false_warn / brand_days,
        "false_warnings_per_brand_week": 7 * false_warn / brand_days,
        "crisis_recall": (sum(k["detected"] for k in det) / sum(k["events"] for k in det)
                          if det else None),
        "launch_crisis_alerts": kinds.get("launch_spike", {}).get("crisis_alerts", 0),
        "median_delay_min": statistics.median(delays) if delays else None,
        "kinds": kinds,
        "signals": _signal_breakdown(per_event, crisis_kinds),
        "events": per_event,
    }


def _first_min(ev: list[tuple[datetime, float, float]], side: int,
               start: datetime) -> float | None:
    """Minutes from ``start`` to the first minute this evidence side reached 1 (None: never)."""
    m = next((x[0] for x in ev if (x[1] if side == 1 else x[2]) >= 1.0), None)
    return None if m is None else (m - start).total_seconds() / 60.0


def _signal_breakdown(per_event: list[dict[str, Any]],
                      crisis_kinds: set[str]) -> dict[str, dict[str, Any]]:
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
    lines = [f"{'kind':<22}{'events':>7}{'recall':>8}{'med delay':>10}{'max delay':>10}"
             f"{'crisis':>8}{'watch+':>8}"]
    for kind, k in res["kinds"].items():
        md = "-" if k["median_delay_min"] is None else f"{k['median_delay_min']:.1f}"
        mx = "-" if k["max_delay_min"] is None else f"{k['max_delay_min']:.0f}"
        lines.append(f"{kind:<22}{k['events']:>7}{k['recall']:>8.2f}{md:>10}{mx:>10}"
                     f"{k['crisis_alerts']:>8}{k['watch_or_more']:>8}")
    lines.append(
        f"brand-weeks {res['brand_weeks']:.1f}; crisis recall {res['crisis_recall']}; "
        f"median delay {res['median_delay_min']} min; false warnings {res['false_warnings']} "
        f"({res['false_warnings_per_brand_week']:.2f}/brand-week); "
        f"launches with a crisis alert {res['launch_crisis_alerts']}")
    sig = res.get("signals") or {}
    for kind, r in sig.items():
        lines.append(f"  {kind:<20} attention at {_fmt(r['attention_median_min'])} min, "
                     f"negativity at {_fmt(r['negativity_median_min'])} min (median); "
                     f"last to cross: {r['last_side']}")
    if res.get("enrichment"):
        lines.append("enrichment: " + ", ".join(f"{k} {v}" for k, v in res["enrichment"].items()))
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
