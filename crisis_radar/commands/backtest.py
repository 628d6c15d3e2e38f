"""``crisis-radar backtest``: replay files of posts through the worker's stages, offline.

No Kafka, no ClickHouse: posts are read in event-time order (sorted on disk if need be), then
validated, deduplicated, brand-matched, scored, aggregated per brand-minute and assessed by the
crisis scorer exactly as the worker does (crisis_radar/history/offline.py). Prints each alert,
a per-brand table and a summary; --out also writes minutes.jsonl, alerts.jsonl, rejected.jsonl
and a post-crisis report of the worst alert (report/report.html, report.md).

Examples::

    crisis-radar backtest posts.jsonl.gz
    crisis-radar backtest export.csv --map text=body,created_at=ts,id=tweet_id,author=user
    crisis-radar backtest week/*.jsonl --watchlist brands.yaml --out out/backtest
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from crisis_radar.history.cli import add_input_arguments
from crisis_radar.ingest.normalise import parse_mapping
from crisis_radar.ingest.pipeline import input_problem, paths_of
from crisis_radar.progress import progress_bar
from crisis_radar.settings import get_settings
from schemas.models import Severity

PROG = "crisis-radar backtest"
TOP_REASONS = 5  # rejection reasons listed in the summary


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Run files of posts through the pipeline's stages offline and print the "
        "alerts it would have raised.",
        epilog=__doc__.split("Examples::", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_input_arguments(p)
    p.add_argument("--out", type=Path, help="folder for minutes/alerts/rejected JSONL + report")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _fail(msg: str) -> int:
    print(f"{PROG}: {msg}", file=sys.stderr)
    return 2


def format_alert(a: Any) -> str:
    """A few lines per alert: when, who, severity change, why, terms, top posts."""
    lines = [
        f"{a.minute:%Y-%m-%d %H:%M} UTC  {a.brand}  {a.previous_severity.label} -> "
        f"{a.severity.label}  score {a.score:.2f}  {a.summary}"
    ]
    if a.top_terms:
        lines.append("    terms: " + ", ".join(a.top_terms[:8]))
    for p in a.top_posts[:3]:
        text = " ".join(p.text.split())[:80]
        lines.append(f"    - [{p.reach} reach] {p.author}: {text}")
    return "\n".join(lines)


def brand_table(result: Any) -> str:
    head = ["brand", "posts", "minutes", "mean/min", "peak/min", "negative", "watch",
            "warning", "crisis", "worst alert"]  # fmt: skip
    rows = []
    for brand, b in sorted(result.brands.items()):
        w = b.worst
        worst = f"{w.severity.label} {w.score:.2f} at {w.minute:%Y-%m-%d %H:%M}" if w else "-"
        rows.append([
            brand, f"{b.posts:,}", f"{b.minutes:,}", f"{b.mean_per_minute:.2f}",
            f"{b.peak:,}" + (f" ({b.peak_minute:%m-%d %H:%M})" if b.peak_minute else ""),
            f"{b.negative_share:.1%}", *(str(b.alerts[s]) for s in
                                         (Severity.WATCH, Severity.WARNING, Severity.CRISIS)),
            worst,
        ])  # fmt: skip
    if not rows:
        return "(no brand of the watchlist was mentioned)"
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    right = {1, 2, 3, 4, 5, 6, 7, 8}

    def line(r: list[str]) -> str:
        cells = [c.rjust(w) if i in right else c.ljust(w)
                 for i, (c, w) in enumerate(zip(r, widths, strict=True))]  # fmt: skip
        return "  ".join(cells).rstrip()

    return "\n".join([line(head), line(["-" * w for w in widths]), *map(line, rows)])


def summary(result: Any, stats: Any, rejections: Any, out_of_order: int) -> str:
    reasons = ", ".join(f"{r}={n:,}" for r, n in rejections.counts.most_common()) or "none"
    repeated = stats.repeated + result.repeated  # read again: in the files, or within the horizon
    lines = [
        f"backtest: read {stats.read:,}, posts {result.posts:,}, skipped {stats.skipped:,}, "
        + (f"repeated {repeated:,} (counted once), " if repeated else "")
        + f"rejected {rejections.total:,} ({reasons}), minutes {result.minutes:,}, "
        f"alerts {result.alerts:,} in {result.seconds:.1f}s "
        f"({result.posts_per_s:,.0f} posts/s)"
    ]
    if result.first is not None and result.last is not None:
        lines.append(f"  posts from {result.first:%Y-%m-%d %H:%M} to {result.last:%Y-%m-%d %H:%M}"
                     " UTC" + (f"; {out_of_order:,} came out of order in the input (sorted)"
                               if out_of_order else ""))  # fmt: skip
    for reason, n in rejections.counts.most_common(TOP_REASONS):
        example = " ".join(rejections.examples.get(reason, "").split())[:120]
        lines.append(f"  rejected {reason}: {n:,}, e.g. {example}")
    if len(rejections.counts) > TOP_REASONS:
        lines.append(f"  ... and {len(rejections.counts) - TOP_REASONS} more reasons")
    if rejections.total > rejections.written and rejections.written >= rejections.cap:
        lines.append(f"  rejected.jsonl holds the first {rejections.written:,} of "
                     f"{rejections.total:,} dead letters")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        mapping = parse_mapping(args.mapping)
    except ValueError as exc:
        return _fail(str(exc))
    fmt = "generic" if mapping and args.format == "auto" else args.format
    paths = paths_of(args.inputs)
    problem = input_problem(args.inputs, paths)
    if problem:
        return _fail(problem)
    settings = get_settings()
    if args.watchlist is not None:
        settings = settings.model_copy(update={"watchlist_path": args.watchlist})
    if not Path(settings.watchlist_path).is_file():
        return _fail(f"no such watchlist: {settings.watchlist_path}")

    from crisis_radar.history.backtest import Backtest, Result
    from crisis_radar.history.offline import OfflinePipeline
    from crisis_radar.ingest.history import History, NoTimeColumn, check_time_column

    try:
        for path in paths:
            check_time_column(path, fmt, mapping)
    except NoTimeColumn as exc:
        return _fail(str(exc))
    except (OSError, ValueError) as exc:
        return _fail(f"cannot read the input: {exc}")
    try:
        pipeline = OfflinePipeline.from_settings(settings)
    except (OSError, ValueError) as exc:  # a broken watchlist: say so, no stack trace
        return _fail(f"cannot load the watchlist {settings.watchlist_path}: {exc}")

    bar = progress_bar(unit=" rec", file=sys.stderr, disable=args.quiet, mininterval=0.5)

    def show(alert: Any) -> None:
        tqdm.write(format_alert(alert), file=sys.stdout)

    bt = Backtest(pipeline, args.out, on_alert=show)
    history = History(paths, fmt, mapping, source="backtest", on_dead=bt.rejections.add)

    def progress(_: object = None) -> None:
        s = history.stats
        bar.set_postfix(posts=str(bt.result.posts), rejected=str(s.rejected_total),
                        alerts=str(bt.result.alerts), refresh=False)  # fmt: skip
        bar.update(s.read - bar.n)

    history.on_read = progress
    result: Result
    try:
        result = bt.run(history.sends(parsed=pipeline.takes_posts), on_batch=progress)
    except KeyboardInterrupt:
        bar.close()
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        bar.close()
    stats = history.stats
    print()
    print(brand_table(result))
    print()
    print(summary(result, stats, bt.rejections, history.out_of_order))
    if args.out is not None:
        print(f"  wrote {args.out}/minutes.jsonl, alerts.jsonl, rejected.jsonl")
        if result.worst is not None:
            from crisis_radar.history.report import write_backtest_report

            html = write_backtest_report(args.out, result.worst, settings.watchlist_path,
                                         progress=lambda _: None)  # fmt: skip
            print(f"  report of the worst alert ({result.worst.brand}, "
                  f"{result.worst.severity.label}): {html}")  # fmt: skip
    if result.posts == 0:
        what = "only bad rows" if stats.read else "no records"
        print(f"{PROG}: the input has {what}: no post to replay", file=sys.stderr)
        return 1
    return 0
