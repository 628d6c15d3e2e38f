"""``crisis-radar sentiment``: score one text per stdin line, print ``label<TAB>score``.

Output order is input order; empty lines give ``neutral<TAB>0.0000``. Interactive use (stdin is
a TTY) or ``--line-buffered`` answers each line at once; otherwise lines are scored in batches.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from typing import TextIO


def _batches(stream: TextIO, size: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for line in stream:
        batch.append(line.rstrip("\r\n"))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="crisis-radar sentiment",
        description="Score one text per stdin line; writes 'label<TAB>score' (score in [-1, 1]).",
    )
    parser.add_argument(
        "--line-buffered",
        action="store_true",
        help="answer and flush after every line (default when stdin is a TTY)",
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=2000,
        help="lines per batch when not line-buffered (default: 2000)",
    )
    parser.add_argument(
        "--probs", action="store_true", help="also print P(negative), P(neutral), P(positive)"
    )
    parser.add_argument("--model", help="model file (default: the one shipped in the package)")
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: when batching and stderr is a terminal)",
    )
    args = parser.parse_args(argv)
    if args.batch < 1:
        parser.error("--batch must be >= 1")

    from detectors.sentiment import SentimentModel

    try:
        model = SentimentModel.load(args.model) if args.model else SentimentModel.load_default()
    except (OSError, ValueError, KeyError) as exc:
        print(f"crisis-radar sentiment: cannot load model {args.model!r}: {exc}", file=sys.stderr)
        return 2
    if hasattr(sys.stdin, "reconfigure"):  # a stray invalid byte must not end a long run
        sys.stdin.reconfigure(errors="replace")
    line_mode = args.line_buffered or sys.stdin.isatty()
    size = 1 if line_mode else args.batch
    out = sys.stdout
    bar = None
    if args.progress is None:
        args.progress = not line_mode and sys.stderr.isatty()
    if args.progress:
        from crisis_radar.progress import progress_bar

        bar = progress_bar(unit=" posts", file=sys.stderr)
    try:
        for batch in _batches(sys.stdin, size):
            preds = model.predict_many(batch)
            if args.probs:
                lines = [
                    f"{p.label}\t{p.score:.4f}\t" + "\t".join(f"{x:.4f}" for x in p.probs)
                    for p in preds
                ]
            else:
                lines = [f"{p.label}\t{p.score:.4f}" for p in preds]
            out.write("\n".join(lines) + "\n")
            if line_mode:
                out.flush()
            if bar is not None:
                bar.update(len(batch))
        out.flush()
    except BrokenPipeError:  # e.g. `| head`: stop quietly
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        return 130
    finally:
        if bar is not None:
            bar.close()
    return 0
