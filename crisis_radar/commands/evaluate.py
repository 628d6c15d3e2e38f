"""``crisis-radar evaluate``: score the detectors on NAB data or on simulated scenarios.

Examples:
  crisis-radar evaluate nab /work/shared/data/nab/data \\
      --labels /work/shared/data/nab/combined_windows.json --out results/nab
  crisis-radar evaluate scenarios eval.jsonl.gz --truth eval-truth.json --out results/scen.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from crisis_radar.progress import progress_bar


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="crisis-radar evaluate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="what", required=True)
    n = sub.add_parser("nab", help="run the value detector over NAB-layout data and score it")
    n.add_argument("data_dir", type=Path, help="folder of <category>/<file>.csv (timestamp,value)")
    n.add_argument("--labels", type=Path, required=True, help="NAB combined_windows.json")
    n.add_argument("--out", type=Path, required=True, help="results folder (NAB results layout)")
    n.add_argument(
        "--profile",
        choices=["standard", "reward_low_FP_rate", "reward_low_FN_rate"],
        help="score one profile only (default: all three)",
    )
    n.add_argument("--profiles", type=Path, help="NAB config/profiles.json (default: built in)")
    s = sub.add_parser("scenarios", help="replay `crisis-radar simulate` output through detection")
    s.add_argument("posts", type=Path, help="posts JSONL(.gz) written by `crisis-radar simulate`")
    s.add_argument("--truth", type=Path, required=True, help="truth JSON from simulate")
    s.add_argument("--out", type=Path, help="write results JSON here (default: next to posts)")
    s.add_argument("--watchlist", type=Path, help="brands file (default: settings.watchlist_path)")
    return p


def _nab(args: argparse.Namespace) -> int:
    from crisis_radar.evaluate import nab

    if not args.data_dir.is_dir():
        print(f"evaluate nab: {args.data_dir} is not a folder", file=sys.stderr)
        return 2
    try:
        labels = json.loads(args.labels.read_text())
    except (OSError, ValueError) as exc:
        print(f"evaluate nab: cannot read labels {args.labels}: {exc}", file=sys.stderr)
        return 2
    files = nab.load_corpus(args.data_dir, labels)
    if not files:
        print(f"evaluate nab: no <category>/*.csv files under {args.data_dir}", file=sys.stderr)
        return 2
    scores = []
    for f in progress_bar(files, desc="nab", unit="file", file=sys.stderr):
        s = nab.run_detector(f)
        nab.write_results(f, s, args.out)
        scores.append(s)
    profiles = nab.load_profiles(args.profiles)
    if args.profile:
        profiles = {args.profile: profiles[args.profile]}
    results = nab.score_corpus(files, scores, profiles)
    print(nab.format_table(results))
    path = args.out / "scores.json"
    path.write_text(json.dumps(nab.results_json(results), indent=2))
    print(f"results in {args.out}, scores in {path}")
    return 0


def _count_lines(path: Path) -> int:
    """Lines in a (gzipped) JSONL file: the progress bar's total (a few seconds per million)."""
    import gzip

    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


def _scenarios(args: argparse.Namespace) -> int:
    from crisis_radar.evaluate import scenarios as sc
    from crisis_radar.settings import get_settings

    for path in (args.posts, args.truth):
        if not path.is_file():
            print(f"evaluate scenarios: no such file {path}", file=sys.stderr)
            return 2
    truth = sc.load_truth(args.truth)
    settings = get_settings()
    if args.watchlist:
        settings = settings.model_copy(update={"watchlist_path": args.watchlist})
    with progress_bar(
        desc="replay", unit="post", total=_count_lines(args.posts), file=sys.stderr
    ) as bar:
        rep = sc.replay_posts(sc.read_lines(args.posts), settings, progress=bar.update)
    res = sc.evaluate(rep, truth)
    print(sc.format_report(res))
    out = args.out or args.posts.with_name(args.posts.name.split(".")[0] + "-eval.json")
    out.write_text(json.dumps(res, indent=2, default=str))
    print(f"results in {out}")
    return 0


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    return _nab(args) if args.what == "nab" else _scenarios(args)
