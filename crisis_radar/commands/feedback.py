"""``crisis-radar feedback``: tell the detectors what an alert or a post really was.

    crisis-radar feedback alert 4f1c... --label false_alarm --note "launch queue, not a crisis"
    crisis-radar feedback alert 4f1c... --label real --by ann
    crisis-radar feedback post bluesky:3k1 --sentiment neutral

Labels: real | false_alarm | expected; sentiments: negative | neutral | positive. Each is
stored in ClickHouse with who (--by, default $USER), when and why (--note), append-only (a
later label supersedes in queries; nothing is overwritten), then produced to the
crisis.feedback topic, where the running worker learns it (docs/feedback.md): false alarms
raise the brand's paging levels (capped), confirmed crises never lower its sensitivity,
sentiment corrections teach an online text model with bounded influence per analyst.
`crisis-radar explain --brand B` shows what feedback changed.
"""

from __future__ import annotations

import argparse
import getpass
import os
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from crisis_radar.clickhouse import check_identifier, make_client, require_schema
from crisis_radar.settings import get_settings
from radar_base.errors import ConfigError
from radar_base.settings import Settings
from schemas import stages
from schemas.feedback import ALERT_LABELS, AlertFeedback, ExpectedEvent, PostFeedback

SENTIMENTS = ("negative", "neutral", "positive")
ALERT_COLUMNS = ("feedback_id", "alert_id", "brand", "minute", "severity", "score",
                 "negative_share", "mean_sentiment", "volume_ratio", "label", "note", "given_by",
                 "given_at")  # fmt: skip
POST_COLUMNS = ("feedback_id", "post_key", "brand", "text", "sentiment", "previous", "note",
                "given_by", "given_at")  # fmt: skip
EVENT_COLUMNS = ("event_id", "brand", "starts", "ends", "kind", "note", "given_by", "given_at")


def who(by: str | None) -> str:
    """--by, else the login name: every label says who gave it."""
    name = (by or os.environ.get("USER") or getpass.getuser() or "").strip()
    if not name:
        raise ConfigError("who gives this feedback? pass --by NAME (USER is not set)")
    return name


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def choice(value: str, allowed: Sequence[str], what: str) -> str:
    if value not in allowed:
        raise ConfigError(f"unknown {what} {value!r}; expected one of {', '.join(allowed)}")
    return value


def row(record: Any, columns: Sequence[str]) -> tuple[Any, ...]:
    """A ClickHouse row of a feedback record (``given_by``/``given_at``, ``starts``/``ends``:
    the columns avoid SQL keywords)."""
    names = {"given_by": "by", "given_at": "at", "starts": "start", "ends": "end"}
    out = []
    for c in columns:
        v = getattr(record, names.get(c, c))
        out.append(v.replace(tzinfo=None) if isinstance(v, datetime) else v)
    return tuple(out)


def store_and_send(
    settings: Settings,
    client: Any,
    table: str,
    columns: Sequence[str],
    record: AlertFeedback | PostFeedback | ExpectedEvent,
    key: bytes,
) -> None:
    """Stored first (the audit trail), then produced to crisis.feedback (the worker learns)."""
    from kafka import KafkaProducer

    from crisis_radar.security import kafka_python_kwargs
    from streams.topics import ensure_topics

    cols = ", ".join(check_identifier(c) for c in columns)
    client.execute(f"INSERT INTO {check_identifier(table)} ({cols}) VALUES",
                   [row(record, columns)])  # fmt: skip
    ensure_topics(settings)  # a worker of this version may not have run yet
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all",
                             **kafka_python_kwargs(settings))  # fmt: skip
    try:
        producer.send(settings.topic(stages.CRISIS_FEEDBACK), key=key, value=record.to_json())
        producer.flush(timeout=30)
    finally:
        producer.close()


def observed(signals: str, name: str, default: float, lo: float = 0.0) -> float:
    """The deciding minute's value of signal ``name`` (negative_share, mean_sentiment), from the
    signals stored with the alert, clipped to [lo, 1]."""
    import json

    try:
        for s in json.loads(signals or "[]"):
            if s.get("signal") == name:
                return max(lo, min(1.0, float(s.get("observed", default))))
    except (ValueError, TypeError, AttributeError):
        pass
    return default


def volume_ratio(signals: str) -> float:
    """The deciding minute's posts over expected posts (at least one expected, as the detector
    smooths it), from the alert's volume signal; 0 if absent (the widest pattern)."""
    import json

    try:
        for s in json.loads(signals or "[]"):
            if s.get("signal") == "volume":
                return max(0.0, float(s["observed"])) / max(float(s["expected"]), 1.0)
    except (ValueError, TypeError, AttributeError, KeyError):
        pass
    return 0.0


def negative_share(signals: str) -> float:
    return observed(signals, "negative_share", 0.0)


def _alert(args: argparse.Namespace, settings: Settings, client: Any) -> str:
    label = choice(args.label, ALERT_LABELS, "label")
    rows = client.execute(
        "SELECT brand, minute, severity, score, signals FROM alerts FINAL "
        "WHERE alert_id = %(id)s LIMIT 1",
        {"id": args.id},
    )
    if not rows:
        raise ConfigError(f"no alert {args.id!r} in {args.db}",
                          fix="crisis-radar explain --brand B shows alert ids")  # fmt: skip
    brand, minute, severity, score, signals = rows[0]
    record = AlertFeedback(
        feedback_id=uuid.uuid4().hex, alert_id=args.id, brand=brand,
        minute=minute.replace(tzinfo=UTC), severity=int(severity),
        score=max(0.0, min(1.0, float(score))), negative_share=negative_share(signals),
        mean_sentiment=observed(signals, "mean_sentiment", -1.0, lo=-1.0),
        volume_ratio=volume_ratio(signals),
        label=label,  # type: ignore[arg-type]
        note=args.note, by=who(args.by), at=now(),
    )  # fmt: skip
    store_and_send(settings, client, "alert_feedback", ALERT_COLUMNS, record, brand.encode())
    return f"alert {args.id} ({brand}, {minute:%Y-%m-%d %H:%M}) labelled {label} by {record.by}"


def _post(args: argparse.Namespace, settings: Settings, client: Any) -> str:
    sentiment = choice(args.sentiment, SENTIMENTS, "sentiment")
    rows = client.execute(
        "SELECT post_key, brand, any(text), argMax(sentiment_label, scored_at) FROM posts "
        "WHERE post_key = %(id)s OR post_id = %(id)s GROUP BY post_key, brand "
        "ORDER BY post_key, brand LIMIT 2",
        {"id": args.id},
    )
    if not rows:
        raise ConfigError(f"no post {args.id!r} in {args.db}",
                          fix="pass platform:post_id or the post id as stored")  # fmt: skip
    if len({r[0] for r in rows}) > 1:
        raise ConfigError(f"post id {args.id!r} is ambiguous; pass platform:post_id")
    key, brand, text, previous = rows[0]
    record = PostFeedback(
        feedback_id=uuid.uuid4().hex, post_key=key, brand=brand, text=text,
        sentiment=sentiment, previous=previous,  # type: ignore[arg-type]
        note=args.note, by=who(args.by), at=now(),
    )  # fmt: skip
    store_and_send(settings, client, "post_feedback", POST_COLUMNS, record, key.encode())
    return f"post {key} ({brand}): {previous} -> {sentiment} by {record.by}"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="crisis-radar feedback",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="what", required=True)
    a = sub.add_parser("alert", help="label an alert: real | false_alarm | expected")
    a.add_argument("id", help="alert id (crisis-radar explain shows it)")
    a.add_argument("--label", required=True, help="real | false_alarm | expected")
    q = sub.add_parser("post", help="correct a post's sentiment")
    q.add_argument("id", help="post key (platform:post_id) or post id")
    q.add_argument("--sentiment", required=True, help="negative | neutral | positive")
    for s in (a, q):
        s.add_argument("--note", default="", help="why (stored with the label)")
        s.add_argument("--by", help="who gives it (default: $USER)")
        s.add_argument("--database", help="ClickHouse database (default: from settings)")
    return p


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    settings = get_settings()
    db = args.db = check_identifier(args.database or settings.clickhouse_database)
    require_schema(settings, db)  # unreachable or not migrated: one line (error boundary)
    client = make_client(settings, database=db)
    try:
        print((_alert if args.what == "alert" else _post)(args, settings, client))
    finally:
        client.disconnect()
    return 0
