"""Kafka side of ingest: a tuned kafka-python producer, the DLQ counter, the send loop."""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from datetime import datetime
from itertools import islice
from typing import Any

import xxhash
from kafka import KafkaConsumer, KafkaProducer
from kafka.codec import has_lz4
from prometheus_client import CollectorRegistry, Counter, start_http_server

from crisis_radar.ingest.bulk import (
    MAX_BODY,
    MAX_RECORDS,
    BatchQueue,
    EncodedBatch,
    partition_batches,
)
from crisis_radar.ingest.pipeline import Outcome, Pacer, Pipeline, Record, Send, Stats
from crisis_radar.ingest.route import route_hash
from crisis_radar.settings import Settings
from schemas import stages
from schemas.models import DeadLetter
from schemas.validate import encode_dead_letter

# Own registry: the worker registers the same metric names in the default one.
REGISTRY = CollectorRegistry()
DLQ_TOTAL = Counter(
    "crisis_radar_dlq_total", "Dead-lettered messages", ["stage", "reason"], registry=REGISTRY
)
POSTS_OUT = Counter("crisis_radar_posts_out_total", "Posts produced", ["stage"], registry=REGISTRY)


def serve_metrics(port: int, host: str = "127.0.0.1") -> None:
    start_http_server(port, addr=host, registry=REGISTRY)


def kafka_security(settings: Settings) -> dict[str, Any]:
    """kafka-python security options (SASL/SCRAM, TLS, secret files): crisis_radar.security."""
    from crisis_radar.security import kafka_python_kwargs

    return kafka_python_kwargs(settings)


def make_producer(settings: Settings, **overrides: Any) -> KafkaProducer:
    """Throughput settings: large batches, a short linger, lz4 (gzip without the lz4 module).

    acks=all with idempotence: a bulk load must neither lose nor double posts, and on the local
    single broker all costs no more than acks=1. Idempotence also keeps per-partition order
    across retries, so a replay is sent in file order. The bulk path (``bulk.BatchQueue``)
    hands whole batches to this producer, so the same settings govern it.
    """
    conf: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap.split(","),
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 200,  # fewer, fuller batches: the sender thread competes for the GIL
        "batch_size": 1024 * 1024,  # uncompressed; stays under the broker's 1 MB message.max.bytes
        "metrics_enabled": False,  # kafka-python's own sensors cost CPU per send
        "max_request_size": 8 * 1024 * 1024,
        "compression_type": "lz4" if has_lz4() else "gzip",
        "client_id": "crisis-radar-ingest",
        **kafka_security(settings),
    }
    conf.update(overrides)
    return KafkaProducer(**conf)


def make_consumer(settings: Settings, *topics: str, **overrides: Any) -> KafkaConsumer:
    conf: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap.split(","),
        "auto_offset_reset": "earliest",
        "enable_auto_commit": False,
        "consumer_timeout_ms": 3000,
        **kafka_security(settings),
    }
    conf.update(overrides)
    return KafkaConsumer(*topics, **conf)


class Sink:
    """Sends outcomes: posts to ``posts.raw``, dead letters to ``posts.dlq`` (or nowhere).

    ``post`` sends one record (live and paced input: no added latency); ``post_many`` gathers
    bulk input into one whole record batch per partition (``bulk.BatchQueue``).
    """

    def __init__(self, settings: Settings, producer: KafkaProducer | None) -> None:
        self.producer = producer
        self.bulk = BatchQueue(producer) if producer is not None else None
        self.pending: dict[int, list[tuple[bytes, bytes]]] = {}
        self.pending_bytes: dict[int, int] = {}
        self.raw_topic = settings.topic(stages.POSTS_RAW)
        self.dlq_topic = settings.topic(stages.POSTS_DLQ)
        self.errors: list[BaseException] = []
        self.partitions: dict[str, int] = {}
        self.posts_out = POSTS_OUT.labels("ingest")
        self.on_dead: Callable[[DeadLetter], None] | None = None  # sees every dead letter

    def _partition(self, topic: str, key: bytes) -> int:
        """xxh32(key) mod partitions: a key always lands on the same partition, and this is
        ~10x cheaper than kafka-python's pure-Python murmur2 (it showed up in profiles)."""
        n = self.partitions.get(topic)
        if n is None:
            assert self.producer is not None
            n = self.partitions[topic] = len(self.producer.partitions_for(topic))
        return xxhash.xxh32_intdigest(key) % n

    def _failed(self, exc: BaseException) -> None:
        self.errors.append(exc)

    def post(self, send: Send) -> None:
        self.posts_out.inc()
        if self.producer is not None:
            self._partition(self.raw_topic, b"")  # looks the partition count up
            part = route_hash(send.key, send.value) % self.partitions[self.raw_topic]
            fut = self.producer.send(self.raw_topic, key=send.key, value=send.value, partition=part)
            fut.add_errback(self._failed)

    def post_many(self, pairs: list[tuple[bytes, bytes]], routes: list[int] | None = None) -> None:
        """(key, value) pairs in input order; per partition they stay in that order.
        ``routes``: their ``route_hash`` values when the caller has them."""
        self.posts_out.inc(len(pairs))
        if self.bulk is None:
            return
        if self.raw_topic not in self.partitions:
            self._partition(self.raw_topic, b"")  # looks the partition count up
        n = self.partitions[self.raw_topic]
        pending, size = self.pending, self.pending_bytes
        if routes is None:
            routes = [route_hash(key, value) for key, value in pairs]
        for (key, value), route in zip(pairs, routes, strict=True):
            part = route % n  # exact duplicates share a partition
            batch = pending.get(part)
            if batch is None:
                batch = pending[part] = []
                size[part] = 0
            batch.append((key, value))
            size[part] += len(key) + len(value) + 16  # 16: varints etc., at most
            if size[part] >= MAX_BODY or len(batch) == MAX_RECORDS:
                self.bulk.put(self.raw_topic, part, pending.pop(part))

    def bulk_params(self) -> tuple[int, bool]:
        """(partitions of posts.raw, lz4?) for ``encode_chunk``; (0, False) on a dry run."""
        if self.bulk is None:
            return 0, False
        if self.raw_topic not in self.partitions:
            self._partition(self.raw_topic, b"")
        return self.partitions[self.raw_topic], self.bulk.lz4

    def post_encoded(self, batches: list[EncodedBatch], posts: int) -> None:
        """Batches a worker encoded (``encode_chunk``), holding ``posts`` posts."""
        self.posts_out.inc(posts)
        if self.bulk is not None:
            for batch in batches:
                self.bulk.put_encoded(self.raw_topic, batch)

    def ship(self) -> None:
        """Queue what ``post_many`` gathered (before any ``post``, so order holds)."""
        if self.bulk is not None:
            for part in sorted(self.pending):
                self.bulk.put(self.raw_topic, part, self.pending.pop(part))
        self.pending.clear()

    def dead(self, letter: DeadLetter) -> None:
        DLQ_TOTAL.labels("ingest", letter.reason).inc()
        if self.on_dead is not None:
            self.on_dead(letter)
        if self.producer is not None:
            fut = self.producer.send(
                self.dlq_topic, key=letter.reason.encode(), value=encode_dead_letter(letter)
            )
            fut.add_errback(self._failed)

    def flush(self, timeout: float | None = 60) -> None:
        self.ship()
        if self.producer is not None:
            self.producer.flush(timeout=timeout)
        if self.bulk is not None:
            self.bulk.wait_all()
            self.errors += self.bulk.errors
            self.bulk.errors = []
        if self.errors:
            raise RuntimeError(f"{len(self.errors)} sends failed, first: {self.errors[0]!r}")


def run(
    records: Iterable[Record],
    pipeline: Pipeline,
    sink: Sink | AioBatchSink,
    pacer: Pacer | None = None,
    pool: Executor | None = None,
) -> None:
    """The ingest loop; the caller flushes (so several inputs share one producer).

    ``pool``: processes that validate and encode canonical chunks (``run_canonical``).
    """
    if pipeline.fmt == "canonical" and pacer is None:
        size = CHUNK if pool is None else POOL_CHUNK
        run_canonical(([r for r, _, _ in c] for c in _chunks(records, size)), pipeline, sink, pool)
        return
    for raw, obj, platform in records:
        _emit(pipeline.process(raw, obj, platform), sink, pacer)


def run_canonical(
    chunks: Iterable[list[bytes]],
    pipeline: Pipeline,
    sink: Sink | AioBatchSink,
    pool: Executor | None = None,
) -> None:
    """The bulk path for canonical JSON lines, in chunks (``read_line_chunks``).

    With a ``pool``, worker processes validate and encode whole chunks (``encode_chunk``) and
    this process only reads lines and queues the batches, in input order.
    """
    if pool is None or not isinstance(sink, Sink):
        for raws in chunks:
            pairs, routes, letters = pipeline.split_canonical_chunk(raws)
            sink.post_many(pairs, routes)
            for letter in letters:
                sink.dead(letter)
        sink.ship()
        return
    partitions, lz4 = sink.bulk_params()
    window: deque[Future[tuple[list[EncodedBatch], list[DeadLetter], Stats]]] = deque()

    def settle(fut: Future[tuple[list[EncodedBatch], list[DeadLetter], Stats]]) -> None:
        batches, letters, stats = fut.result()
        pipeline.stats.add(stats)
        sink.post_encoded(batches, stats.sent)
        for letter in letters:
            sink.dead(letter)

    sink.ship()  # anything gathered before goes first
    for raws in chunks:
        args = (raws, pipeline.now(), pipeline.source, partitions, lz4)
        window.append(pool.submit(encode_chunk, *args))
        if len(window) > POOL_WINDOW:  # bounded read-ahead: memory stays flat on big files
            settle(window.popleft())
    while window:
        settle(window.popleft())


def run_sorted(
    sends: Iterable[Send], sink: Sink | AioBatchSink, pacer: Pacer | None = None
) -> None:
    """Send posts already in event-time order (``history.History.sends``): in bulk batches, or
    one by one behind the pacer (``--rate``/``--speedup`` pace the sorted stream)."""
    if pacer is not None:
        for send in sends:
            pacer.wait(send.created_at)
            sink.post(send)
        return
    it = iter(sends)
    while batch := list(islice(it, CHUNK)):
        sink.post_many([(s.key, s.value) for s in batch])
    sink.ship()


def encode_chunk(
    raws: list[bytes], now: datetime, source: str, partitions: int, lz4: bool
) -> tuple[list[EncodedBatch], list[DeadLetter], Stats]:
    """Worker-process task: validate a chunk and encode its posts as per-partition batches
    (none when ``partitions`` is 0: a dry run)."""
    pipeline = Pipeline("canonical", source=source, now=lambda: now)
    pairs, routes, letters = pipeline.split_canonical_chunk(raws)
    batches = partition_batches(pairs, partitions, lz4, routes) if partitions and pairs else []
    return batches, letters, pipeline.stats


def screen_pool(workers: int) -> ProcessPoolExecutor:
    """Worker processes for ``run_canonical``; forkserver: the producer's threads make a plain
    fork unsafe."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["crisis_radar.ingest.producer"])
    return ProcessPoolExecutor(workers, mp_context=ctx)


CHUNK = 500
POOL_CHUNK = 4000  # lines per worker task: ~1.5 MB, one batch per partition or so
POOL_WINDOW = 8


def _chunks(records: Iterable[Record], size: int) -> Iterator[list[Record]]:
    it = iter(records)
    while chunk := list(islice(it, size)):
        yield chunk


def _emit(outcomes: list[Outcome], sink: Sink | AioBatchSink, pacer: Pacer | None) -> None:
    for outcome in outcomes:
        if outcome is None:
            continue
        if isinstance(outcome, DeadLetter):
            sink.dead(outcome)
        else:
            if pacer is not None:
                pacer.wait(outcome.created_at)
            sink.post(outcome)


# --- optional aiokafka engine ------------------------------------------------------------------
# kafka-python spends ~40 us of Python per message in send(); aiokafka's batch API appends to a
# C record builder (~2 us). Same keys, partitions (xxh32), order and topics as the default engine.


class AioBatchSink:
    """Per-partition batches with aiokafka's ``create_batch``/``send_batch`` (sync facade)."""

    def __init__(self, settings: Settings, loop: Any, producer: Any) -> None:
        self.loop, self.producer = loop, producer
        self.raw_topic = settings.topic(stages.POSTS_RAW)
        self.dlq_topic = settings.topic(stages.POSTS_DLQ)
        self.partitions: dict[str, list[int]] = {}
        self.batches: dict[tuple[str, int], Any] = {}
        self.futures: list[Any] = []
        self.posts_out = POSTS_OUT.labels("ingest")
        self.on_dead: Callable[[DeadLetter], None] | None = None  # sees every dead letter

    @classmethod
    def start(cls, settings: Settings) -> AioBatchSink:
        import asyncio

        from aiokafka import AIOKafkaProducer

        from crisis_radar.security import aiokafka_kwargs

        security: dict[str, Any] = aiokafka_kwargs(settings)
        loop = asyncio.new_event_loop()

        async def make() -> Any:
            producer = AIOKafkaProducer(
                bootstrap_servers=settings.kafka_bootstrap.split(","),
                acks="all",
                enable_idempotence=True,
                linger_ms=200,
                max_batch_size=1024 * 1024,
                client_id="crisis-radar-ingest",
                **security,
            )
            await producer.start()
            return producer

        return cls(settings, loop, loop.run_until_complete(make()))

    def _partitions(self, topic: str) -> list[int]:
        if topic not in self.partitions:
            self.partitions[topic] = sorted(
                self.loop.run_until_complete(self.producer.partitions_for(topic))
            )
        return self.partitions[topic]

    def _append(self, topic: str, key: bytes, value: bytes, route: int | None = None) -> None:
        parts = self._partitions(topic)
        if route is not None:
            h = route
        else:
            h = route_hash(key, value) if topic == self.raw_topic else xxhash.xxh32_intdigest(key)
        tp = (topic, parts[h % len(parts)])
        batch = self.batches.get(tp)
        if batch is None:
            batch = self.batches[tp] = self.producer.create_batch()
        if batch.append(key=key, value=value, timestamp=None) is None:  # full: ship it
            self._ship(tp)
            batch = self.batches[tp] = self.producer.create_batch()
            if batch.append(key=key, value=value, timestamp=None) is None:
                raise ValueError(f"message of {len(value)} bytes does not fit in a batch")

    def _ship(self, tp: tuple[str, int]) -> None:
        batch = self.batches.pop(tp)
        batch.close()
        send = self.producer.send_batch(batch, tp[0], partition=tp[1])
        self.futures.append(self.loop.run_until_complete(send))
        if len(self.futures) > 64:  # let the sender catch up; bounds memory
            self._wait()

    def _wait(self) -> None:
        import asyncio

        futures, self.futures = self.futures, []
        if futures:  # gather() of nothing makes a future on the default loop, not ours
            self.loop.run_until_complete(asyncio.gather(*futures))

    def post(self, send: Send) -> None:
        self.posts_out.inc()
        self._append(self.raw_topic, send.key, send.value)

    def post_many(self, pairs: list[tuple[bytes, bytes]], routes: list[int] | None = None) -> None:
        self.posts_out.inc(len(pairs))
        if routes is None:
            routes = [route_hash(key, value) for key, value in pairs]
        for (key, value), route in zip(pairs, routes, strict=True):
            self._append(self.raw_topic, key, value, route)

    def ship(self) -> None:
        pass  # batches ship when full or at flush

    def dead(self, letter: DeadLetter) -> None:
        DLQ_TOTAL.labels("ingest", letter.reason).inc()
        if self.on_dead is not None:
            self.on_dead(letter)
        self._append(self.dlq_topic, letter.reason.encode(), encode_dead_letter(letter))

    def flush(self, timeout: float | None = 60) -> None:
        for tp in list(self.batches):
            self._ship(tp)
        self._wait()

    def close(self) -> None:
        self.loop.run_until_complete(self.producer.stop())
        self.loop.close()
