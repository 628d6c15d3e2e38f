"""``crisis-radar worker`` / ``python -m streams``: run the Faust stream worker (all stages)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def check_watchlist(path: Path) -> None:
    """Validate the watchlist before anything reads it (several stages do): a ``ConfigError``
    with file:line, not a traceback from whichever stage reads it first."""
    from detectors.brands import Watchlist, WatchlistError
    from radar_base.errors import ConfigError

    try:
        Watchlist.from_yaml(path)
    except WatchlistError as exc:
        fix = "edit the watchlist (CRISIS_RADAR_WATCHLIST_PATH)"
        raise ConfigError(exc.what, exc.where, fix) from exc


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="crisis-radar worker",
        description="Run the stream worker: validate, enrich, aggregate, crisis scoring, sinks. "
        "Settings come from CRISIS_RADAR_* environment variables.",
    )
    parser.add_argument("--metrics-port", type=int, help="serve /metrics here (default: settings)")
    parser.add_argument("--topic-prefix", help="isolate topics/consumer group (tests, demos)")
    parser.add_argument("--database", help="ClickHouse database for the sinks")
    parser.add_argument("--loglevel", default="warning", choices=["debug", "info", "warning"])
    args = parser.parse_args(argv)
    # Overrides through the environment, as the variables they stand for.
    if args.topic_prefix is not None:
        os.environ["CRISIS_RADAR_TOPIC_PREFIX"] = args.topic_prefix
    if args.database:
        os.environ["CRISIS_RADAR_CLICKHOUSE_DATABASE"] = args.database
    from radar_base.errors import ServiceUnreachable, describe, kafka_unreachable, probe_kafka
    from radar_base.settings import get_settings

    get_settings.cache_clear()
    settings = get_settings()  # a bad variable: ValidationError, named by the error boundary
    json_logs = settings.log_format == "json"
    if json_logs:  # before anything logs or prints (Kafka clients, the start-up lines)
        from radar_base import logs

        logs.configure_json(args.loglevel, "crisis_radar.worker")
    port = args.metrics_port if args.metrics_port is not None else settings.metrics_port
    check_watchlist(settings.watchlist_path)
    try:
        from radar_base.migrations import require_schema

        require_schema(settings)
    except ServiceUnreachable as exc:  # the sinks retry until it is back: start anyway
        print(f"crisis-radar worker: warning: {exc}", file=sys.stderr)

    import faust

    from streams import metrics
    from streams.topics import ensure_topics

    probe_kafka(settings.kafka_bootstrap)  # refused: one line now, not after 30 s of retries
    try:
        ensure_topics(settings)
    except Exception as exc:  # kafka-python raises several unrelated types (auth, timeouts...)
        raise describe(exc) or kafka_unreachable(settings.kafka_bootstrap, repr(exc)) from exc
    from streams.app import build_worker
    from streams.faust_runtime import FaustPatchError, applied

    try:
        worker = build_worker(settings)
    except FaustPatchError as exc:  # a configuration error: one line, no traceback
        print(f"crisis-radar worker: {exc}", file=sys.stderr)
        return 2
    print(f"Faust patches: {' '.join(applied()) or 'none'}", file=sys.stderr)
    try:
        worker.runner.start()  # load models now: fail fast with a clear message, not in an agent
    except (OSError, ImportError, ValueError) as exc:
        print(f"crisis-radar worker: cannot load the detectors: {exc!r}", file=sys.stderr)
        return 1

    try:
        metrics.serve(port, settings.metrics_host)
    except OSError as exc:
        print(
            f"crisis-radar worker: cannot serve /metrics on {settings.metrics_host}:{port}: {exc}",
            file=sys.stderr,
        )
        return 1
    print(
        f"worker {worker.app.conf.id}: broker {settings.kafka_bootstrap}, "
        f"ClickHouse {settings.clickhouse_host}:{settings.clickhouse_port}/"
        f"{settings.clickhouse_database}, metrics http://127.0.0.1:{port}/metrics",
        file=sys.stderr,
    )
    # JSON: Faust re-configures logging when it starts; give it the same JSON handler.
    config = logs.logging_config(args.loglevel) if json_logs else None
    runner = faust.Worker(worker.app, loglevel=args.loglevel, quiet=True, logging_config=config)
    if json_logs:
        runner.spinner = None  # Faust's spinner draws on a terminal
    runner.execute_from_commandline()  # runs until SIGINT/SIGTERM, then exits the process
    return 0
