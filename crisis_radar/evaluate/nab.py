"""Numenta Anomaly Benchmark: run a detector over NAB-layout data and score it like NAB.

Scoring follows NAB's ``nab/sweeper.py``: each row inside a labelled window is worth a
scaled sigmoid of its relative position (early = ~1), only the best (earliest) detection
per window counts, rows outside windows cost ``fpWeight`` times a sigmoid of their distance
past the previous window, missed windows cost ``fnWeight``, the first 15% of each file
(at most 750 rows) is probationary. One threshold is chosen for the whole corpus per
profile, then the raw score is normalised to 0-100 between the null detector and a perfect one.

>>> round(scaled_sigmoid(-1.0), 5), scaled_sigmoid(3.0)
(0.98661, -1.0)
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from detectors.anomaly import SeriesDetector, ValueDetector

PROFILES: dict[str, dict[str, float]] = {
    "standard": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.11},
    "reward_low_FP_rate": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.22},
    "reward_low_FN_rate": {"tpWeight": 1.0, "fnWeight": 2.0, "fpWeight": 0.11},
}
PROBATION_PERCENT = 0.15


def scaled_sigmoid(pos: float) -> float:
    if pos >= 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * pos)) - 1.0


@dataclass(frozen=True, slots=True)
class Point:
    score: float  # detector's anomaly score
    sweep: float  # weighted reward if this row is a detection
    window: str | None  # window name, None outside windows


def parse_ts(s: str) -> datetime:
    return datetime.fromisoformat(s.strip()).replace(tzinfo=UTC)


def sweep_points(
    timestamps: Sequence[datetime],
    scores: Sequence[float],
    windows: Sequence[tuple[datetime, datetime]],
    name: str,
    costs: dict[str, float],
) -> list[Point]:
    """Per-row rewards as NAB's ``Sweeper.calcSweepScore`` (probationary rows dropped)."""
    max_tp = scaled_sigmoid(-1.0)
    n = len(timestamps)
    probation = min(math.floor(PROBATION_PERCENT * n), PROBATION_PERCENT * 5000)
    index = {t: i for i, t in enumerate(timestamps)}
    spans = sorted((index[a], index[b]) for a, b in windows if a in index and b in index)
    out: list[Point] = []
    cur: tuple[int, int] | None = None
    prev_right: int | None = None
    prev_width = 0.0
    for i, s in enumerate(scores):
        if spans and i == spans[0][0]:
            cur = spans.pop(0)
        if cur is not None:
            width = float(cur[1] - cur[0] + 1)
            sweep = scaled_sigmoid(-(cur[1] - i + 1) / width) * costs["tpWeight"] / max_tp
            wname: str | None = f"{name}|{cur[0]}"
        else:
            past = 3.0 if prev_right is None else abs(prev_right - i) / (prev_width - 1.0)
            sweep = scaled_sigmoid(past) * costs["fpWeight"]
            wname = None
        if i >= probation:
            out.append(Point(s, sweep, wname))
        if cur is not None and i == cur[1]:
            prev_right, prev_width, cur = i, float(cur[1] - cur[0] + 1), None
    return out


def score_by_threshold(
    points: Iterable[Point], costs: dict[str, float]
) -> list[tuple[float, float]]:
    """(threshold, raw score) for every distinct threshold, as ``calcScoreByThreshold``."""
    pts = sorted(points, key=lambda p: p.score, reverse=True)
    parts: dict[str, float] = {p.window: -costs["fnWeight"] for p in pts if p.window is not None}
    fp = 0.0
    base = sum(parts.values())
    out: list[tuple[float, float]] = [(1.1, base)]
    total = base
    i = 0
    while i < len(pts):
        thr = pts[i].score
        while i < len(pts) and pts[i].score == thr:
            p = pts[i]
            if p.window is None:
                fp += p.sweep
            elif p.sweep > parts[p.window]:
                total += p.sweep - parts[p.window]
                parts[p.window] = p.sweep
            i += 1
        out.append((thr, total + fp))
    return out


def score_at(points: Iterable[Point], threshold: float, costs: dict[str, float]) -> float:
    """Raw score of one file (or set of files) with detections at ``score >= threshold``."""
    parts: dict[str, float] = {}
    fp = 0.0
    for p in points:
        if p.window is not None:
            best = parts.get(p.window, -costs["fnWeight"])
            parts[p.window] = max(best, p.sweep) if p.score >= threshold else best
        elif p.score >= threshold:
            fp += p.sweep
    return sum(parts.values()) + fp


@dataclass
class FileData:
    category: str
    name: str  # "<category>/<file>.csv", the key in the windows JSON
    timestamps: list[datetime]
    values: list[float]
    windows: list[tuple[datetime, datetime]]


def load_corpus(data_dir: Path, labels: dict[str, list[list[str]]]) -> list[FileData]:
    files: list[FileData] = []
    for path in sorted(data_dir.glob("*/*.csv")):
        name = f"{path.parent.name}/{path.name}"
        ts: list[datetime] = []
        vals: list[float] = []
        with path.open(newline="") as fh:
            for row in csv.DictReader(fh):
                ts.append(parse_ts(row["timestamp"]))
                vals.append(float(row["value"]))
        wins = [(parse_ts(a), parse_ts(b)) for a, b in labels.get(name, [])]
        files.append(FileData(path.parent.name, name, ts, vals, wins))
    return files


def run_detector(f: FileData, factory: Callable[[], SeriesDetector] = ValueDetector) -> list[float]:
    """Stream one series through a fresh detector: score each row, then learn it."""
    det = factory()
    return [
        det.process_one({"value": x, "t": t}) for x, t in zip(f.values, f.timestamps, strict=True)
    ]


def write_results(f: FileData, scores: Sequence[float], out_dir: Path) -> Path:
    path = out_dir / f.category / Path(f.name).name
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["timestamp", "value", "anomaly_score"])
        for t, v, s in zip(f.timestamps, f.values, scores, strict=True):
            w.writerow([t.strftime("%Y-%m-%d %H:%M:%S"), repr(v), f"{s:.6f}"])
    return path


@dataclass
class ProfileResult:
    profile: str
    threshold: float
    raw: float
    normalized: float
    by_category: dict[str, float]


def _normalise(raw: float, null: float, perfect: float) -> float:
    return 100.0 * (raw - null) / (perfect - null) if perfect != null else 0.0


def _best(points: list[Point], costs: dict[str, float]) -> tuple[float, float]:
    return max(score_by_threshold(points, costs), key=lambda ts: (ts[1], -ts[0]))


def score_corpus(
    files: Sequence[FileData],
    scores: Sequence[Sequence[float]],
    profiles: dict[str, dict[str, float]] | None = None,
) -> list[ProfileResult]:
    """Optimise one threshold per profile over all files, normalise, break down by category."""
    results: list[ProfileResult] = []
    for pname, costs in (profiles or PROFILES).items():
        per_file = [
            sweep_points(f.timestamps, s, f.windows, f.name, costs)
            for f, s in zip(files, scores, strict=True)
        ]
        allp = [p for pts in per_file for p in pts]
        thr, raw = _best(allp, costs)

        def bounds(pts: list[Point], costs: dict[str, float] = costs) -> tuple[float, float]:
            const = [Point(0.5, p.sweep, p.window) for p in pts]
            null = _best(const, costs)[1]
            n_windows = len({p.window for p in pts if p.window is not None})
            return null, costs["tpWeight"] * n_windows

        null, perfect = bounds(allp)
        by_cat: dict[str, float] = {}
        for cat in sorted({f.category for f in files}):
            cat_pts = [
                p for f, pts in zip(files, per_file, strict=True) if f.category == cat for p in pts
            ]
            c_null, c_perfect = bounds(cat_pts)
            by_cat[cat] = _normalise(score_at(cat_pts, thr, costs), c_null, c_perfect)
        results.append(ProfileResult(pname, thr, raw, _normalise(raw, null, perfect), by_cat))
    return results


def load_profiles(path: Path | None) -> dict[str, dict[str, float]]:
    if path is None or not path.exists():
        return dict(PROFILES)
    raw = json.loads(path.read_text())
    return {
        k: {w: float(v["CostMatrix"][w]) for w in ("tpWeight", "fnWeight", "fpWeight")}
        for k, v in raw.items()
    }


def format_table(results: Sequence[ProfileResult]) -> str:
    cats = sorted({c for r in results for c in r.by_category})
    width = max([len(c) for c in cats] + [8])
    head = f"{'category':<{width}}  " + "  ".join(f"{r.profile:>18}" for r in results)
    lines = [head, "-" * len(head)]
    for c in cats:
        lines.append(f"{c:<{width}}  " + "  ".join(f"{r.by_category[c]:>18.1f}" for r in results))
    lines.append("-" * len(head))
    lines.append(f"{'OVERALL':<{width}}  " + "  ".join(f"{r.normalized:>18.1f}" for r in results))
    lines.append(f"{'threshold':<{width}}  " + "  ".join(f"{r.threshold:>18.6f}" for r in results))
    return "\n".join(lines)


def results_json(results: Sequence[ProfileResult]) -> dict[str, object]:
    return {r.profile: asdict(r) for r in results}


def run_step(f: FileData, make: Callable[[], Callable[[float, datetime], float]]) -> list[float]:
    """Stream one series through a fresh ``Step`` (see ``crisis_radar.evaluate.detectors``)."""
    step = make()
    return [step(x, t) for x, t in zip(f.values, f.timestamps, strict=True)]


@dataclass
class Rotation:
    held_out: str
    setting: dict[str, object]  # the grid entry chosen on the other categories
    threshold: float
    train: float  # normalised score on the other categories (what chose the setting)
    in_sample: float  # held-out category, default setting at the corpus-wide threshold
    held_out_score: float | None  # normalised; None for a category without windows
    held_out_raw: float


@dataclass
class LocoResult:
    profile: str
    rotations: list[Rotation]
    mean: float  # mean held-out score over the rotations with windows
    in_sample_mean: float  # the same categories, in-sample (default setting, one threshold)
    pooled: float  # every held-out raw score added up, normalised like the corpus score
    in_sample: float  # the corpus score of the default setting (the usual OVERALL)


def loco(
    files: Sequence[FileData],
    scores_by_setting: Sequence[Sequence[Sequence[float]]],
    settings: Sequence[dict[str, object]],
    costs: dict[str, float],
    profile: str = "standard",
) -> LocoResult:
    """Leave one category out: for each category, choose the setting and the one corpus-wide
    threshold on the other categories (best raw NAB score there), then score the held-out
    category with them. ``scores_by_setting[k][i]`` are setting k's scores of ``files[i]``;
    setting 0 is the default (ties go to the earlier setting)."""
    per_setting = [
        [
            sweep_points(f.timestamps, s, f.windows, f.name, costs)
            for f, s in zip(files, scores, strict=True)
        ]
        for scores in scores_by_setting
    ]
    cats = sorted({f.category for f in files})

    def pts(k: int, cat: str | None = None, held_out: bool = False) -> list[Point]:
        """Setting k's points: all files, or those of ``cat`` (held_out) or of the others."""
        return [
            p
            for f, ps in zip(files, per_setting[k], strict=True)
            if cat is None or (f.category == cat) == held_out
            for p in ps
        ]

    def bounds(points: list[Point]) -> tuple[float, float]:
        null = _best([Point(0.5, p.sweep, p.window) for p in points], costs)[1]
        return null, costs["tpWeight"] * len({p.window for p in points if p.window})

    all0 = pts(0)
    thr0, raw0 = _best(all0, costs)
    c_null, c_perfect = bounds(all0)
    rotations: list[Rotation] = []
    pooled_raw = 0.0
    for cat in cats:
        best: tuple[float, int, float] | None = None  # (raw, -k, threshold)
        for k in range(len(settings)):
            thr, raw = _best(pts(k, cat), costs)
            if best is None or (raw, -k) > best[:2]:
                best = (raw, -k, thr)
        assert best is not None
        raw_train, k, thr = best[0], -best[1], best[2]
        tr_null, tr_perfect = bounds(pts(k, cat))
        held = pts(k, cat, held_out=True)
        raw = score_at(held, thr, costs)
        pooled_raw += raw
        h_null, h_perfect = bounds(held)
        held0 = pts(0, cat, held_out=True)
        rotations.append(
            Rotation(
                cat,
                dict(settings[k]),
                thr,
                _normalise(raw_train, tr_null, tr_perfect),
                _normalise(score_at(held0, thr0, costs), h_null, h_perfect),
                _normalise(raw, h_null, h_perfect) if h_perfect else None,
                raw,
            )
        )
    scored = [r for r in rotations if r.held_out_score is not None]
    return LocoResult(
        profile,
        rotations,
        sum(r.held_out_score or 0.0 for r in scored) / max(len(scored), 1),
        sum(r.in_sample for r in scored) / max(len(scored), 1),
        _normalise(pooled_raw, c_null, c_perfect),
        _normalise(raw0, c_null, c_perfect),
    )


def format_loco(res: LocoResult) -> str:
    width = max([len(r.held_out) for r in res.rotations] + [22])
    head = (
        f"{'held-out category':<{width}}  {'LOCO':>6}  {'in-sample':>9}  {'5-cat':>6}  "
        f"{'threshold':>9}  setting"
    )
    lines = [f"leave-one-category-out, profile {res.profile}", head, "-" * len(head)]
    for r in res.rotations:
        loco_s = f"{r.held_out_score:6.1f}" if r.held_out_score is not None else f"{'n/a':>6}"
        ins = f"{r.in_sample:9.1f}" if r.held_out_score is not None else f"{'n/a':>9}"
        note = "" if r.held_out_score is not None else f"  (no windows; raw {r.held_out_raw:.2f})"
        lines.append(
            f"{r.held_out:<{width}}  {loco_s}  {ins}  {r.train:6.1f}  "
            f"{r.threshold:9.6f}  {r.setting or 'default'}{note}"
        )
    lines.append("-" * len(head))
    lines.append(f"{'MEAN (with windows)':<{width}}  {res.mean:6.1f}  {res.in_sample_mean:9.1f}")
    lines.append(f"{'POOLED corpus score':<{width}}  {res.pooled:6.1f}  {res.in_sample:9.1f}")
    return "\n".join(lines)
