"""``crisis-radar backfill FILES...``: load history through the pipeline core.

Examples::

    crisis-radar backfill export.csv --map id=tweet_id,created_at=tweet_created,author=name
    crisis-radar backfill archive/ --watchlist deploy/watchlist.yaml
    crisis-radar backfill last-month.jsonl.gz --no-baselines   # store only; keep live state

Posts, brand minutes and alerts of the history go to ClickHouse flagged ``backfill = 1``; the
alerts never page. Rejected rows go to posts.dlq with their reason. The detectors' learned
baselines are handed to the worker's state (restart a running worker to pick them up), so a
newly watched brand starts warm. See docs/history.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from crisis_radar.history.cli import add_input_arguments
from crisis_radar.ingest.normalise import parse_mapping
from crisis_radar.progress import progress_bar
from crisis_radar.settings import Settings, get_settings


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="crisis-radar backfill",
        description="Run a history of posts through the pipeline core into ClickHouse "
        "(flagged backfill = 1) and hand the learned baselines to the live worker.",
        epilog=__doc__.split("Examples::", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_input_arguments(p)
    p.add_argument(
        "--no-baselines", action="store_true", help="store only; leave the worker's state alone"
    )
    p.add_argument("--tmpdir", type=Path, help="where the event-time sort spills (default: TMPDIR)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _fail(message: str, code: int = 2) -> int:
    print(f"crisis-radar backfill: {message}", file=sys.stderr)
    return code


def main(argv: list[str], settings: Settings | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        mapping = parse_mapping(args.mapping)
    except ValueError as exc:
        return _fail(str(exc))
    from crisis_radar.ingest.history import NoTimeColumn, read_history
    from crisis_radar.ingest.pipeline import input_problem, paths_of

    paths = paths_of(args.inputs)
    problem = input_problem(args.inputs, paths, stdin=False)
    if problem:
        return _fail(problem)
    settings = settings or get_settings()
    if args.watchlist is not None:
        if not args.watchlist.is_file():
            return _fail(f"no such watchlist: {args.watchlist}")
        settings = settings.model_copy(update={"watchlist_path": args.watchlist})
    try:
        return _run(args, settings, paths, mapping, read_history)
    except NoTimeColumn as exc:
        return _fail(str(exc))


def _run(
    args: argparse.Namespace, settings: Settings, paths: list[str], mapping: dict[str, str],
    read_history: Any,
) -> int:  # fmt: skip
    from crisis_radar.clickhouse import make_client, migrate
    from crisis_radar.history.backfill import (
        ClickHouseRows,
        dead_letter_of,
        dead_letter_sender,
        hand_over_baselines,
        run_backfill,
    )
    from crisis_radar.history.offline import OfflinePipeline
    from crisis_radar.ingest.producer import make_producer
    from radar_base.errors import clickhouse_unreachable, kafka_unreachable, probe_kafka
    from streams.topics import ensure_topics

    probe_kafka(settings.kafka_bootstrap)  # refused: one line now, not after 30 s of retries
    try:
        ensure_topics(settings)
        producer = make_producer(settings)
    except Exception as exc:  # kafka-python raises several unrelated types when down
        raise kafka_unreachable(settings.kafka_bootstrap, f"{type(exc).__name__}: {exc}") from exc
    try:
        migrate(settings)
        client = make_client(settings)
    except Exception as exc:
        producer.close()
        where = f"{settings.clickhouse_host}:{settings.clickhouse_port}"
        raise clickhouse_unreachable(where, " ".join(str(exc).split())) from exc
    started = time.monotonic()
    dead = dead_letter_sender(producer, settings)
    history = read_history(paths, args.format, mapping, "backfill", dead_letter_of(dead),
                           tmpdir=args.tmpdir)  # fmt: skip
    pipeline = OfflinePipeline.from_settings(settings)
    bar = progress_bar(unit=" posts", file=sys.stderr, disable=args.quiet, mininterval=0.5)

    def progress(s: Any) -> None:
        bar.update(s.posts - bar.n)
        bar.set_postfix(read=str(s.read), minutes=str(s.minutes),
                        alerts=str(sum(s.alerts.values())), refresh=False)  # fmt: skip

    try:
        summary = run_backfill(history, pipeline, ClickHouseRows(client), dead, progress)
        progress(summary)
        bar.close()
        if not args.no_baselines:
            hand_over_baselines(settings, pipeline, producer, summary)
        producer.flush()
    except KeyboardInterrupt:
        bar.close()
        return _fail("interrupted: what was stored stays (re-running is safe: rows replace "
                     "themselves by identity)", 130)  # fmt: skip
    finally:
        pipeline.close()  # the enrich child, if any
        producer.close(timeout=10)
        client.disconnect()
    elapsed = max(time.monotonic() - started, 1e-9)
    for line in summary.lines():
        print(line, file=sys.stderr)
    print(
        f"backfill took {elapsed:.1f} s ({summary.posts / elapsed:,.0f} posts/s)", file=sys.stderr
    )
    if summary.baselines and _worker_running(settings):
        print("note: a worker is running: restart it to start from these baselines",
              file=sys.stderr)  # fmt: skip
    if summary.posts == 0:
        return _fail("no usable posts in the input", 1)
    return 0


def _worker_running(settings: Settings) -> bool:
    """Does the worker's consumer group have members (it holds its state in memory)?"""
    from kafka import KafkaAdminClient

    try:
        admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
        try:
            groups = admin.describe_consumer_groups(
                [f"{settings.topic_prefix}{settings.worker_id}"]
            )
        finally:
            admin.close()
        return any(g.members for g in groups)
    except Exception:  # unknown: say nothing
        return False
