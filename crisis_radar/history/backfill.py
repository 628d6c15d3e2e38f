"""Backfill: a user's history through the pipeline core into ClickHouse, and the detectors'
learned baselines handed to the live worker.

Posts are read in event-time order (``crisis_radar.ingest.history``: any order, any size, an
external sort with bounded memory), run through ``OfflinePipeline`` (the worker's own stages)
and written to ClickHouse with ``backfill = 1``: posts, every minute version, and the alerts the
history raised. Those alerts never page: they are not sent to crisis.alerts and no metric the
paging rules read moves. Dead letters (unparseable rows, bad dates) go to posts.dlq with their
reasons, as ``ingest``'s do.

Baselines: each brand's scorer state after the history (level, hour-of-day and day-of-week
offsets, shares: ``detectors.crisis.CrisisScorer``) is appended to the worker's changelogged
``crisis-state`` table, in the brand's partition, unless the live worker's own state for that
brand has learned a later minute. A worker (re)started afterwards recovers the table and scores
its first live minutes against them: no cold start. A worker already running keeps the state
it holds until its next restart or rebalance (the command says so).
"""

from __future__ import annotations

import pickle
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from crisis_radar.history.offline import OfflinePipeline, Step, brand_partition
from schemas import stages
from schemas.models import DeadLetter

BATCH = 5_000  # posts per core step
FLUSH_ROWS = 50_000  # rows held before an insert


@dataclass
class BackfillSummary:
    read: int = 0
    posts: int = 0  # valid posts through the core
    stored: int = 0  # posts rows (a post matching two brands is two rows)
    rejected: Counter[str] = field(default_factory=Counter)
    minutes: int = 0
    alerts: Counter[str] = field(default_factory=Counter)  # by severity label
    baselines: int = 0  # brands whose state went to the worker
    kept_live: int = 0  # brands whose live state was newer, left alone
    out_of_order: int = 0
    repeated: int = 0  # posts read again (overlapping exports), counted once
    first: datetime | None = None
    last: datetime | None = None

    def lines(self) -> list[str]:
        reasons = ", ".join(f"{r}={n:,}" for r, n in self.rejected.most_common()) or "none"
        alerts = ", ".join(f"{s}={n}" for s, n in sorted(self.alerts.items())) or "none"
        span = (
            f"{self.first:%Y-%m-%d %H:%M} .. {self.last:%Y-%m-%d %H:%M} UTC" if self.first else "-"
        )
        return [
            f"read {self.read:,} records: {self.posts:,} posts ({span}), "
            f"{self.out_of_order:,} out of event-time order (sorted)"
            + (
                f", {self.repeated:,} repeated (same post again: counted once)"
                if self.repeated
                else ""
            ),
            f"stored {self.stored:,} post rows, {self.minutes:,} brand minutes (backfill = 1)",
            f"rejected {sum(self.rejected.values()):,} to {stages.POSTS_DLQ} ({reasons})",
            f"alerts {sum(self.alerts.values())} ({alerts}), stored flagged, never paged",
            f"baselines handed to the worker: {self.baselines} brands"
            + (f" ({self.kept_live} kept their newer live state)" if self.kept_live else ""),
        ]


class ClickHouseRows:
    """Buffers rows per table and inserts them in big columnar batches."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.pending: dict[str, list[tuple[Any, ...]]] = {}

    def add(self, table: str, rows: list[tuple[Any, ...]]) -> None:
        held = self.pending.setdefault(table, [])
        held += rows
        if len(held) >= FLUSH_ROWS:
            self.flush(table)

    def flush(self, table: str | None = None) -> None:
        from streams.rows import write_rows

        for name in [table] if table else list(self.pending):
            rows = self.pending.pop(name, [])
            if rows:
                write_rows(self.client, name, rows)


def run_backfill(
    history: Any,
    pipeline: OfflinePipeline,
    rows: ClickHouseRows,
    dead: Callable[[str, bytes], None],
    progress: Callable[[BackfillSummary], None] = lambda s: None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> BackfillSummary:
    """Feed ``history`` (``crisis_radar.ingest.history.History``) through ``pipeline``, store
    what comes out; ``dead(reason, dead letter JSON)`` for the rejected."""
    from streams.rows import ALERTS, BRAND_MINUTES

    alert_row, minute_row = ALERTS.row, BRAND_MINUTES.row

    summary = BackfillSummary()
    pipeline.keep_rows(True, backfill=True)  # the enrich stage builds flagged posts rows

    def store(step: Step) -> None:
        out = step.enriched
        summary.repeated += out.n_repeated  # read before, within the dedup horizon
        for _stage, reason, value in out.dead:
            summary.rejected[reason] += 1
            dead(reason, value)
        rows.add("posts", out.rows)
        rows.add("brand_replies", out.reply_rows)
        rows.add("brand_minutes", [minute_row(m, backfill=True) for m in step.minutes])
        rows.add("alerts", [alert_row(a, backfill=True) for a in step.alerts])
        summary.stored += len(out.rows)
        summary.minutes += len(step.minutes)
        summary.alerts.update(a.severity.label for a in step.alerts)

    # validated posts handed over where enrichment runs in this process (no second decode)
    for batch, parsed in _batches(history.sends(parsed=pipeline.takes_posts), summary):
        store(pipeline.feed(batch, now(), parsed))
        summary.read = history.stats.read
        progress(summary)
    store(pipeline.finish(now()))
    rows.flush()
    stats = history.stats
    summary.read = stats.read
    summary.rejected.update(stats.rejected)
    summary.out_of_order = history.out_of_order
    summary.repeated += stats.repeated  # the same post in two files (or twice in one)
    return summary


def _batches(
    sends: Iterator[Any], summary: BackfillSummary
) -> Iterator[tuple[list[tuple[bytes, bytes]], list[Any]]]:
    """Batches of (key, JSON) and, parallel, each one's ``Send.post`` (None: not parsed)."""
    batch: list[tuple[bytes, bytes]] = []
    parsed: list[Any] = []
    for s in sends:
        batch.append((s.key, s.value))
        parsed.append(s.post)
        summary.posts += 1
        summary.first = summary.first or s.created_at
        summary.last = s.created_at
        if len(batch) >= BATCH:
            yield batch, parsed
            batch, parsed = [], []
    if batch:
        yield batch, parsed


def live_learned(settings: Any) -> dict[bytes, datetime | None]:
    """The last minute each brand's live state has learned, from the changelog."""
    from kafka import KafkaConsumer

    from crisis_radar.ingest.producer import kafka_security
    from streams.topics import changelog_topic

    out: dict[bytes, datetime | None] = {}
    consumer = KafkaConsumer(
        changelog_topic(settings),
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=2000,
        **kafka_security(settings),
    )
    try:
        for msg in consumer:
            if msg.key and not msg.key.startswith(b"\x00") and msg.value:
                try:
                    out[msg.key] = pickle.loads(msg.value)[2]
                except Exception:  # a state this code cannot read: the live worker's business
                    out[msg.key] = datetime.max.replace(tzinfo=UTC)
    finally:
        consumer.close()
    return out


def hand_over_baselines(
    settings: Any, pipeline: OfflinePipeline, producer: Any, summary: BackfillSummary
) -> None:
    """Append each brand's state to the worker's changelog, unless its live one is newer."""
    from streams.topics import changelog_topic

    live = live_learned(settings)
    topic = changelog_topic(settings)
    for key in sorted(pipeline.crisis.scorers):
        mine = pipeline.crisis.learned.get(key)
        theirs = live.get(key)
        if theirs is not None and (mine is None or theirs >= mine):
            summary.kept_live += 1
            continue
        part = brand_partition(key, settings.topic_partitions)
        producer.send(topic, key=key, value=pipeline.crisis.state(key), partition=part)
        summary.baselines += 1
    producer.flush()


def dead_letter_sender(producer: Any, settings: Any) -> Callable[[str, bytes], None]:
    topic = settings.topic(stages.POSTS_DLQ)

    def send(reason: str, value: bytes) -> None:
        producer.send(topic, key=reason.encode(), value=value)

    return send


def dead_letter_of(send: Callable[[str, bytes], None]) -> Callable[[DeadLetter], None]:
    """``History``'s on_dead callback: each reading/parsing reject to posts.dlq."""
    return lambda d: send(d.reason, d.to_json())
