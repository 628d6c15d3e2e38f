"""``crisis-radar evaluate``: score the detectors on NAB data or on simulated scenarios.

Examples:
  crisis-radar evaluate nab /work/shared/data/nab/data \\
      --labels /work/shared/data/nab/combined_windows.json --out results/nab
  crisis-radar evaluate nab DATA --labels WINDOWS --out results/hst --detector hst
  crisis-radar evaluate nab DATA --labels WINDOWS --out results/loco --loco
  crisis-radar evaluate scenarios eval.jsonl.gz --truth eval-truth.json --out results/scen.json
  crisis-radar evaluate scenarios eval.jsonl.gz --truth eval-truth.json --feedback
  crisis-radar evaluate scenarios eval.jsonl.gz --truth eval-truth.json --feedback --minutes-only
  crisis-radar evaluate scenarios eval.jsonl.gz --truth eval-truth.json --detector hst
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import sys
import time
from pathlib import Path

from crisis_radar.progress import progress_bar


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="crisis-radar evaluate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="what", required=True)
    n = sub.add_parser("nab", help="run a detector over NAB-layout data and score it like NAB")
    n.add_argument("data_dir", type=Path, help="folder of <category>/<file>.csv (timestamp,value)")
    n.add_argument("--labels", type=Path, required=True, help="NAB combined_windows.json")
    n.add_argument("--out", type=Path, required=True, help="results folder (NAB results layout)")
    n.add_argument(
        "--profile",
        choices=["standard", "reward_low_FP_rate", "reward_low_FN_rate"],
        help="score one profile only (default: all three)",
    )
    n.add_argument("--profiles", type=Path, help="NAB config/profiles.json (default: built in)")
    n.add_argument(
        "--detector",
        default="value",
        metavar="NAME",
        help="detector to run: " + ", ".join(_detector_names()) + " (default: value, ours)",
    )
    n.add_argument(
        "--loco",
        action="store_true",
        help="leave-one-category-out: choose the detector's setting (its small declared grid) "
        "and the one corpus-wide threshold on all categories but one, score that one; every "
        "rotation, per-rotation and mean scores (profile: --profile, default standard)",
    )
    s = sub.add_parser("scenarios", help="replay `crisis-radar simulate` output through detection")
    s.add_argument("posts", type=Path, help="posts JSONL(.gz) written by `crisis-radar simulate`")
    s.add_argument("--truth", type=Path, required=True, help="truth JSON from simulate")
    s.add_argument("--out", type=Path, help="write results JSON here (default: next to posts)")
    s.add_argument("--watchlist", type=Path, help="brands file (default: settings.watchlist_path)")
    s.add_argument(
        "--feedback",
        action="store_true",
        help="replay again with an analyst's feedback applied (each page labelled once it is "
        "over: real in a crisis event of the truth, else false_alarm) and compare",
    )
    s.add_argument(
        "--minutes-only",
        action="store_true",
        help="one pass of the posts through the stages, its brand minutes kept in "
        "POSTS-minutes.jsonl.gz (reused when newer than POSTS); both runs (without and with "
        "--feedback) score those minutes again, labels applied 10 min after each page ended: "
        "seconds per run instead of a full replay each",
    )
    s.add_argument(
        "--detector",
        default=_scenario_default(),
        metavar="NAME",
        help="the crisis scorer's volume and unique-authors detector: seasonal (default, the "
        "product's) or count (ours), or any other name evaluate nab takes, its raw score "
        "turned into a tail probability by its rank among the brand's past scores "
        "(docs/detection.md): " + ", ".join(_detector_names()),
    )
    return p


def _detector_names() -> list[str]:
    from crisis_radar.evaluate.detectors import REGISTRY

    return list(REGISTRY)


def _scenario_default() -> str:
    from crisis_radar.evaluate.detectors import SCENARIO_DEFAULT

    return SCENARIO_DEFAULT


def _nab(args: argparse.Namespace) -> int:
    from crisis_radar.evaluate import nab
    from crisis_radar.evaluate.detectors import REGISTRY

    entry = REGISTRY.get(args.detector)
    if entry is None:
        print(
            f"evaluate nab: unknown detector {args.detector!r} (one of {', '.join(REGISTRY)})",
            file=sys.stderr,
        )
        return 2

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
    grid = entry.grid if args.loco else entry.grid[:1]
    by_setting: list[list[list[float]]] = []
    cost_us = 0.0
    for k, setting in enumerate(grid):
        scores = []
        spent = 0.0
        desc = f"nab {entry.name}" + (f" {k + 1}/{len(grid)}" if len(grid) > 1 else "")
        for f in progress_bar(files, desc=desc, unit="file", file=sys.stderr):
            t = time.process_time()
            s = nab.run_step(f, functools.partial(entry.make, **setting))
            spent += time.process_time() - t
            if k == 0:
                nab.write_results(f, s, args.out)
            scores.append(s)
        if k == 0:
            cost_us = spent / max(sum(len(f.values) for f in files), 1) * 1e6
        by_setting.append(scores)
    profiles = nab.load_profiles(args.profiles)
    if args.profile:
        profiles = {args.profile: profiles[args.profile]}
    results = nab.score_corpus(files, by_setting[0], profiles)
    print(f"detector {entry.name}: {entry.description}")
    print(nab.format_table(results))
    print(f"cost: {cost_us:.1f} us CPU per point")
    out: dict[str, object] = {
        **nab.results_json(results),
        "detector": entry.name,
        "us_per_point": cost_us,
    }
    if args.loco:
        pname = args.profile or "standard"
        res = nab.loco(files, by_setting, grid, profiles[pname], pname)
        print()
        print(nab.format_loco(res))
        out["loco"] = dataclasses.asdict(res)
    path = args.out / "scores.json"
    path.write_text(json.dumps(out, indent=2))
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
    from crisis_radar.evaluate.detectors import REGISTRY, crisis_scorer, scenario_description
    from crisis_radar.settings import get_settings
    from schemas.models import BrandMinute

    if args.detector not in REGISTRY:
        print(
            f"evaluate scenarios: unknown detector {args.detector!r} "
            f"(one of {', '.join(REGISTRY)})",
            file=sys.stderr,
        )
        return 2
    make_scorer = crisis_scorer(args.detector)
    for path in (args.posts, args.truth):
        if not path.is_file():
            print(f"evaluate scenarios: no such file {path}", file=sys.stderr)
            return 2
    truth = sc.load_truth(args.truth)
    settings = get_settings()
    if args.watchlist:
        settings = settings.model_copy(update={"watchlist_path": args.watchlist})
    minutes: list[BrandMinute] = []
    if args.minutes_only:
        cache = args.posts.with_name(args.posts.name.split(".")[0] + "-minutes.jsonl.gz")
        if cache.is_file() and cache.stat().st_mtime >= args.posts.stat().st_mtime:
            minutes = list(sc.read_minutes(cache))
            print(f"brand minutes from {cache}", file=sys.stderr)
        else:
            with progress_bar(desc="one pass", unit="post", total=_count_lines(args.posts),
                              file=sys.stderr) as bar:  # fmt: skip
                minutes = sc.pass_minutes(sc.read_lines(args.posts), settings,
                                          progress=bar.update)  # fmt: skip
            sc.minutes_to_jsonl(minutes, cache)
            print(f"brand minutes kept in {cache}", file=sys.stderr)
        rep = sc.replay_minutes_feedback(minutes, None, make_scorer)
    else:
        with progress_bar(
            desc="replay", unit="post", total=_count_lines(args.posts), file=sys.stderr
        ) as bar:
            rep = sc.replay_posts(
                sc.read_lines(args.posts), settings, progress=bar.update, make_scorer=make_scorer
            )
    res = sc.evaluate(rep, truth)
    res["minutes_only"] = args.minutes_only
    res["detector"] = args.detector
    print(f"volume detector {args.detector}: {scenario_description(args.detector)}")
    print(sc.format_report(res))
    if args.feedback:
        analyst = sc.Analyst(truth)
        if args.minutes_only:
            rep = sc.replay_minutes_feedback(minutes, analyst, make_scorer)
        else:
            with progress_bar(
                desc="replay with feedback", unit="post", total=_count_lines(args.posts),
                file=sys.stderr,
            ) as bar:  # fmt: skip
                rep = sc.replay_posts(sc.read_lines(args.posts), settings, progress=bar.update,
                                      analyst=analyst, make_scorer=make_scorer)  # fmt: skip
        after = sc.evaluate(rep, truth)
        print("\nwith feedback:")
        print(sc.format_report(after))
        res["feedback"] = {**sc.compare_feedback(res, after, analyst.counts()), "results": after,
                           "given": [f.model_dump(mode="json") for f in analyst.given]}  # fmt: skip
        print()
        print(sc.format_comparison(res["feedback"]))
    out = args.out or args.posts.with_name(args.posts.name.split(".")[0] + "-eval.json")
    out.write_text(json.dumps(res, indent=2, default=str))
    print(f"results in {out}")
    return 0


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    return _nab(args) if args.what == "nab" else _scenarios(args)
