"""``crisis-radar dlq show|replay``: inspect dead letters and re-send them after a fix.

``show`` lists letters from ``posts.dlq`` (newest last) with reason counts. ``replay``
re-decodes each letter's original bytes with the current normalisers and sends the ones that
are now valid to ``posts.raw``; still-invalid letters stay where they are and are counted.
Both read the topic from its start to its current end, so they terminate.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Iterator

from kafka import TopicPartition

from crisis_radar.ingest.normalise import FORMATS, parse_mapping
from crisis_radar.ingest.pipeline import Pipeline, Send
from crisis_radar.settings import Settings, get_settings
from schemas import stages
from schemas.models import DeadLetter
from schemas.validate import original_bytes


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="crisis-radar dlq", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="action", required=True)
    show = sub.add_parser("show", help="list dead letters")
    show.add_argument("--limit", type=int, default=20, help="show the last N (0: all)")
    show.add_argument("--reason", help="only this reason")
    replay = sub.add_parser("replay", help="re-decode dead letters and re-send valid ones")
    replay.add_argument("--reason", help="only this reason")
    replay.add_argument("--format", default="auto", choices=["auto", *FORMATS])
    replay.add_argument("--map", dest="mapping", help="generic columns, as for ingest")
    replay.add_argument("--dry-run", action="store_true", help="count what would be re-sent")
    return p


def read_dead_letters(settings: Settings) -> Iterator[DeadLetter | bytes]:
    """Every letter on the DLQ topic, start to the end offsets seen now (bytes if unreadable)."""
    from crisis_radar.ingest.producer import make_consumer

    topic = settings.topic(stages.POSTS_DLQ)
    consumer = make_consumer(settings, consumer_timeout_ms=5000)
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        pending = {tp for tp in tps if end[tp] > consumer.position(tp)}
        while pending:
            batch = consumer.poll(timeout_ms=1000, max_records=5000)
            for tp, messages in batch.items():
                for msg in messages:
                    if msg.offset >= end[tp]:
                        continue
                    try:
                        yield DeadLetter.model_validate_json(msg.value)
                    except ValueError:
                        yield msg.value
            pending = {tp for tp in pending if consumer.position(tp) < end[tp]}
    finally:
        consumer.close()


def _preview(letter: DeadLetter, width: int = 120) -> str:
    text = original_bytes(letter).decode("utf-8", "replace").replace("\n", "\\n")
    return text if len(text) <= width else text[: width - 3] + "..."


def show(settings: Settings, limit: int, reason: str | None) -> int:
    letters: list[DeadLetter] = []
    counts: Counter[str] = Counter()
    for letter in read_dead_letters(settings):
        if isinstance(letter, bytes):
            counts["<unreadable>"] += 1
            continue
        counts[letter.reason] += 1
        if reason is None or letter.reason == reason:
            letters.append(letter)
    for letter in letters[-limit:] if limit else letters:
        print(f"{letter.received_at:%Y-%m-%d %H:%M:%S} {letter.reason:<18} {letter.source}")
        print(f"    error:    {letter.error}")
        print(f"    original: {_preview(letter)}")
    total = sum(counts.values())
    by_reason = ", ".join(f"{r}={n}" for r, n in counts.most_common()) or "none"
    print(f"{total} dead letters on {settings.topic(stages.POSTS_DLQ)}: {by_reason}")
    return 0


def replay(
    settings: Settings, reason: str | None, fmt: str, mapping: dict[str, str], dry_run: bool
) -> int:
    from crisis_radar.ingest.producer import Sink, make_producer

    producer = None if dry_run else make_producer(settings)
    sink = Sink(settings, producer)
    pipeline = Pipeline(fmt, mapping, source="dlq-replay")
    still: Counter[str] = Counter()
    considered = 0
    try:
        for letter in read_dead_letters(settings):
            if isinstance(letter, bytes) or (reason and letter.reason != reason):
                continue
            considered += 1
            for outcome in pipeline.process(original_bytes(letter)):
                if isinstance(outcome, Send):
                    sink.post(outcome)
                elif isinstance(outcome, DeadLetter):
                    still[outcome.reason] += 1  # not re-dead-lettered: it is already there
        sink.flush()
    finally:
        if producer is not None:
            producer.close(timeout=10)
    verb = "would re-send" if dry_run else "re-sent"
    left = ", ".join(f"{r}={n}" for r, n in still.most_common()) or "none"
    s = pipeline.stats
    print(
        f"replayed {considered} dead letters: {verb} {s.sent} posts, "
        f"skipped {s.skipped}, still invalid {sum(still.values())} ({left})"
    )
    return 0


def main(argv: list[str], settings: Settings | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = settings or get_settings()
    from radar_base.errors import probe_kafka

    probe_kafka(settings.kafka_bootstrap)  # refused: one line now, not after 30 s of retries
    try:
        if args.action == "show":
            return show(settings, args.limit, args.reason)
        try:
            mapping = parse_mapping(args.mapping)
        except ValueError as exc:
            print(f"crisis-radar dlq: {exc}", file=sys.stderr)
            return 2
        return replay(settings, args.reason, args.format, mapping, args.dry_run)
    except Exception as exc:  # kafka errors: one clear line, not a traceback
        from kafka.errors import KafkaError

        if not isinstance(exc, KafkaError):
            raise
        print(f"crisis-radar dlq: Kafka at {settings.kafka_bootstrap}: {exc!r}", file=sys.stderr)
        return 1
