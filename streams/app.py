"""The Faust app: one worker runs every stage. Agents only move batches; logic lives in
``streams.processing`` and ``detectors``.

posts.raw -validate+enrich-> posts.scored (key brand) (+ posts.dlq) -aggregate-> brand.minutes
  -crisis-> crisis.alerts;  sinks: posts, brand_minutes, alerts, dead_letters (ClickHouse).
  Stage label = output topic name (``schemas.stages``); validation keeps its ``posts.valid``
  metric label. posts.valid is declared but no longer written: one hop less per post, and
  exact duplicates meet because ingest partitions posts.raw by normalised text (docs).

State (docs/reliability.md): per input partition, the dedup index (enrich, every
``state_snapshot_interval_s``) and the open minute windows (aggregate, every batch) are
snapshotted with the input offset they include (``streams.state``); the crisis scorer of every
brand is pickled into the ``crisis-state`` table with the last minute it learned. A restarted
worker skips what a snapshot already holds and drops replayed upstream outputs by their source
tag, so state effects are exactly once although delivery is at-least-once.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections import defaultdict
from collections.abc import AsyncIterable, Iterable, Sized
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import faust

from radar_base.clickhouse import make_client
from radar_base.security import aiokafka_kwargs
from radar_base.settings import get_settings
from schemas import stages
from schemas.models import BrandMinute, DeadLetter
from streams import enrichment, fastpath, faustfix, metrics, sinks, state
from streams.core import AggregateStage, CrisisStage
from streams.processing import AlertContext, load_brand_labels, load_brand_words
from streams.topics import declare, state_topic

log = logging.getLogger("crisis_radar.worker")
settings = get_settings()
DATADIR = settings.stack_dir / "faust" / f"{settings.topic_prefix}{settings.worker_id}"
DATADIR.mkdir(parents=True, exist_ok=True)

# The hot path allocates dozens of container objects per post and the dedup indexes hold
# millions of long-lived ones: with the default gen-0 threshold (700) the collector ran every
# few posts. Cycles are rare here (plain records), so collect young objects far less often.
gc.set_threshold(50_000, 20, 20)
if settings.faust_fastpath:  # on by default: see streams/fastpath.py
    fastpath.install()
if settings.faust_seek_fix:  # on by default: see streams/faustfix.py (two-worker takeover)
    faustfix.install()


class _App(faust.App):
    def on_init_dependencies(self) -> Any:
        """Without Faust's Monitor sensor: it keeps per-event statistics for Faust's web views
        (disabled; our metrics are streams.metrics), a dict of sensor states per event in and
        out, ~6% of the event loop's CPU."""
        deps = super().on_init_dependencies()
        self.sensors.remove(self.monitor)
        return deps


app = _App(
    f"{settings.topic_prefix}{settings.worker_id}",  # consumer group + changelog names isolated
    broker=f"kafka://{settings.kafka_bootstrap}",
    store="memory://",
    autodiscover=False,
    web_enabled=False,
    web_bind=settings.worker_web_host,
    web_port=settings.worker_web_port,
    datadir=str(DATADIR),
    topic_partitions=settings.topic_partitions,
    topic_allow_declare=True,
    broker_session_timeout=8,
    broker_heartbeat_interval=2,
    # Backlog fairness and bounded memory (docs/architecture.md "Cost per post"): aiokafka hands
    # out buffered records partition by partition in fetch order, so 16 MB fetches of a posts.raw
    # backlog (~50k posts each) kept posts.scored records waiting behind them (aggregation
    # starved). 1 MB per partition rotates partitions every few thousand records. A stream
    # buffer pauses its partition at 80% full; the remaining 20% (4k) holds one whole poll, so
    # the shared fetcher never blocks on enrich's full buffer while aggregate waits for records.
    consumer_max_fetch_size=1024 * 1024,
    broker_max_poll_records=4_000,
    stream_buffer_maxsize=20_000,
    producer_linger_ms=5,
    producer_max_batch_size=1024 * 1024,
    key_serializer="raw",
    value_serializer="raw",
)
TOPICS = declare(app, settings)
BRAND_LABELS = load_brand_labels(settings.watchlist_path)
BRAND_WORDS = load_brand_words(settings.watchlist_path)
SERIES = metrics.BrandSeries(BRAND_LABELS)
CONTEXT = AlertContext()
# posts.scored partitions: windows aligned on the posts.raw partitions' watermarks
AGGREGATE = AggregateStage(settings.allowed_lateness_s, settings.topic_partitions, CONTEXT)
WINDOWS = AGGREGATE.windows
AGG_OFFSET = AGGREGATE.offsets  # posts.scored partition -> last offset in WINDOWS
AGG_SAVED: dict[int, tuple[float, float]] = {}  # partition -> (last snapshot time, its cost)
AGG_LOCK = asyncio.Lock()  # the idle timer must not close minutes mid-batch/mid-snapshot


async def _send_state(key: bytes, value: bytes) -> None:
    await app.producer.send_and_wait(STORE.topic, key, value, 0, None, None)


STORE = state.SnapshotStore(
    state_topic(settings), settings.kafka_bootstrap, aiokafka_kwargs(settings), _send_state
)

crisis_state = app.Table(
    "crisis-state",
    default=None,
    partitions=settings.topic_partitions,
    key_type=bytes,
    value_type=bytes,
)

_SINK_SPECS = {
    "posts": sinks.POSTS_COLUMNS,
    "brand_minutes": sinks.BRAND_MINUTES_COLUMNS,
    "alerts": sinks.ALERTS_COLUMNS,
    "dead_letters": sinks.DEAD_LETTERS_COLUMNS,
}
_sinks: dict[str, sinks.ClickHouseSink] = {}


def sink(table: str) -> sinks.ClickHouseSink:
    if table not in _sinks:
        _sinks[table] = sinks.ClickHouseSink(
            table, _SINK_SPECS[table], lambda: make_client(settings)
        )
    return _sinks[table]


def utcnow() -> datetime:
    return datetime.now(UTC)


def _send(stage: str, key: bytes, value: bytes) -> None:
    # send_soon buffers into the producer: never await a send per event (see _delivered).
    TOPICS[stage].send_soon(key=key, value=value)


_KNOWN_TOPICS: set[str] = set()


async def _publish(stage: str, items: list[tuple[bytes, bytes]] | list[Any]) -> None:
    """Hot-path sends (one per post): hand them to aiokafka as one record batch per partition,
    skipping Faust's per-message future/task chain (~15% of the worker's CPU when profiled).
    Same partitioner as Faust's own sends. Delivery is awaited by ``_delivered``.
    An item may carry headers as a third element (the source tag, ``streams.state``)."""
    if not items:
        return
    kp = app.producer._ensure_producer()  # type: ignore[attr-defined]
    topic = TOPICS[stage].get_topic_name()
    if topic not in _KNOWN_TOPICS:  # _partition needs the topic's metadata
        await kp.partitions_for(topic)
        _KNOWN_TOPICS.add(topic)
    batches: dict[int, Any] = {}
    parts: dict[bytes, int] = {}  # key -> partition: a batch has few keys (brands), and
    for item in items:  # aiokafka's murmur2 is pure Python (~2% of the loop's CPU per record)
        key, value, *rest = item
        headers = rest[0] if rest else []
        part = parts.get(key, -1)
        if part < 0:
            part = parts[key] = kp._partition(topic, None, key, value, key, value)
        batch = batches.get(part)
        if batch is None:
            batch = batches[part] = kp.create_batch()
        if batch.append(timestamp=None, key=key, value=value, headers=headers) is None:  # full
            await kp.send_batch(batch, topic, partition=part)
            batch = batches[part] = kp.create_batch()
            if batch.append(timestamp=None, key=key, value=value, headers=headers) is None:
                raise ValueError(f"record of {len(value)} bytes exceeds the producer batch size")
    for part, batch in batches.items():
        await kp.send_batch(batch, topic, partition=part)


SCORED_BACKLOG_MAX = 20_000  # posts.scored records this worker has yet to aggregate
_WAITED = [0.0, 0.0]  # seconds enrich waited since the last log line, time of that line


def _scored_backlog() -> int:
    """posts.scored records on this worker's partitions that aggregation has not processed
    (log end as of the last fetch minus the last offset aggregated): local lookups only."""
    consumer, topic, total = app.consumer, settings.topic(stages.POSTS_SCORED), 0
    for tp in consumer.assignment():
        done = AGG_OFFSET.get(tp.partition) if tp.topic == topic else None
        if done is None:  # a partition aggregation has not started on is not counted
            continue
        high = consumer.highwater(tp)
        if high is not None:
            total += max(0, high - 1 - done)
    return total


async def _let_aggregate_catch_up(max_wait_s: float = 5.0) -> None:
    """Back-pressure on enrich: with a big posts.raw backlog it could run far ahead of
    aggregation on the shared event loop (alerts late, buffers growing). Waiting here lets
    enrich's buffer fill and pause posts.raw, so the fetcher serves posts.scored. Capped: a
    stale high-water mark or a stuck partition must never stop enrichment for long."""
    start = time.monotonic()
    while _scored_backlog() > SCORED_BACKLOG_MAX and time.monotonic() < start + max_wait_s:
        await asyncio.sleep(0.05)
    waited = time.monotonic() - start
    _WAITED[0] += waited
    if start - _WAITED[1] >= 30 and _WAITED[0] >= 0.5:
        log.info("enrich waited %.1f s in 30 s for aggregation to catch up", _WAITED[0])
        _WAITED[:] = [0.0, start]


async def _delivered() -> None:
    """Wait until everything sent so far is acknowledged by Kafka. Agents await it once per
    batch, before taking the next one: Faust acks (then commits) a batch's offsets only when
    the agent moves past it, so a crash never loses a send whose input offset was committed."""
    producer = app.producer
    while producer.buffer.size:  # send_soon queue -> aiokafka (flush gives up after 0.1 s idle)
        await producer.buffer.flush()
    await producer.flush()  # aiokafka: every batch handed over so far is delivered


@app.agent(TOPICS[stages.POSTS_DLQ], name=stages.POSTS_DLQ)
async def dead_letters(stream: AsyncIterable[bytes]) -> None:
    async for values in stream.take(1000, within=0.5):  # type: ignore[attr-defined]
        rows = [sinks.dead_letter_row(DeadLetter.model_validate_json(v)) for v in values]
        await sink("dead_letters").write(rows)


# ---------------------------------------------------------------- enrich
@dataclass
class _Owned:
    """A posts.raw partition whose state the runner holds, and its snapshot timing."""

    generation: int  # the runner's child that holds it
    saved_at: float = field(default_factory=time.monotonic)  # last snapshot (or restore)
    save_cost_s: float = 0.0  # how long the last snapshot took to pickle and write
    # Watermark markers (streams/processing.py PartitionWindow): the last offset whose outputs
    # are sent, the event time reached there, and when the last marker went out.
    sent_offset: int = -1
    reached: datetime | None = None
    marked_at: float = 0.0
    idle_marked: bool = False


ENRICH: dict[int, _Owned] = {}  # posts.raw partition -> its state is in RUNNER
ENRICH_STATE = f"{stages.POSTS_RAW}>{stages.POSTS_SCORED}"  # snapshot name: offsets of posts.raw
RUNNER = enrichment.EnrichRunner(
    settings.watchlist_path,
    settings.dedup_horizon_s,
    settings.dedup_max_items,
    settings.topic_partitions,
    subprocess=settings.enrich_in_subprocess(),
)
IN_FLIGHT = 2  # enriched batches awaiting their outputs: the child works while we send
Inflight = tuple[list[Any], "asyncio.Future[Any]", int]  # events, result, RUNNER.generation


async def _restore_enrich(part: int, first_offset: int) -> list[enrichment.Record]:
    """Install a partition's snapshot in the runner, and return the records between it and
    ``first_offset``: processed again *with* their outputs (the next stage drops the copies by
    source tag), so nothing is lost even if the committed offset ran ahead of the snapshot."""
    payload = await STORE.load_payload(ENRICH_STATE, part)
    offset = await RUNNER.call("restore", part, payload)
    ENRICH[part] = _Owned(RUNNER.generation)
    gap = await state.read_range(
        settings.kafka_bootstrap, aiokafka_kwargs(settings),
        settings.topic(stages.POSTS_RAW), part, offset + 1, first_offset,
    )  # fmt: skip
    log.info("enrich p%d: snapshot at %d, first record %d", part, offset, first_offset)
    return gap


def _snapshot_due(owned: _Owned | None) -> bool:
    """A full index is tens of MB: snapshots are spaced so that writing those of all owned
    partitions takes at most ~5% of the time (a restart then re-reads more input, up to that
    spacing: docs/reliability.md). Measured on 1M posts: 11% of the CPU when spaced per
    partition only."""
    if owned is None:
        return False
    every = max(settings.state_snapshot_interval_s, _snapshot_spacing(owned.save_cost_s, ENRICH))
    return time.monotonic() - owned.saved_at >= every


@app.agent(TOPICS[stages.POSTS_RAW], name=stages.POSTS_SCORED)
async def enrich(stream: Any) -> None:
    """Validate + dedup + brand match + sentiment in one pass over posts.raw (one Faust hop and
    one JSON parse per post), by ``RUNNER`` (streams/enrichment.py: in a child process on a
    multi-core machine). Batches are handed over here and finished in order by
    ``_finish_enriched``: up to ``IN_FLIGHT`` of them wait for their outputs, so the child
    enriches the next batch while this loop sends and stores the last one."""
    queue: asyncio.Queue[Inflight] = asyncio.Queue(IN_FLIGHT)
    finisher = asyncio.ensure_future(_finish_enriched(queue))
    finisher.add_done_callback(_finisher_done)
    try:
        async for events in stream.take_events(2000, within=0.2):
            for ev in events:  # take_events acks when we move on: hold them until durable
                ev.message.incref()
            try:
                batch = await _enrich_input(events)
                due = frozenset(p for p, _ in batch if _snapshot_due(ENRICH.get(p)))
                for part in due:  # asked for now, written when this batch is durable
                    ENRICH[part].saved_at = time.monotonic()
                metrics.POSTS_IN.labels(stages.POSTS_VALID).inc(len(events))
                result = RUNNER.submit("process", batch, utcnow(), due)
            except asyncio.CancelledError:
                raise  # shutdown: left unacked, so not committed; the next owner replays them
            except Exception:
                for ev in events:  # as take_events acks a crashed batch on the way out
                    ev.message.decref()
                raise
            put = asyncio.ensure_future(queue.put((events, result, RUNNER.generation)))
            await asyncio.wait([put, finisher], return_when=asyncio.FIRST_COMPLETED)
            if finisher.done():
                put.cancel()
                finisher.result()  # raises what stopped it
                raise RuntimeError("enrich finisher stopped")
            await _let_aggregate_catch_up()
    finally:
        finisher.cancel()


def _finisher_done(task: asyncio.Future[None]) -> None:
    """The finisher only stops on errors (or shutdown). The agent may be idle and would never
    notice, its batches unacked: crash the worker instead, as a crashed agent would leave it
    wedged; its supervisor restarts it and snapshots + replay lose nothing."""
    exc = None if task.cancelled() else task.exception()
    if exc is not None:
        log.error("enrich: sending/storing batches failed; stopping the worker", exc_info=exc)
        _CRASH.append(asyncio.ensure_future(app.crash(exc)))


_CRASH: list[asyncio.Future[None]] = []  # keeps the crash task referenced until it is done


async def _enrich_input(events: list[Any]) -> list[tuple[int, list[enrichment.Record]]]:
    """A batch's records per posts.raw partition, each preceded by its gap on first use."""
    by_part: dict[int, list[enrichment.Record]] = defaultdict(list)
    for ev in events:
        m = ev.message
        by_part[m.partition].append((m.offset, m.headers, ev.value))
    batch = []
    for part, recs in by_part.items():
        owned = ENRICH.get(part)
        if owned is None or owned.generation != RUNNER.generation:
            recs = await _restore_enrich(part, recs[0][0]) + recs
        batch.append((part, recs))
    return batch


RETRIES_IF_CHILD_DIES = 3  # on the same batch in a row: then it is the batch, not bad luck


async def _finish_enriched(queue: asyncio.Queue[Inflight]) -> None:
    """Send and store enriched batches in order; a batch's events are acked once its outputs
    are durable (``_make_durable``, overlapped with the next batch), and the snapshots it
    carries are written after that."""
    durable: asyncio.Future[None] | None = None
    while True:
        events, result, generation = await queue.get()
        try:
            out = await _enriched(events, result, generation)
        except BaseException:
            for ev in events:
                ev.ack()
            raise
        rows = await _send_enriched(out)
        await _mark_progress(out.progress)
        if durable is not None:
            await durable  # one batch storing at a time: bounded memory, inserts in order
        durable = asyncio.ensure_future(_make_durable(rows, events))
        if out.snapshots:  # a snapshot only once every output it covers is durable
            await durable
            durable = None
            for part, (payload, pickle_s) in sorted(out.snapshots.items()):
                owned = ENRICH.get(part)  # None: revoked meanwhile, the new owner has its own
                if owned is not None:
                    t0 = time.monotonic()
                    await STORE.save_payload(ENRICH_STATE, part, payload)
                    owned.saved_at = time.monotonic()
                    owned.save_cost_s = pickle_s + owned.saved_at - t0


async def _enriched(
    events: list[Any], result: asyncio.Future[Any], generation: int
) -> enrichment.EnrichResult:
    """A batch's result. If the enrich process died, start a new one and enrich the batch again
    there: each partition is restored from its snapshot and the input after it is re-read (its
    outputs are sent again; the next stage drops them by source tag), so nothing is lost."""
    for _ in range(RETRIES_IF_CHILD_DIES):
        try:
            out: enrichment.EnrichResult = await result
            return out
        except BrokenProcessPool:
            if generation == RUNNER.generation:  # the first of its batches to notice
                _enrich_process_died()
            mine = app.consumer.assignment()  # a revoked partition is its new owner's business
            batch = await _enrich_input([ev for ev in events if ev.message.tp in mine])
            result = RUNNER.submit("process", batch, utcnow(), frozenset())
            generation = RUNNER.generation
    raise RuntimeError(f"the enrich process died {RETRIES_IF_CHILD_DIES} times on one batch")


def _enrich_process_died() -> None:
    log.error("the enrich process died: starting a new one, state from snapshots")
    metrics.ENRICH_RESTARTS.inc()
    RUNNER.restart()  # partitions held by the dead one restore when their next batch comes


@app.timer(interval=1.0)  # type: ignore[untyped-decorator]
async def watch_enrich_process() -> None:
    """Replace a dead enrich process even while no batch is in flight to notice it."""
    if RUNNER.broken():
        _enrich_process_died()


async def _send_enriched(out: enrichment.EnrichResult) -> list[sinks.Row]:
    """Metrics, dead letters and posts.scored records of one batch; its ClickHouse rows."""
    stage = stages.POSTS_SCORED
    for dl_stage, reason, value in out.dead:
        metrics.DLQ.labels(dl_stage, reason).inc()
        _send(stages.POSTS_DLQ, reason.encode(), value)
    metrics.POSTS_OUT.labels(stages.POSTS_VALID).inc(out.n_valid)
    metrics.POSTS_IN.labels(stage).inc(out.n_valid)
    metrics.POSTS_OUT.labels(stage).inc(len(out.items))
    observe = metrics.LATENCY.labels(stage).observe
    for seconds in out.latencies:
        observe(seconds)
    await _publish(stage, out.items)
    return out.rows


async def _publish_markers(marks: list[tuple[int, datetime | None, bool]]) -> None:
    """Watermark markers to every posts.scored partition, after the posts they cover (same
    producer, same partitions: in order). Aggregation aligns on the slowest posts.raw partition
    with them, also when its posts went to other brands' partitions."""
    if not marks:
        return
    kp = app.producer._ensure_producer()  # type: ignore[attr-defined]
    topic = TOPICS[stages.POSTS_SCORED].get_topic_name()
    for part in range(settings.topic_partitions):
        batch = kp.create_batch()
        for source, reached, idle in marks:
            headers = state.marker(source, reached, idle)
            batch.append(timestamp=None, key=b"", value=b"", headers=headers)
        await kp.send_batch(batch, topic, partition=part)


async def _mark_progress(progress: dict[int, tuple[int, datetime | None]]) -> None:
    """A batch's posts.raw partitions have reached these event times: say so downstream."""
    marks = []
    for part, (offset, reached) in sorted(progress.items()):
        owned = ENRICH.get(part)
        if owned is not None:
            owned.sent_offset, owned.reached = offset, reached
            owned.marked_at, owned.idle_marked = time.monotonic(), False
        marks.append((part, reached, False))
    await _publish_markers(marks)


IDLE_MARK_AFTER_S = 1.0  # a caught-up partition with no batch this long is idle
IDLE_MARK_EVERY_S = 10.0  # and says so again this often (a restarted aggregator learns it)


@app.timer(interval=1.0)  # type: ignore[untyped-decorator]
async def mark_idle_partitions() -> None:
    """posts.raw partitions with nothing left to read (every record's outputs sent) are idle:
    aggregation stops waiting for them (Flink's idle sources), so quiet partitions never hold
    back the minutes of busy ones."""
    if app.rebalancing:
        return
    topic, now, marks = settings.topic(stages.POSTS_RAW), time.monotonic(), []
    for tp in app.consumer.assignment():
        owned = ENRICH.get(tp.partition) if tp.topic == topic else None
        high = app.consumer.highwater(tp) if owned is not None else None
        if owned is None or high is None or owned.sent_offset < high - 1:
            continue  # not ours yet, or records left to enrich
        quiet = now - owned.marked_at
        if quiet >= (IDLE_MARK_EVERY_S if owned.idle_marked else IDLE_MARK_AFTER_S):
            owned.marked_at, owned.idle_marked = now, True
            marks.append((tp.partition, owned.reached, True))
    await _publish_markers(marks)


async def _make_durable(rows: list[sinks.Row], events: list[Any]) -> None:
    """Store a batch's rows and deliver its sends, then ack its events (their offsets become
    committable only now: the agent held one reference to each message). Runs while the agent
    enriches the next batch: ClickHouse's insert latency (~0.1-0.3 s per batch under load) no
    longer stalls enrichment. Errors: every reference taken is released (acked) as Faust's
    take_events did before, so a failed batch never wedges a rebalance's wait for acks."""
    try:
        await sink("posts").write(rows)
        await _delivered()
    finally:  # on failure too, as before holding them (the agent then fails on its next await)
        for ev in events:
            ev.ack()


SNAPSHOT_COSTS_APART = 20  # snapshots take at most 1/20 (5%) of the time


def _snapshot_spacing(cost_s: float, partitions: Sized) -> float:
    """Seconds between two snapshots of one partition so that those of all ``partitions``
    (each taking ``cost_s``) fill at most 1/``SNAPSHOT_COSTS_APART`` of the time."""
    return SNAPSHOT_COSTS_APART * cost_s * len(partitions)


# ---------------------------------------------------------------- aggregate
def _emit_minutes(closed: list[tuple[int, BrandMinute]]) -> list[sinks.Row]:
    for _, m in closed:
        _send(stages.BRAND_MINUTES, m.brand.encode(), m.to_json())
    metrics.POSTS_OUT.labels(stages.BRAND_MINUTES).inc(len(closed))
    return [sinks.minute_row(m) for _, m in closed]


Rec = tuple[int, int, Any, bytes]  # partition, offset, headers, value


async def _restore_windows(recs: list[Rec], wall: datetime) -> list[Rec]:
    """Restore the snapshot of each partition seen for the first time, and put the records
    between its offset and the first one Faust handed us in front of the batch: processed again
    *with* their outputs (duplicates downstream are dropped), so nothing is lost even if the
    committed offset ran ahead of the snapshot."""
    gaps: list[Rec] = []
    for part in sorted({r[0] for r in recs} - set(WINDOWS)):
        snap = await STORE.load(stages.BRAND_MINUTES, part)
        offset = AGGREGATE.restore(part, snap, wall)
        first = min(r[1] for r in recs if r[0] == part)
        gap = await state.read_range(
            settings.kafka_bootstrap, aiokafka_kwargs(settings),
            settings.topic(stages.POSTS_SCORED), part, offset + 1, first,
        )  # fmt: skip
        gaps += [(part, o, h, v) for o, h, v in gap]
        log.info("aggregate p%d: snapshot at %d, first record %d", part, offset, first)
    return gaps + recs


async def _save_windows(parts: Iterable[int], spaced: bool = False) -> None:
    """Snapshot the windows of ``parts``. ``spaced``: skip a partition whose last snapshot is
    recent relative to its cost, so that snapshots of all partitions take <= ~5% of the time
    (big windows under a backlog were pickled every batch: ~10% of the CPU on 1M posts), and
    at least ``state_snapshot_interval_s`` apart (the enrich stage's rule: ``_snapshot_due``;
    with the interval as a cap instead, big windows took ~7% of the loop's CPU). A restart
    re-reads the input since the last snapshot: up to that spacing."""
    now = time.monotonic()
    cap = settings.state_snapshot_interval_s
    for part in sorted(p for p in parts if p in WINDOWS):  # not if revoked meanwhile
        saved_at, cost = AGG_SAVED.get(part, (float("-inf"), 0.0))
        if spaced and now - saved_at < max(cap, _snapshot_spacing(cost, WINDOWS)):
            continue
        t0 = time.monotonic()
        await STORE.save(stages.BRAND_MINUTES, part, AGGREGATE.snapshot(part))
        t1 = time.monotonic()
        AGG_SAVED[part] = (t1, t1 - t0)


@app.agent(TOPICS[stages.POSTS_SCORED], name=stages.BRAND_MINUTES)
async def aggregate(stream: Any) -> None:
    async for events in stream.take_events(2000, within=0.2):
        async with AGG_LOCK:
            recs = [(e.message.partition, e.message.offset, e.message.headers, e.value)
                    for e in events]  # fmt: skip
            n_posts = sum(1 for e in events if e.value)  # not the watermark markers
            await _aggregate(await _restore_windows(recs, utcnow()), n_posts)


async def _aggregate(recs: list[Rec], n_posts: int) -> None:
    stage = stages.BRAND_MINUTES
    out = AGGREGATE.process(recs, utcnow())
    metrics.POSTS_IN.labels(stage).inc(n_posts)
    for brand, n in out.per_brand.items():  # metrics once per batch, not per post
        metrics.BRAND_POSTS.labels(brand).inc(n)
    if out.late:
        metrics.LATE_POSTS.labels(stage).inc(out.late)
    await sink("brand_minutes").write(_emit_minutes(out.minutes))
    await _delivered()
    await _save_windows(out.last, spaced=True)  # outputs durable first, then the state


@app.timer(interval=2.0)  # type: ignore[untyped-decorator]
async def advance_idle_partitions() -> None:
    """Close minutes on the clock: partitions whose upstream fell idle or silent, and quiet
    partitions (event time does not move there: wall-clock time does)."""
    async with AGG_LOCK:
        closed = AGGREGATE.tick(utcnow())
        await sink("brand_minutes").write(_emit_minutes(closed))
        if closed:
            await _delivered()
            await _save_windows({p for p, _ in closed})


# ---------------------------------------------------------------- crisis scoring
CRISIS = CrisisStage(BRAND_WORDS, CONTEXT, load=lambda key: crisis_state.data.get(key))


def _offset_key(part: int) -> bytes:
    """crisis-state key of a partition's offset (never a brand id: those are printable)."""
    return b"\x00offset/%d" % part


async def _crisis_gaps(recs: list[tuple[int, int, bytes]]) -> list[tuple[int, int, bytes]]:
    """brand.minutes records between the scorers' changelogged offset and the first one Faust
    handed us, for partitions seen for the first time: learned again unless already learned
    (``CrisisStage.learned``), so no minute is skipped if the committed offset ran ahead of the
    state."""
    gaps: list[tuple[int, int, bytes]] = []
    for part in sorted({r[0] for r in recs} - set(CRISIS.offsets)):
        blob = crisis_state.data.get(_offset_key(part))
        CRISIS.offsets[part] = offset = int(blob) if blob else -1
        first = min(r[1] for r in recs if r[0] == part)
        gap = await state.read_range(
            settings.kafka_bootstrap, aiokafka_kwargs(settings),
            settings.topic(stages.BRAND_MINUTES), part, offset + 1, first,
        )  # fmt: skip
        gaps += [(part, o, v) for o, _, v in gap]
        log.info("crisis p%d: state at %d, first record %d", part, offset, first)
    return gaps


@app.agent(TOPICS[stages.BRAND_MINUTES], name=stages.CRISIS_ALERTS)
async def crisis(stream: Any) -> None:
    stage = stages.CRISIS_ALERTS
    async for events in stream.take_events(500, within=0.5):
        metrics.POSTS_IN.labels(stage).inc(len(events))
        recs = [(e.message.partition, e.message.offset, e.value) for e in events]
        recs = await _crisis_gaps(recs) + recs
        assessed = CRISIS.process(recs, utcnow())
        rows = []
        for a in assessed:
            SERIES.set(
                a.partition,
                a.minute.brand,
                volume=a.minute.posts,
                negative_share=a.minute.negative_share,
                score=a.score,
                severity=int(a.severity),
            )
            if a.alert is not None:
                _send(stage, a.minute.brand.encode(), a.alert.to_json())
                metrics.POSTS_OUT.labels(stage).inc()
                log.warning("ALERT %s", a.alert.summary)
                rows.append(sinks.alert_row(a.alert))
        await sink("alerts").write(rows)
        await _delivered()  # alerts durable before the state that says they were sent
        for key in {a.minute.brand.encode() for a in assessed}:  # one changelog write per
            blob = CRISIS.state(key)  # brand per batch: survives restarts
            part = CRISIS.scorers[key][2]
            crisis_state.data[key] = blob
            crisis_state.send_changelog(part, key, blob)
        for part in {r[0] for r in recs}:  # after the scorers: never ahead of them on replay
            blob = b"%d" % CRISIS.offsets[part]
            crisis_state.data[_offset_key(part)] = blob
            crisis_state.send_changelog(part, _offset_key(part), blob)
        await _delivered()  # the changelog, before Faust commits this batch's offsets


# ---------------------------------------------------------------- housekeeping
@app.on_partitions_revoked.connect  # type: ignore[arg-type]
async def on_revoked(sender: Any, revoked: set[Any], **_: Any) -> None:
    minutes_topic = settings.topic(stages.BRAND_MINUTES)
    STORE.invalidate()  # whoever owns a partition next reads its latest snapshot
    for tp in revoked:
        if tp.topic == minutes_topic:
            SERIES.revoke(tp.partition)  # no stale per-brand gauges on this worker
            CRISIS.drop(tp.partition)  # the new owner recovers its scorers from the changelog
        elif tp.topic == settings.topic(stages.POSTS_RAW):
            if ENRICH.pop(tp.partition, None) is not None:  # restored if assigned again
                RUNNER.submit("drop", tp.partition)  # after its batches in flight (FIFO)
        elif tp.topic == settings.topic(stages.POSTS_SCORED):
            AGGREGATE.drop(tp.partition)
            AGG_SAVED.pop(tp.partition, None)


# Every second: local lookups only, and a 5 s tick missed short bursts (tests/test_faults_burst).
@app.timer(interval=1.0)  # type: ignore[untyped-decorator]
async def consumer_lag() -> None:
    if app.rebalancing:  # position() would wait for the new assignment's positions, holding
        return  # one of the consumer thread's two call workers the recovery needs
    consumer = app.consumer
    by_topic: dict[str, int] = defaultdict(int)
    for tp in consumer.assignment():
        try:
            pos = await consumer.position(tp)
            high = consumer.highwater(tp)
        except Exception:  # partition just moved; next tick will see the new assignment
            continue
        if pos is not None and high is not None:
            metrics.CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(max(0, high - pos))
            by_topic[tp.topic] += max(0, high - pos)


@app.timer(interval=1.0)  # type: ignore[untyped-decorator]
async def flush_producer() -> None:
    await app.producer.flush()


@app.on_before_shutdown.connect  # type: ignore[arg-type]
async def flush_sinks(sender: Any, **_: Any) -> None:
    """On SIGTERM write what the sinks still hold (rows already acked in Kafka)."""
    for s in list(_sinks.values()):
        try:
            await s.close()
        except Exception:  # ClickHouse gone at shutdown: those rows come back on replay
            log.exception("could not flush sink %s at shutdown", s.table)
