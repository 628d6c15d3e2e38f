"""``crisis-radar ingest``: files, stdin or a live source -> canonical Post JSON on posts.raw.

Examples::

    crisis-radar ingest posts.jsonl.gz                       # auto-detect, send to Kafka
    crisis-radar ingest newest_first.csv --map created_at=ts # sorted by event time first
    crisis-radar ingest export.csv --map text=body,created_at=ts,id=tweet_id,author=user
    cat events.jsonl | crisis-radar ingest - --format bluesky --dry-run
    crisis-radar ingest replay.jsonl --speedup 60             # one hour of posts in a minute
    crisis-radar ingest --live bluesky --track acme,globex --metrics-port 8001

Exit status: 0 when at least one post was sent (with --dry-run: passed validation); 1 when
none was (every record rejected or skipped, an empty input) or Kafka fails; 2 for usage and
configuration errors. When most records are rejected, the top reasons are printed with an
example of each and the likely fix (e.g. --format generic --map ... from the fields seen).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator
from typing import Any

from tqdm import tqdm

from crisis_radar.ingest.history import History, NoTimeColumn, check_time_column, file_day_first
from crisis_radar.ingest.normalise import FORMATS, parse_mapping
from crisis_radar.ingest.pipeline import (
    Pacer,
    Pipeline,
    Record,
    Send,
    Stats,
    file_kind,
    input_problem,
    paths_of,
    read_line_chunks,
    read_records,
    sniff_format,
)
from crisis_radar.ingest.rejects import Rejects
from crisis_radar.ingest.rejects import explain as explain_rejects
from crisis_radar.progress import progress_bar
from crisis_radar.settings import Settings, get_settings

LIVE_DEFAULT_URLS = {
    "bluesky": "wss://jetstream2.us-east.bsky.network/subscribe",
    "mastodon": "https://mastodon.social/api/v1/streaming/public",
}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="crisis-radar ingest",
        description="Normalise posts and send them to the posts.raw topic; bad input goes to "
        "posts.dlq with a reason.",
        epilog=__doc__.split("Examples::", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "inputs",
        nargs="*",
        help="JSONL/CSV/TSV/JSON (.gz ok) or .xlsx files, folders, or - for stdin",
    )
    p.add_argument("--format", default="auto", choices=["auto", "csv", "jsonl", *FORMATS])
    p.add_argument("--map", dest="mapping", help="generic columns, e.g. text=body,created_at=ts")
    p.add_argument("--live", choices=sorted(LIVE_DEFAULT_URLS), help="read a live source")
    p.add_argument("--url", help="live source URL (default: the public endpoint)")
    p.add_argument("--token", help="Mastodon access token (if the server requires one)")
    p.add_argument("--track", help="comma-separated keywords: keep only posts containing one")
    p.add_argument("--cursor", type=int, help="Jetstream: resume from this time_us")
    p.add_argument("--max-posts", type=int, help="live: stop after this many events")
    p.add_argument(
        "--order",
        choices=["time", "file"],
        help="time: all posts of all files sorted by event time before sending (default for "
        "files: the worker's per-minute windows then close in order); file: as read (default "
        "for stdin and --live)",
    )
    p.add_argument("--rate", type=float, help="cap on posts per second")
    p.add_argument("--speedup", type=float, help="replay in event time, gaps divided by N")
    p.add_argument("--dry-run", action="store_true", help="validate only, send nothing")
    p.add_argument(
        "--engine",
        default="kafka-python",
        choices=["kafka-python", "aiokafka"],
        help="producer: kafka-python (default; whole batches for canonical JSONL) or aiokafka",
    )
    p.add_argument(
        "--workers",
        type=int,
        help="processes that validate and encode canonical JSONL while this one sends "
        f"(default: 2 for >= {AUTO_WORKERS_BYTES >> 20} MB of it on 2+ cores, else 0)",
    )
    p.add_argument("--metrics-port", type=int, help="expose Prometheus metrics on this port")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _postfix(bar: tqdm[Any], s: Stats, refresh: bool = True) -> None:
    # strings: tqdm would print 30000 as 3e+4
    bar.set_postfix(sent=str(s.sent), rejected=str(s.rejected_total), skipped=str(s.skipped),
                    refresh=refresh)  # fmt: skip


def _progress_chunks(
    chunks: Iterator[list[bytes]], pipeline: Pipeline, bar: tqdm[Any]
) -> Iterator[list[bytes]]:
    """Counts lines as they are read; the caller closes ``bar`` once the last are sent."""
    for chunk in chunks:
        yield chunk
        _postfix(bar, pipeline.stats, refresh=False)
        bar.update(len(chunk))


def _progress(records: Iterator[Record], pipeline: Pipeline, quiet: bool) -> Iterator[Record]:
    bar = progress_bar(unit=" rec", file=sys.stderr, disable=quiet, mininterval=0.5)
    try:
        for i, rec in enumerate(records, 1):
            yield rec
            if i % 2000 == 0:
                s = pipeline.stats
                _postfix(bar, s)
                bar.update(2000)
        s = pipeline.stats
        _postfix(bar, s)
        bar.update(s.read - bar.n)
    finally:
        bar.close()


def _sorted_progress(history: History, quiet: bool) -> Iterator[Send]:
    """A "sorting" bar while the files are read and sorted, then a "sending" one."""
    bar = progress_bar(desc="sorting", unit=" rec", file=sys.stderr, disable=quiet, mininterval=0.5)

    def read(s: Stats) -> None:
        _postfix(bar, s, refresh=False)
        bar.update(s.read - bar.n)

    history.on_read = read
    sends = history.sends()
    try:
        for i, send in enumerate(sends):
            if i == 0:  # sorted: every post is read by now
                bar.close()
                bar = progress_bar(desc="sending", unit=" post", total=history.stats.sent,
                           file=sys.stderr, disable=quiet, mininterval=0.5)  # fmt: skip
            yield send
            if i % 2000 == 1999:
                bar.update(2000)
        bar.update(history.stats.sent - bar.n)
    finally:
        sends.close()  # the sort's temp files go now, also on errors and Ctrl-C
        bar.close()


def main(argv: list[str], settings: Settings | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.inputs and not args.live:
        print("crisis-radar ingest: give input files, - for stdin, or --live", file=sys.stderr)
        return 2
    if args.inputs and args.live:
        print("crisis-radar ingest: use either input files or --live, not both", file=sys.stderr)
        return 2
    try:
        mapping = parse_mapping(args.mapping)
    except ValueError as exc:
        print(f"crisis-radar ingest: {exc}", file=sys.stderr)
        return 2
    if mapping and args.format == "auto":
        args.format = "generic"  # a column mapping only means something for generic records
    paths = paths_of(args.inputs)
    problem = input_problem(args.inputs, paths) if paths or not args.live else None
    if problem:
        print(f"crisis-radar ingest: {problem}", file=sys.stderr)
        return 2
    order = args.order or ("file" if args.live or "-" in paths else "time")
    if order == "time" and args.live:
        print("crisis-radar ingest: --order time needs files (a live source is unbounded)",
              file=sys.stderr)  # fmt: skip
        return 2
    try:
        for path in paths:
            check_time_column(path, args.format, mapping)
    except NoTimeColumn as exc:
        print(f"crisis-radar ingest: {exc}", file=sys.stderr)
        return 2

    from crisis_radar.ingest.producer import (
        CHUNK,
        POOL_CHUNK,
        AioBatchSink,
        Sink,
        make_producer,
        run,
        run_canonical,
        run_sorted,
        screen_pool,
        serve_metrics,
    )

    settings = settings or get_settings()
    if args.metrics_port:
        serve_metrics(args.metrics_port)
    producer = None
    sink: Sink | AioBatchSink = Sink(settings, None)
    if not args.dry_run:
        from radar_base.errors import kafka_unreachable, probe_kafka

        probe_kafka(settings.kafka_bootstrap)  # refused: one line now, not after 30 s
        try:
            if args.engine == "aiokafka":
                sink = AioBatchSink.start(settings)
            else:
                producer = make_producer(settings)
                sink = Sink(settings, producer)
        except Exception as exc:  # kafka-python and aiokafka raise several unrelated types
            raise kafka_unreachable(settings.kafka_bootstrap, f"{type(exc).__name__}: {exc}; "
                                    "--dry-run only validates") from exc  # fmt: skip
    rejects = Rejects()
    sink.on_dead = rejects.add
    pacer = Pacer(args.rate, args.speedup) if (args.rate or args.speedup) else None
    workers = _workers(args, paths) if not args.live and not pacer else 0
    pool = None
    interrupted = False
    started = time.monotonic()
    pipeline = Pipeline(args.format, mapping, source=f"ingest:{args.live or 'file'}")
    history: History | None = None
    if order == "time":  # files already in order (checked cheaply) take the paths below
        history = History(paths, args.format, mapping, "ingest", on_dead=sink.dead)
        history = None if history.in_order() else history
        pipeline = history.pipeline if history is not None else pipeline
    try:
        if history is not None:
            run_sorted(_sorted_progress(history, args.quiet), sink, pacer)
        elif args.live:
            from crisis_radar.ingest.live import run_live

            url = args.url or LIVE_DEFAULT_URLS[args.live]
            records = run_live(args.live, url, args.track, args.cursor, args.max_posts, args.token)
            pipeline.fmt = args.live
            run(_progress(records, pipeline, args.quiet), pipeline, sink, pacer)
        else:
            for path in paths:
                fmt = sniff_format(path, args.format)
                lines = file_kind(path, args.format) == "lines"
                if fmt == "canonical" and not pacer and lines:
                    pipeline.start_file(fmt, f"ingest:{path}")
                    if workers and pool is None:
                        pool = screen_pool(workers)
                    size = POOL_CHUNK if pool is not None else CHUNK
                    bar = progress_bar(
                        unit=" rec", file=sys.stderr, disable=args.quiet, mininterval=0.5
                    )
                    try:
                        chunks = read_line_chunks(path, size)
                        run_canonical(_progress_chunks(chunks, pipeline, bar), pipeline, sink, pool)
                        _postfix(bar, pipeline.stats)
                    finally:
                        bar.close()
                    continue
                day_first = file_day_first(path, args.format, mapping)
                pipeline.start_file(fmt, f"ingest:{path}", day_first)
                run(_progress(read_records(path, args.format), pipeline, args.quiet), pipeline,
                    sink, pacer, pool)  # fmt: skip
        sink.flush()
    except KeyboardInterrupt:
        sink.flush()
        print("interrupted", file=sys.stderr)
        interrupted = True
    except RuntimeError as exc:
        print(f"crisis-radar ingest: {exc}", file=sys.stderr)
        return 1
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        if producer is not None:
            producer.close(timeout=10)
        if isinstance(sink, AioBatchSink):
            sink.close()
    elapsed = max(time.monotonic() - started, 1e-9)
    s = pipeline.stats
    mode = "validated (dry run)" if args.dry_run else "ingested"
    print(f"{mode}: {s.summary()} in {elapsed:.1f}s ({s.sent / elapsed:,.0f} posts/s)",
          file=sys.stderr)  # fmt: skip
    if order == "time":
        late = history.out_of_order if history is not None else 0
        print(f"reordered by event time: {late:,} of {s.sent:,} posts were out of order",
              file=sys.stderr)  # fmt: skip
    for line in explain_rejects(s, rejects):
        print(line, file=sys.stderr)
    if s.sent == 0 and not interrupted:
        what = "passed validation" if args.dry_run else "was sent"
        print(f"crisis-radar ingest: no post {what} (exit status 1)", file=sys.stderr)
        return 1
    return 0


# Below this the pool's start (~1-2 CPU-s of imports) costs more than it saves (bench/ingest.py:
# 1M posts, 390 MB: 48k posts/s with 2 workers vs 29k without, same CPU per post; 200k: a draw).
AUTO_WORKERS_BYTES = 128 << 20


def _workers(args: argparse.Namespace, paths: list[str]) -> int:
    if args.workers is not None:
        return max(int(args.workers), 0)
    if args.engine != "kafka-python" or (os.cpu_count() or 1) < 2:
        return 0
    lines = [p for p in paths if p != "-" and file_kind(p, args.format) == "lines"]
    size = sum(os.path.getsize(p) * (4 if p.endswith(".gz") else 1) for p in lines)
    return 2 if size >= AUTO_WORKERS_BYTES else 0
