"""The Faust adapter: one worker runs every stage. It only moves batches, makes outputs durable
and writes state; the stages are plain objects (``streams.core``, ``streams.enrichment``) and
the logic is in ``streams.processing`` and ``detectors``.

posts.raw -validate+enrich-> posts.scored (key brand) (+ posts.dlq) -aggregate-> brand.minutes
  -crisis-> crisis.alerts;  sinks: posts, brand_minutes, alerts, dead_letters (ClickHouse).
  Stage label = output topic name (``schemas.stages``); validation keeps its ``posts.valid``
  metric label. posts.valid is declared but no longer written: one hop less per post, and
  exact duplicates meet because ingest partitions posts.raw by normalised text (docs).

``build_worker(settings)`` makes the Faust app with its agents and timers and returns the
``Worker`` that holds everything (importing this module reads no settings and touches nothing).

State (docs/reliability.md): per input partition, the dedup index (enrich), the open minute
windows (aggregate) and the crisis scorers (``crisis-state`` table) are saved with the input
offset they include (``streams.state``). Every stage has the same shape (``_Stage``): a
partition seen for the first time is restored and the input between its state and the first
record Faust hands over (the gap) is processed first; then a batch is processed, its outputs
made durable (ClickHouse rows + Kafka delivery), and only then its state saved, before Faust may
commit. Aggregate and crisis run that loop as is (``_Stage.run``); enrich pipelines it
(``_Enrich.run``: a child process, batches in flight, acks held until durable). A restarted
worker skips what a state already holds and drops replayed upstream outputs by their source
tag, so state effects are exactly once although delivery is at-least-once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import AsyncIterable, Mapping, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import faust
from faust.transport.drivers.aiokafka import Producer as AIOKafkaProducerDriver

from radar_base import logs
from radar_base.clickhouse import make_client
from radar_base.runtime import tune_gc
from radar_base.security import aiokafka_kwargs
from radar_base.settings import Settings
from schemas import stages
from schemas.models import BrandMinute, DeadLetter
from streams import enrichment, faust_runtime, metrics, sinks, state
from streams.core import AggregateStage, CrisisStage
from streams.processing import AlertContext, load_brand_labels, load_brand_words
from streams.topics import declare, state_topic

log = logging.getLogger("crisis_radar.worker")

Rec = tuple[int, int, Any, bytes]  # partition, offset, headers, value
Gap = list[tuple[int, Any, bytes]]  # offset, headers, value of one partition's records

ENRICH_STATE = f"{stages.POSTS_RAW}>{stages.POSTS_SCORED}"  # snapshot name: offsets of posts.raw
IN_FLIGHT = 4  # enriched batches awaiting their outputs: the child works while we send (2 -> 4:
# each batch awaits its ClickHouse insert and Kafka delivery; bench.pipeline busy shares ~0.6)
Inflight = tuple[list[Any], "asyncio.Future[Any]", int]  # events, result, runner generation
RETRIES_IF_CHILD_DIES = 3  # on the same batch in a row: then it is the batch, not bad luck
SCORED_BACKLOG_MAX = 20_000  # posts.scored records this worker has yet to aggregate
IDLE_MARK_AFTER_S = 1.0  # a caught-up partition with no batch this long is idle
IDLE_MARK_EVERY_S = 10.0  # and says so again this often (a restarted aggregator learns it)
SNAPSHOT_COSTS_APART = 20  # snapshots take at most 1/20 (5%) of the time

_SINK_SPECS = {
    "posts": sinks.POSTS_COLUMNS,
    "brand_minutes": sinks.BRAND_MINUTES_COLUMNS,
    "brand_replies": sinks.BRAND_REPLIES_COLUMNS,
    "alerts": sinks.ALERTS_COLUMNS,
    "dead_letters": sinks.DEAD_LETTERS_COLUMNS,
}


def tune_process(settings: Settings) -> None:
    """Process-wide settings of a worker, once, before its app is made.

    The collector runs far less often (radar_base.runtime.tune_gc). The Faust patches
    (streams/faust_runtime/, docs/faust-runtime.md) are applied once per process, after their
    version gate."""
    tune_gc()
    faust_runtime.apply(settings)


class _IdempotentProducer(AIOKafkaProducerDriver):
    """Faust's producer with acks=all and idempotence (Faust turns idempotence on only for its
    exactly-once mode): a leader change retries sends without writing them twice, and with
    min.insync.replicas a write survives losing the broker that took it (docs/scaling.md)."""

    def _settings_extra(self) -> Mapping[str, Any]:
        return {**super()._settings_extra(), "acks": "all", "enable_idempotence": True}


class _App(faust.App):
    def _new_producer(self) -> Any:
        return _IdempotentProducer(self.transport, loop=self.loop, beacon=self.beacon)

    def on_init_dependencies(self) -> Any:
        """Without Faust's Monitor sensor: it keeps per-event statistics for Faust's web views
        (disabled; our metrics are streams.metrics), a dict of sensor states per event in and
        out, ~6% of the event loop's CPU."""
        deps = super().on_init_dependencies()
        self.sensors.remove(self.monitor)
        return deps


def make_app(settings: Settings) -> faust.App:
    """The Faust app (no agents yet); creates its data directory under ``stack_dir``."""
    app_id = f"{settings.topic_prefix}{settings.worker_id}"  # consumer group + changelog names
    datadir = settings.stack_dir / "faust" / app_id
    datadir.mkdir(parents=True, exist_ok=True)
    return _App(
        app_id,
        broker=f"kafka://{settings.kafka_bootstrap}",
        store="memory://",
        autodiscover=False,
        web_enabled=False,
        web_bind=settings.worker_web_host,
        web_port=settings.worker_web_port,
        datadir=str(datadir),
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication_factor,  # changelogs too
        topic_allow_declare=True,
        broker_session_timeout=8,
        broker_heartbeat_interval=2,
        # Backlog fairness and bounded memory (docs/architecture.md "Cost per post"): aiokafka
        # hands out buffered records partition by partition in fetch order, so 16 MB fetches of
        # a posts.raw backlog (~50k posts each) kept posts.scored records waiting behind them
        # (aggregation starved). 1 MB per partition rotates partitions every few thousand
        # records. A stream buffer pauses its partition at 80% full; the remaining 20% (4k)
        # holds one whole poll, so the shared fetcher never blocks on enrich's full buffer
        # while aggregate waits for records.
        consumer_max_fetch_size=1024 * 1024,
        broker_max_poll_records=4_000,
        stream_buffer_maxsize=20_000,
        producer_linger_ms=5,
        producer_max_batch_size=1024 * 1024,
        key_serializer="raw",
        value_serializer="raw",
    )


def utcnow() -> datetime:
    return datetime.now(UTC)


def snapshot_spacing(cost_s: float, partitions: int) -> float:
    """Seconds between two snapshots of one partition so that those of all ``partitions``
    (each taking ``cost_s``) fill at most 1/``SNAPSHOT_COSTS_APART`` of the time."""
    return SNAPSHOT_COSTS_APART * cost_s * partitions


class SnapshotClock:
    """When each partition's next snapshot is due, for one stage (enrich, aggregate).

    A full dedup index is tens of MB: snapshots are spaced so that writing those of all the
    stage's partitions takes at most ~5% of the time, and at least ``interval_s`` apart
    (``state_snapshot_interval_s``); a restart re-reads the input since the last one, up to that
    spacing (docs/reliability.md). Measured on 1M posts: 11% of the CPU when spaced per
    partition only; windows pickled every batch ~10%, with the interval as a cap instead ~7%.

    >>> c = SnapshotClock(10.0)
    >>> c.start(0, at=100.0); c.due(0, now=105.0), c.due(0, now=110.0)
    (False, True)
    >>> c.saved(0, at=110.0, cost_s=0.5); c.due(0, now=119.0)  # 20 x 0.5 s x 1 partition
    False
    """

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self.last: dict[int, tuple[float, float]] = {}  # partition -> (saved at, cost)

    def start(self, part: int, at: float) -> None:
        """A partition was restored (``at``: count from then; -inf: save at the first chance)."""
        self.last[part] = (at, 0.0)

    def due(self, part: int, now: float) -> bool:
        saved_at, cost = self.last.get(part, (float("-inf"), 0.0))
        every = max(self.interval_s, snapshot_spacing(cost, len(self.last)))
        return now - saved_at >= every

    def asked(self, part: int, at: float) -> None:
        """A snapshot was requested (pickled later): not due again meanwhile."""
        self.last[part] = (at, self.last.get(part, (at, 0.0))[1])

    def saved(self, part: int, at: float, cost_s: float) -> None:
        self.last[part] = (at, cost_s)

    def drop(self, part: int) -> None:
        self.last.pop(part, None)


class _Stage:
    """The shape every stateful stage shares, per input partition: first seen -> ``restore``
    its state (snapshot store or changelog table) -> read the gap between that state and the
    first record Faust hands over -> process -> outputs durable -> state saved.

    Records in a gap are processed *with* their outputs (the next stage drops the copies by
    source tag), so nothing is lost even if the committed offset ran ahead of the state.
    ``run`` is the whole loop for a stage that processes a batch at once (aggregate, crisis);
    enrich keeps its own pipelined loop and uses ``catch_up`` and the durable step."""

    label = ""  # in log lines
    source = ""  # input stage (topic) the gaps are read from
    table = ""  # ClickHouse sink of the outputs
    take, within = 1000, 0.5  # batch size, seconds to wait for a full one

    def __init__(self, w: Worker) -> None:
        self.w = w
        self.lock = asyncio.Lock()  # a timer of the stage must not act mid-batch/mid-save

    def held(self, part: int) -> bool:
        """The partition's state is installed."""
        raise NotImplementedError

    async def restore(self, part: int) -> int:
        """Install the partition's saved state (fresh if none); the input offset it includes."""
        raise NotImplementedError

    def step(self, events: list[Any], recs: list[Rec]) -> tuple[list[sinks.Row], Any]:
        """Process a batch (gaps first): its rows, and what ``save`` needs."""
        raise NotImplementedError

    async def save(self, done: Any) -> None:
        """Save the state of a batch whose outputs are durable."""
        raise NotImplementedError

    async def catch_up(self, firsts: dict[int, int]) -> dict[int, Gap]:
        """Restore each partition of ``firsts`` (partition -> first offset handed over) not
        held yet; the records between its state and that first offset, per partition."""
        w, gaps = self.w, {}
        for part in sorted(firsts):
            if self.held(part):
                continue
            offset = await self.restore(part)
            first = firsts[part]
            gaps[part] = await state.read_range(
                w.settings.kafka_bootstrap, w.kafka_opts,
                w.settings.topic(self.source), part, offset + 1, first,
            )  # fmt: skip
            log.info("%s p%d: state at %d, first record %d", self.label, part, offset, first,
                     extra={"partition": part})  # fmt: skip
        return gaps

    async def with_gaps(self, recs: list[Rec]) -> list[Rec]:
        """``recs`` preceded by the gaps of the partitions seen for the first time."""
        new = {r[0] for r in recs}
        new = {p for p in new if not self.held(p)}
        if not new:
            return recs
        gaps = await self.catch_up({p: min(r[1] for r in recs if r[0] == p) for p in new})
        return [(p, o, h, v) for p, gap in sorted(gaps.items()) for o, h, v in gap] + recs

    async def run(self, stream: Any) -> None:
        logs.STAGE.set(self.label)  # this agent's task: every line it logs names the stage
        async for events in stream.take_events(self.take, within=self.within):
            async with self.lock:
                recs = [(e.message.partition, e.message.offset, e.message.headers, e.value)
                        for e in events]  # fmt: skip
                rows, done = self.step(events, await self.with_gaps(recs))
                await self.w.make_durable(self.table, rows)
                await self.save(done)  # outputs durable first, then the state


# ---------------------------------------------------------------- enrich
@dataclass
class _Owned:
    """A posts.raw partition whose state the runner holds (its snapshot timing: the clock)."""

    generation: int  # the runner's child that holds it
    # Watermark markers (streams/processing.py PartitionWindow): the last offset whose outputs
    # are sent, the event time reached there, and when the last marker went out.
    sent_offset: int = -1
    reached: datetime | None = None
    marked_at: float = 0.0
    idle_marked: bool = False


class _Enrich(_Stage):
    """Validate + dedup + brand match + sentiment in one pass over posts.raw (one Faust hop and
    one JSON parse per post), by ``runner`` (streams/enrichment.py: in a child process on a
    multi-core machine). Batches are handed over by ``run`` and finished in order by
    ``_finish``: up to ``IN_FLIGHT`` of them wait for their outputs, so the child enriches the
    next batch while the loop sends and stores the last one. Snapshots are pickled in the child
    right after the batch they cover and written once that batch is durable."""

    label, source, table = "enrich", stages.POSTS_RAW, "posts"
    take, within = 2000, 0.2

    def __init__(self, w: Worker) -> None:
        super().__init__(w)
        s = w.settings
        self.runner = enrichment.EnrichRunner(
            s.watchlist_path,
            s.dedup_horizon_s,
            s.dedup_max_items,
            s.topic_partitions,
            subprocess=s.enrich_in_subprocess(),
            log_format=s.log_format,
        )
        self.owned: dict[int, _Owned] = {}  # posts.raw partition -> its state is in the runner
        self.clock = SnapshotClock(s.state_snapshot_interval_s)
        self.waited = [0.0, 0.0]  # seconds waited for aggregation since the last log line, when
        self.crashes: list[asyncio.Future[None]] = []  # keeps a crash task referenced

    def held(self, part: int) -> bool:
        owned = self.owned.get(part)
        return owned is not None and owned.generation == self.runner.generation

    async def restore(self, part: int) -> int:
        payload = await self.w.store.load_payload(ENRICH_STATE, part)
        offset: int = await self.runner.call("restore", part, payload)
        if self.w.feedback.posts:  # a new child: the corrections read so far (by id: once)
            await self.runner.call("feedback", self.w.feedback.posts)
        self.owned[part] = _Owned(self.runner.generation)
        self.clock.start(part, time.monotonic())
        return offset

    def drop(self, part: int) -> None:
        self.clock.drop(part)
        if self.owned.pop(part, None) is not None:  # restored if assigned again
            self.runner.submit("drop", part)  # after its batches in flight (FIFO)

    async def run(self, stream: Any) -> None:
        logs.STAGE.set(self.label)  # this agent's task and the finisher started from it
        queue: asyncio.Queue[Inflight] = asyncio.Queue(IN_FLIGHT)
        finisher = asyncio.ensure_future(self._finish(queue))
        finisher.add_done_callback(self._finisher_done)
        try:
            async for events in stream.take_events(self.take, within=self.within):
                for ev in events:  # take_events acks when we move on: hold them until durable
                    ev.message.incref()
                try:
                    batch = await self._input(events)
                    now = time.monotonic()
                    due = frozenset(p for p, _ in batch if self.clock.due(p, now))
                    for part in due:  # asked for now, written when this batch is durable
                        self.clock.asked(part, time.monotonic())
                    metrics.POSTS_IN.labels(stages.POSTS_VALID).inc(len(events))
                    result = self.runner.submit("process", batch, utcnow(), due)
                except asyncio.CancelledError:
                    raise  # shutdown: left unacked, so not committed; the next owner replays
                except Exception:
                    for ev in events:  # as take_events acks a crashed batch on the way out
                        ev.message.decref()
                    raise
                put = asyncio.ensure_future(queue.put((events, result, self.runner.generation)))
                await asyncio.wait([put, finisher], return_when=asyncio.FIRST_COMPLETED)
                if finisher.done():
                    put.cancel()
                    finisher.result()  # raises what stopped it
                    raise RuntimeError("enrich finisher stopped")
                await self._let_aggregate_catch_up()
        finally:
            finisher.cancel()

    def _finisher_done(self, task: asyncio.Future[None]) -> None:
        """The finisher only stops on errors (or shutdown). The agent may be idle and would
        never notice, its batches unacked: crash the worker instead, as a crashed agent would
        leave it wedged; its supervisor restarts it and snapshots + replay lose nothing."""
        exc = None if task.cancelled() else task.exception()
        if exc is not None:
            log.error("enrich: sending/storing batches failed; stopping the worker", exc_info=exc,
                      extra={"stage": self.label})  # fmt: skip
            self.crashes.append(asyncio.ensure_future(self.w.app.crash(exc)))

    async def _input(self, events: list[Any]) -> list[tuple[int, list[enrichment.Record]]]:
        """A batch's records per posts.raw partition, each preceded by its gap on first use."""
        by_part: dict[int, list[enrichment.Record]] = defaultdict(list)
        for ev in events:
            m = ev.message
            by_part[m.partition].append((m.offset, m.headers, ev.value))
        firsts = {p: recs[0][0] for p, recs in by_part.items() if not self.held(p)}
        gaps = await self.catch_up(firsts) if firsts else {}
        return [(p, gaps[p] + recs if p in gaps else recs) for p, recs in by_part.items()]

    async def _finish(self, queue: asyncio.Queue[Inflight]) -> None:
        """Send and store enriched batches in order; a batch's events are acked once its
        outputs are durable (``Worker.make_durable``, overlapped with the next batch), and the
        snapshots it carries are written after that."""
        w = self.w
        durable: asyncio.Future[None] | None = None
        while True:
            events, result, generation = await queue.get()
            try:
                out = await self._result(events, result, generation)
            except BaseException:
                for ev in events:
                    ev.ack()
                raise
            rows = await self._send(out)
            await w.sink("brand_replies").write(out.reply_rows)  # few: before the posts rows
            await self._mark_progress(out.progress)
            if durable is not None:
                await durable  # one batch storing at a time: bounded memory, inserts in order
            durable = asyncio.ensure_future(w.make_durable(self.table, rows, events))
            if out.snapshots:  # a snapshot only once every output it covers is durable
                await durable
                durable = None
                for part, (payload, pickle_s) in sorted(out.snapshots.items()):
                    if part in self.owned:  # else revoked meanwhile: the new owner has its own
                        t0 = time.monotonic()
                        await w.store.save_payload(ENRICH_STATE, part, payload)
                        t1 = time.monotonic()
                        self.clock.saved(part, t1, pickle_s + t1 - t0)

    async def _result(
        self, events: list[Any], result: asyncio.Future[Any], generation: int
    ) -> enrichment.EnrichResult:
        """A batch's result. If the enrich process died, start a new one and enrich the batch
        again there: each partition is restored from its snapshot and the input after it is
        re-read (its outputs are sent again; the next stage drops them by source tag), so
        nothing is lost."""
        for _ in range(RETRIES_IF_CHILD_DIES):
            try:
                out: enrichment.EnrichResult = await result
                return out
            except BrokenProcessPool:
                if generation == self.runner.generation:  # the first of its batches to notice
                    self.process_died()
                mine = self.w.app.consumer.assignment()  # a revoked partition: its new owner's
                batch = await self._input([ev for ev in events if ev.message.tp in mine])
                result = self.runner.submit("process", batch, utcnow(), frozenset())
                generation = self.runner.generation
        raise RuntimeError(f"the enrich process died {RETRIES_IF_CHILD_DIES} times on one batch")

    def process_died(self) -> None:
        log.error("the enrich process died: starting a new one, state from snapshots",
                  extra={"stage": self.label})  # fmt: skip
        metrics.ENRICH_RESTARTS.inc()
        self.runner.restart()  # partitions held by the dead one restore with their next batch

    async def watch_process(self) -> None:
        """Replace a dead enrich process even while no batch is in flight to notice it."""
        if self.runner.broken():
            self.process_died()

    async def _send(self, out: enrichment.EnrichResult) -> list[sinks.Row]:
        """Metrics, dead letters and posts.scored records of one batch; its ClickHouse rows."""
        stage, w = stages.POSTS_SCORED, self.w
        for dl_stage, reason, value in out.dead:
            metrics.DLQ.labels(dl_stage, reason).inc()
            w.send(stages.POSTS_DLQ, reason.encode(), value)
        metrics.POSTS_OUT.labels(stages.POSTS_VALID).inc(out.n_valid)
        metrics.POSTS_IN.labels(stage).inc(out.n_valid)
        if out.n_repeated:
            metrics.REPEATED_POSTS.labels(stage).inc(out.n_repeated)
        metrics.POSTS_OUT.labels(stage).inc(len(out.items))
        observe = metrics.LATENCY.labels(stage).observe
        for seconds in out.latencies:
            observe(seconds)
        await w.publish(stage, out.items)
        return out.rows

    def _scored_backlog(self) -> int:
        """posts.scored records on this worker's partitions that aggregation has not processed
        (log end as of the last fetch minus the last offset aggregated): local lookups only."""
        w = self.w
        consumer, topic, total = w.app.consumer, w.settings.topic(stages.POSTS_SCORED), 0
        done_by_part = w.aggregate.core.offsets
        for tp in consumer.assignment():
            done = done_by_part.get(tp.partition) if tp.topic == topic else None
            if done is None:  # a partition aggregation has not started on is not counted
                continue
            high = consumer.highwater(tp)
            if high is not None:
                total += max(0, high - 1 - done)
        return total

    async def _let_aggregate_catch_up(self, max_wait_s: float = 5.0) -> None:
        """Back-pressure on enrich: with a big posts.raw backlog it could run far ahead of
        aggregation on the shared event loop (alerts late, buffers growing). Waiting here lets
        enrich's buffer fill and pause posts.raw, so the fetcher serves posts.scored. Capped: a
        stale high-water mark or a stuck partition must never stop enrichment for long."""
        start = time.monotonic()
        while self._scored_backlog() > SCORED_BACKLOG_MAX and time.monotonic() < start + max_wait_s:
            await asyncio.sleep(0.05)
        waited = time.monotonic() - start
        self.waited[0] += waited
        if start - self.waited[1] >= 30 and self.waited[0] >= 0.5:
            log.info("enrich waited %.1f s in 30 s for aggregation to catch up", self.waited[0],
                     extra={"stage": self.label})  # fmt: skip
            self.waited[:] = [0.0, start]

    async def _publish_markers(self, marks: list[tuple[int, datetime | None, bool]]) -> None:
        """Watermark markers to every posts.scored partition, after the posts they cover (same
        producer, same partitions: in order). Aggregation aligns on the slowest posts.raw
        partition with them, also when its posts went to other brands' partitions."""
        if not marks:
            return
        w = self.w
        kp = w.app.producer._ensure_producer()  # type: ignore[attr-defined]
        topic = w.topics[stages.POSTS_SCORED].get_topic_name()
        sent = datetime.now(UTC)  # this worker's clock: silence is judged on it downstream
        for part in range(w.settings.topic_partitions):
            batch = kp.create_batch()
            for source, reached, idle in marks:
                headers = state.marker(source, reached, idle, sent)
                batch.append(timestamp=None, key=b"", value=b"", headers=headers)
            await kp.send_batch(batch, topic, partition=part)

    async def _mark_progress(self, progress: dict[int, tuple[int, datetime | None]]) -> None:
        """A batch's posts.raw partitions have reached these event times: say so downstream."""
        marks = []
        for part, (offset, reached) in sorted(progress.items()):
            owned = self.owned.get(part)
            if owned is not None:
                owned.sent_offset, owned.reached = offset, reached
                owned.marked_at, owned.idle_marked = time.monotonic(), False
            marks.append((part, reached, False))
        await self._publish_markers(marks)

    async def mark_idle_partitions(self) -> None:
        """posts.raw partitions with nothing left to read (every record's outputs sent) are
        idle: aggregation stops waiting for them (Flink's idle sources), so quiet partitions
        never hold back the minutes of busy ones. Partitions with records left that no batch
        took for a while say they are alive (a busy marker at the same event time)."""
        app = self.w.app
        if app.rebalancing:
            return
        topic, now, marks = self.w.settings.topic(stages.POSTS_RAW), time.monotonic(), []
        for tp in app.consumer.assignment():
            owned = self.owned.get(tp.partition) if tp.topic == topic else None
            high = app.consumer.highwater(tp) if owned is not None else None
            if owned is None or high is None:
                continue  # not ours yet
            quiet = now - owned.marked_at
            if owned.sent_offset < high - 1:  # records left to enrich: busy, not idle
                # but perhaps starved (batches of the other partitions, CPU): a heartbeat keeps
                # aggregation waiting for it, where 30 s of silence would mean a dead worker
                # and let the others' watermark run ahead (a replay under load lost posts so)
                if quiet >= IDLE_MARK_EVERY_S:
                    owned.marked_at, owned.idle_marked = now, False
                    marks.append((tp.partition, owned.reached, False))
                continue
            if quiet >= (IDLE_MARK_EVERY_S if owned.idle_marked else IDLE_MARK_AFTER_S):
                owned.marked_at, owned.idle_marked = now, True
                marks.append((tp.partition, owned.reached, True))
        await self._publish_markers(marks)


# ---------------------------------------------------------------- aggregate
class _Aggregate(_Stage):
    """posts.scored -> brand.minutes (``AggregateStage``: windows aligned on the posts.raw
    partitions' watermarks); the windows of a partition are snapshotted after a batch, spaced
    by their cost, and when the idle timer closes minutes."""

    label, source, table = "aggregate", stages.POSTS_SCORED, "brand_minutes"
    take, within = 2000, 0.2

    def __init__(self, w: Worker) -> None:
        super().__init__(w)
        s = w.settings
        self.core = AggregateStage(s.allowed_lateness_s, s.topic_partitions, w.context)
        self.clock = SnapshotClock(s.state_snapshot_interval_s)

    def held(self, part: int) -> bool:
        return part in self.core.windows

    async def restore(self, part: int) -> int:
        snap = await self.w.store.load(stages.BRAND_MINUTES, part)
        self.clock.start(part, float("-inf"))  # the first batch after a restore saves
        return self.core.restore(part, snap, utcnow())

    def drop(self, part: int) -> None:
        self.core.drop(part)
        self.clock.drop(part)

    def step(self, events: list[Any], recs: list[Rec]) -> tuple[list[sinks.Row], Any]:
        stage = stages.BRAND_MINUTES
        out = self.core.process(recs, utcnow())
        metrics.POSTS_IN.labels(stage).inc(sum(1 for e in events if e.value))  # not markers
        for brand, n in out.per_brand.items():  # metrics once per batch, not per post
            metrics.BRAND_POSTS.labels(brand).inc(n)
        for brand, n in out.replies.items():
            metrics.BRAND_OWN_POSTS.labels(brand).inc(n)
        if out.late:
            metrics.LATE_POSTS.labels(stage).inc(out.late)
        return self._emit(out.minutes), out.last

    async def save(self, done: Any) -> None:
        await self._save(done, spaced=True)

    def _emit(self, closed: list[tuple[int, BrandMinute]]) -> list[sinks.Row]:
        for _, m in closed:
            self.w.send(stages.BRAND_MINUTES, m.brand.encode(), m.to_json())
        metrics.POSTS_OUT.labels(stages.BRAND_MINUTES).inc(len(closed))
        return [sinks.minute_row(m) for _, m in closed]

    async def _save(self, parts: Any, spaced: bool = False) -> None:
        """Snapshot the windows of ``parts``; ``spaced``: only those due (``SnapshotClock``)."""
        now = time.monotonic()
        for part in sorted(p for p in parts if p in self.core.windows):  # not if revoked
            if spaced and not self.clock.due(part, now):
                continue
            t0 = time.monotonic()
            await self.w.store.save(stages.BRAND_MINUTES, part, self.core.snapshot(part))
            t1 = time.monotonic()
            self.clock.saved(part, t1, t1 - t0)

    async def advance_idle_partitions(self) -> None:
        """Close minutes on the clock: partitions whose upstream fell idle or silent, and quiet
        partitions (event time does not move there: wall-clock time does)."""
        async with self.lock:
            closed = self.core.tick(utcnow())
            await self.w.sink(self.table).write(self._emit(closed))
            if closed:
                await self.w.delivered()
                await self._save({p for p, _ in closed})


# ---------------------------------------------------------------- crisis scoring
def _offset_key(part: int) -> bytes:
    """crisis-state key of a partition's offset (never a brand id: those are printable)."""
    return b"\x00offset/%d" % part


class _Crisis(_Stage):
    """brand.minutes -> crisis.alerts (``CrisisStage``). Its state lives in the changelogged
    ``crisis-state`` table: every brand's pickled scorer and, per partition, the last offset
    learned, written after every batch (a minute ``<=`` a brand's last one learned is skipped,
    so gap records are learned again only if they were not)."""

    label, source, table = "crisis", stages.BRAND_MINUTES, "alerts"
    take, within = 500, 0.5

    def __init__(self, w: Worker, brand_words: dict[str, frozenset[str]]) -> None:
        super().__init__(w)
        self.table_ = w.app.Table(
            "crisis-state",
            default=None,
            partitions=w.settings.topic_partitions,
            key_type=bytes,
            value_type=bytes,
            extra_topic_configs=w.settings.topic_configs(),
        )
        self.core = CrisisStage(brand_words, w.context, load=lambda key: self.table_.data.get(key))

    def held(self, part: int) -> bool:
        return part in self.core.offsets

    async def restore(self, part: int) -> int:
        blob = self.table_.data.get(_offset_key(part))
        self.core.offsets[part] = offset = int(blob) if blob else -1
        return offset

    def drop(self, part: int) -> None:
        self.core.drop(part)  # the new owner recovers its scorers from the changelog

    def step(self, events: list[Any], recs: list[Rec]) -> tuple[list[sinks.Row], Any]:
        stage, w = stages.CRISIS_ALERTS, self.w
        metrics.POSTS_IN.labels(stage).inc(len(events))
        assessed = self.core.process([(p, o, v) for p, o, _, v in recs], utcnow())
        rows = []
        for a in assessed:
            w.series.set(
                a.partition,
                a.minute.brand,
                volume=a.minute.posts,
                negative_share=a.minute.negative_share,
                score=a.score,
                severity=int(a.severity),
            )
            w.series.set_response(a.partition, a.minute)
            if a.alert is not None:
                w.send(stage, a.minute.brand.encode(), a.alert.to_json())
                metrics.POSTS_OUT.labels(stage).inc()
                log.warning("ALERT %s", a.alert.summary, extra={"partition": a.partition})
                rows.append(sinks.alert_row(a.alert))
        return rows, ({a.minute.brand.encode() for a in assessed}, {r[0] for r in recs})

    async def save(self, done: Any) -> None:
        brands, parts = done
        table = self.table_
        for key in brands:  # one changelog write per brand per batch: survives restarts
            blob = self.core.state(key)
            part = self.core.scorers[key][2]
            table.data[key] = blob
            table.send_changelog(part, key, blob)
        for part in parts:  # after the scorers: never ahead of them on replay
            blob = b"%d" % self.core.offsets[part]
            table.data[_offset_key(part)] = blob
            table.send_changelog(part, _offset_key(part), blob)
        await self.w.delivered()  # the changelog, before Faust commits this batch's offsets


# ---------------------------------------------------------------- feedback
class _Feedback:
    """crisis.feedback -> the crisis and enrich stages (docs/feedback.md). Every worker reads
    the whole topic from its start with its own consumer (no group, no commits): feedback is
    few records, each stage learns it idempotently by id, and states saved with what they
    learned skip it on the next read. Alert labels and announced events go to the crisis
    stage (a brand's scorer held here learns at once and is saved to the changelog; others
    when loaded), sentiment corrections to every enrich partition (held or restored later)."""

    def __init__(self, w: Worker) -> None:
        self.w = w
        self.posts: list[bytes] = []  # every sentiment correction read (a new child relearns)

    async def run(self) -> None:
        """Read in a thread with kafka-python's consumer (the worker's aiokafka is patched
        for Faust's own consumer, streams/faust_runtime); records come back to the loop."""
        import threading

        logs.STAGE.set("feedback")
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[list[bytes]] = asyncio.Queue()
        stop = threading.Event()
        thread = threading.Thread(target=self._read, args=(loop, queue, stop),
                                  name="feedback-reader", daemon=True)  # fmt: skip
        thread.start()
        try:
            while True:
                raws = await queue.get()
                try:
                    await self.apply(raws)
                except Exception:  # e.g. the enrich child died: it relearns at restore
                    log.exception("feedback: could not apply %d record(s) now", len(raws))
        finally:
            stop.set()

    def _read(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[list[bytes]],
              stop: Any) -> None:  # fmt: skip
        from kafka import KafkaConsumer, TopicPartition

        from radar_base.security import kafka_python_kwargs

        w = self.w
        topic = w.settings.topic(stages.CRISIS_FEEDBACK)
        try:
            consumer = KafkaConsumer(
                bootstrap_servers=w.settings.kafka_bootstrap, group_id=None,
                enable_auto_commit=False, auto_offset_reset="earliest",
                **kafka_python_kwargs(w.settings),
            )  # fmt: skip
            parts = None
            while not parts and not stop.is_set():  # ensure_topics made it; metadata may lag
                parts = consumer.partitions_for_topic(topic)
                if not parts:
                    time.sleep(1.0)
            consumer.assign([TopicPartition(topic, p) for p in sorted(parts or ())])
            consumer.seek_to_beginning()
            while not stop.is_set():
                batch = consumer.poll(timeout_ms=1000, max_records=500)
                raws = [m.value for msgs in batch.values() for m in msgs if m.value]
                if raws:
                    loop.call_soon_threadsafe(queue.put_nowait, raws)
            consumer.close()
        except Exception:  # the worker goes on detecting; feedback waits for a restart
            log.exception("feedback: cannot read %s", topic)

    async def apply(self, raws: list[bytes]) -> None:
        from pydantic import ValidationError

        from schemas.feedback import PostFeedback, parse_feedback

        parsed = []
        for raw in raws:
            try:
                parsed.append((raw, parse_feedback(raw)))
            except ValidationError as exc:  # not ours to fix here: the CLI validates
                log.warning("feedback: skipped a malformed record: %s", str(exc).splitlines()[0])
        crisis = self.w.crisis
        async with crisis.lock:
            changed: set[bytes] = set()
            for _, fb in parsed:
                done = crisis.core.feedback(fb)
                if done is not None:
                    changed.add(done[0])
                    brand = done[0].decode()
                    log.info("feedback: %s: %s", brand, done[1])
                    scorer, _, part = crisis.core.scorers[done[0]]
                    self.w.series.set_feedback(part, brand, scorer.feedback_of(brand).bounds())
                elif not isinstance(fb, PostFeedback):
                    log.info("feedback: %s: noted (%s)", fb.brand, fb.type)
            if changed:
                await crisis.save((changed, set()))
        posts = [raw for raw, fb in parsed if isinstance(fb, PostFeedback)]
        if posts:  # kept first: a restored partition (or a new child) learns them at restore
            self.posts += posts
            counts = await self.w.runner.call("feedback", posts)
            log.info("feedback: %d sentiment correction(s): %s", len(posts), counts or "known")


# ---------------------------------------------------------------- the worker
class Worker:
    """One worker's Faust app, topics, sinks, snapshot store and stages; ``build_worker``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app = make_app(settings)
        self.topics = declare(self.app, settings)
        self.kafka_opts = aiokafka_kwargs(settings)
        self.series = metrics.BrandSeries(load_brand_labels(settings.watchlist_path))
        self.context = AlertContext()  # the posts that explain alerts: aggregate -> crisis
        self.store = state.SnapshotStore(
            state_topic(settings), settings.kafka_bootstrap, self.kafka_opts, self._send_state
        )
        self.sinks: dict[str, sinks.ClickHouseSink] = {}
        self.known_topics: set[str] = set()  # whose partition metadata the producer has
        self.enrich = _Enrich(self)
        self.aggregate = _Aggregate(self)
        self.crisis = _Crisis(self, load_brand_words(settings.watchlist_path))
        self.feedback = _Feedback(self)
        self._register()

    @property
    def runner(self) -> enrichment.EnrichRunner:
        return self.enrich.runner

    def _register(self) -> None:
        app, topics = self.app, self.topics
        app.agent(topics[stages.POSTS_DLQ], name=stages.POSTS_DLQ)(self.dead_letters)
        app.agent(topics[stages.POSTS_RAW], name=stages.POSTS_SCORED)(self.enrich.run)
        app.agent(topics[stages.POSTS_SCORED], name=stages.BRAND_MINUTES)(self.aggregate.run)
        app.agent(topics[stages.BRAND_MINUTES], name=stages.CRISIS_ALERTS)(self.crisis.run)
        app.task(self.feedback.run)
        app.timer(interval=1.0)(self.enrich.mark_idle_partitions)
        app.timer(interval=1.0)(self.enrich.watch_process)
        app.timer(interval=2.0)(self.aggregate.advance_idle_partitions)
        # Every second: local lookups only, and a 5 s tick missed short bursts
        # (tests/test_faults_burst).
        app.timer(interval=1.0)(self.consumer_lag)
        app.timer(interval=1.0)(self.flush_producer)
        app.on_partitions_revoked.connect(self.on_revoked)  # type: ignore[arg-type]
        app.on_before_shutdown.connect(self.flush_sinks)  # type: ignore[arg-type]

    # ------------------------------------------------------------ outputs
    def sink(self, table: str) -> sinks.ClickHouseSink:
        if table not in self.sinks:
            self.sinks[table] = sinks.ClickHouseSink(
                table, _SINK_SPECS[table], lambda: make_client(self.settings)
            )
        return self.sinks[table]

    def send(self, stage: str, key: bytes, value: bytes) -> None:
        # send_soon buffers into the producer: never await a send per event (see delivered).
        self.topics[stage].send_soon(key=key, value=value)

    async def publish(self, stage: str, items: Sequence[Any]) -> None:
        """Hot-path sends (one per post): hand them to aiokafka as one record batch per
        partition, skipping Faust's per-message future/task chain (~15% of the worker's CPU
        when profiled). Same partitioner as Faust's own sends. Delivery is awaited by
        ``delivered``. An item may carry headers as a third element (the source tag,
        ``streams.state``)."""
        if not items:
            return
        kp = self.app.producer._ensure_producer()  # type: ignore[attr-defined]
        topic = self.topics[stage].get_topic_name()
        if topic not in self.known_topics:  # _partition needs the topic's metadata
            await kp.partitions_for(topic)
            self.known_topics.add(topic)
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
                    raise ValueError(
                        f"record of {len(value)} bytes exceeds the producer batch size"
                    )
        for part, batch in batches.items():
            await kp.send_batch(batch, topic, partition=part)

    async def delivered(self) -> None:
        """Wait until everything sent so far is acknowledged by Kafka. Stages await it once per
        batch, before taking the next one: Faust acks (then commits) a batch's offsets only
        when the agent moves past it, so a crash never loses a send whose input offset was
        committed."""
        producer = self.app.producer
        while producer.buffer.size:  # send_soon queue -> aiokafka (flush gives up after 0.1 s)
            await producer.buffer.flush()
        await producer.flush()  # aiokafka: every batch handed over so far is delivered

    async def make_durable(
        self, table: str, rows: list[sinks.Row], events: Sequence[Any] = ()
    ) -> None:
        """Store a batch's rows and deliver its sends, then ack ``events`` if any (enrich holds
        one reference to each message, so their offsets become committable only now, and runs
        this while it enriches the next batch: ClickHouse's insert latency, ~0.1-0.3 s per
        batch under load, no longer stalls enrichment). Errors: every reference taken is
        released (acked) as Faust's take_events did before, so a failed batch never wedges a
        rebalance's wait for acks."""
        try:
            await self.sink(table).write(rows)
            await self.delivered()
        finally:  # on failure too, as before holding them (the agent then fails on its next await)
            for ev in events:
                ev.ack()

    async def _send_state(self, key: bytes, value: bytes) -> None:
        await self.app.producer.send_and_wait(self.store.topic, key, value, 0, None, None)

    # ------------------------------------------------------------ agents, timers, signals
    async def dead_letters(self, stream: AsyncIterable[bytes]) -> None:
        logs.STAGE.set("dead_letters")
        async for values in stream.take(1000, within=0.5):  # type: ignore[attr-defined]
            rows = [sinks.dead_letter_row(DeadLetter.model_validate_json(v)) for v in values]
            await self.sink("dead_letters").write(rows)

    async def on_revoked(self, sender: Any, revoked: set[Any], **_: Any) -> None:
        topic = self.settings.topic
        self.store.invalidate()  # whoever owns a partition next reads its latest snapshot
        for tp in revoked:
            metrics.revoke_partition_lag(tp.topic, tp.partition)
            if tp.topic == topic(stages.BRAND_MINUTES):
                self.series.revoke(tp.partition)  # no stale per-brand gauges on this worker
                self.crisis.drop(tp.partition)
            elif tp.topic == topic(stages.POSTS_RAW):
                self.enrich.drop(tp.partition)
            elif tp.topic == topic(stages.POSTS_SCORED):
                self.aggregate.drop(tp.partition)

    async def consumer_lag(self) -> None:
        metrics.heartbeat()  # the probes' sign of a running loop (streams/metrics.py)
        if self.app.rebalancing:  # position() would wait for the new assignment's positions,
            return  # holding one of the consumer thread's two call workers the recovery needs
        consumer = self.app.consumer
        for tp in consumer.assignment():
            try:
                pos = await consumer.position(tp)
                high = consumer.highwater(tp)
            except Exception:  # partition just moved; next tick will see the new assignment
                continue
            if pos is not None and high is not None:
                metrics.CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(max(0, high - pos))

    async def flush_producer(self) -> None:
        await self.app.producer.flush()

    async def flush_sinks(self, sender: Any, **_: Any) -> None:
        """On SIGTERM write what the sinks still hold (rows already acked in Kafka)."""
        for s in list(self.sinks.values()):
            try:
                await s.close()
            except Exception:  # ClickHouse gone at shutdown: those rows come back on replay
                log.exception("could not flush sink %s at shutdown", s.table)


def build_worker(settings: Settings) -> Worker:
    """The whole worker for ``settings``: process tuning (GC, Faust patches), the Faust app with
    every agent and timer, and the stage objects. Run it with ``faust.Worker(w.app)`` after
    ``w.runner.start()`` (``streams.worker.main``)."""
    tune_process(settings)
    return Worker(settings)
