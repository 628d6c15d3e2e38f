"""``crisis-radar sentiment``: score one text per stdin line, print ``label<TAB>score``.

Each line is scored by the model of its language: ``--lang detect`` (the default) identifies each
line (detectors.language), ``--lang CODE`` gives every line that language (``--lang en`` forces
English). A language without a model prints ``unknown<TAB>0.0000``. Output order is input
order; empty lines give ``neutral<TAB>0.0000``. Interactive use (stdin is a TTY) or
``--line-buffered`` answers each line at once; otherwise lines are scored in batches."""

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
    parser.add_argument(
        "--lang",
        default="detect",
        help="language of every line as an ISO 639-1 code (en, pt, ...), or 'detect' per line "
        "(default); a language without a model gives 'unknown'",
    )
    parser.add_argument(
        "--model", help="English model file (default: the one shipped in the package)"
    )
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
    from detectors.sentiment_multi import MultiSentiment, base_language

    lang = None if args.lang == "detect" else base_language(args.lang)
    if args.lang != "detect" and lang is None:
        parser.error(f"--lang: not a language code: {args.lang!r} (e.g. en, pt, pt-BR, detect)")
    try:
        model = MultiSentiment.load_default()
        if args.model:
            model.english = SentimentModel.load(args.model)
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
            if lang is None:
                preds = model.predict_many(batch)
            else:
                preds = model.predict_resolved(batch, [lang] * len(batch))
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
