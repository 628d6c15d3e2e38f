"""``crisis-radar worker`` / ``python -m streams``: run the Faust stream worker (all stages)."""

from __future__ import annotations

import argparse
import os
import sys


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
    from radar_base.settings import get_settings

    get_settings.cache_clear()
    settings = get_settings()
    json_logs = settings.log_format == "json"
    if json_logs:  # before anything logs or prints (Kafka clients, the start-up lines)
        from radar_base import logs

        logs.configure_json(args.loglevel, "crisis_radar.worker")
    port = args.metrics_port if args.metrics_port is not None else settings.metrics_port

    import faust

    from streams import metrics
    from streams.topics import ensure_topics

    try:
        ensure_topics(settings)
    except Exception as exc:  # kafka-python raises several unrelated types when down
        print(
            f"crisis-radar worker: Kafka at {settings.kafka_bootstrap}: {exc!r}; "
            "is the stack up? (crisis-radar stack up)",
            file=sys.stderr,
        )
        return 1
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
