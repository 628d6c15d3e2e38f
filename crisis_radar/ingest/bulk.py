"""Whole record batches for kafka-python: bulk loads without a ``send()`` per record.

``KafkaProducer.send`` costs ~40 us of Python per record. Here the ingest encodes a partition's
records into one Kafka v2 record batch (a join of pre-encoded varints, then lz4) and hands the
batch to the producer's own accumulator, so kafka-python's sender thread still does the rest:
idempotent sequence numbers (written into the header when the batch is drained), acks=all,
retries in order, delivery timeouts. Relies on kafka-python internals (``_accumulator``,
``_sender``), pinned in pyproject.toml and covered by tests/test_ingest.py.

Batches stay under the broker's default 1 MB ``message.max.bytes`` even uncompressed: when a
broker refuses a batch as too large, kafka-python 3.0.12 splits it and then never completes it
with idempotence on (its own batches as well: seen with a topic limited to 20 kB).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kafka import KafkaProducer
from kafka.codec import has_lz4, lz4_encode
from kafka.producer.producer_batch import ProducerBatch
from kafka.record.default_records import DefaultRecordBatchBuilder as _Builder
from kafka.record.memory_records import MemoryRecords
from kafka.structs import TopicPartition

from crisis_radar.ingest.route import route_hash

try:  # aiokafka's C crc32c: kafka-python's fallback is pure Python (~0.1 s per MB)
    from aiokafka.record._crecords.cutil import crc32c_cython as _crc32c
except ImportError:  # pragma: no cover - aiokafka is a dependency
    from kafka.record.util import calc_crc32c as _crc32c

HEADER = _Builder.HEADER_STRUCT
CODEC_NONE, CODEC_LZ4 = _Builder.CODEC_NONE, _Builder.CODEC_LZ4
MAX_BODY = 1024 * 1024 - 4096  # uncompressed; under the broker's 1 MB message.max.bytes
MAX_IN_FLIGHT = 16  # bulk batches queued or unacknowledged before the caller waits


def _zigzag_varint(n: int) -> bytes:
    v, out = n << 1, bytearray()  # zigzag of n >= 0 is 2n
    while v > 0x7F:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


_SMALL = 1 << 14
_VARINTS = [_zigzag_varint(i) for i in range(_SMALL)]  # covers every key and most records
MAX_RECORDS = _SMALL  # per batch, so offset deltas always come from the table


def encode_records(records: Sequence[tuple[bytes, bytes]]) -> bytes:
    """Record bodies of a v2 batch: offset deltas 0.., timestamp deltas 0, no headers.

    >>> encode_records([(b"k", b"v")]).hex(" ")  # zigzag varints: length 8, attributes, time
    '10 00 00 00 02 6b 02 76 00'
    >>> # and offset deltas 0, key length 1, key, value length 1, value, no headers
    """
    assert len(records) <= MAX_RECORDS
    parts: list[bytes] = []
    add, t, big, small = parts.extend, _VARINTS, _zigzag_varint, _SMALL
    for i, (key, value) in enumerate(records):
        od, kl, n = t[i], t[len(key)], len(value)
        vl = t[n] if n < small else big(n)
        size = 3 + len(od) + len(kl) + len(key) + len(vl) + n
        add((t[size] if size < small else big(size), b"\x00\x00", od, kl, key, vl, value, b"\x00"))
    return b"".join(parts)


@dataclass(frozen=True, slots=True)
class EncodedBatch:
    """A partition's records, encoded (and compressed) but without the batch header: what a
    worker process hands back (plain bytes pickle cheaply)."""

    partition: int
    body: bytes
    count: int
    codec: int
    raw_size: int  # before compression

    @classmethod
    def encode(
        cls, partition: int, records: Sequence[tuple[bytes, bytes]], lz4: bool
    ) -> EncodedBatch:
        body = encode_records(records)
        raw_size, codec = len(body), CODEC_NONE
        if lz4:
            packed = lz4_encode(body)
            if len(packed) < len(body):
                body, codec = packed, CODEC_LZ4
        return cls(partition, body, len(records), codec, raw_size)


class PrebuiltRecords:
    """Stands in for kafka-python's MemoryRecordsBuilder: a closed, full batch of records.

    The body is encoded and compressed up front; ``close()`` (called by the sender thread when it
    drains the batch, after ``set_producer_state``) only writes the header and the CRC.
    """

    def __init__(self, batch: EncodedBatch) -> None:
        self._raw_size: int = batch.raw_size + HEADER.size
        self._codec, self._body, self._count = batch.codec, batch.body, batch.count
        self._timestamp = int(time.time() * 1000)
        self._buffer: bytearray | None = None
        self.producer_id, self.producer_epoch, self.base_sequence = -1, -1, -1
        self._transactional = False

    def append(self, *args: Any, **kwargs: Any) -> None:
        return None  # full: kafka-python starts a new batch after this one

    def set_producer_state(self, producer_id: int, producer_epoch: int, base_sequence: int,
                           is_transactional: bool) -> None:  # fmt: skip
        assert self._buffer is None, "producer state of a closed batch"
        self.producer_id, self.producer_epoch = producer_id, producer_epoch
        self.base_sequence, self._transactional = base_sequence, is_transactional

    def next_offset(self) -> int:
        return self._count

    def is_full(self) -> bool:
        return True

    def size_in_bytes(self) -> int:
        return len(self._buffer) if self._buffer is not None else HEADER.size + len(self._body)

    def compression_rate(self) -> float:
        return self.size_in_bytes() / self._raw_size

    def close(self) -> None:
        if self._buffer is not None:
            return  # retries resend the same bytes: same sequence, so no duplicates
        buf = bytearray(HEADER.size) + self._body
        attrs = self._codec | (_Builder.TRANSACTIONAL_MASK if self._transactional else 0)
        HEADER.pack_into(buf, 0, 0, len(buf) - _Builder.AFTER_LEN_OFFSET, 0, 2, 0, attrs,
                         self._count - 1, self._timestamp, self._timestamp, self.producer_id,
                         self.producer_epoch, self.base_sequence, self._count)  # fmt: skip
        crc = _crc32c(memoryview(buf)[_Builder.ATTRIBUTES_OFFSET :])
        buf[_Builder.CRC_OFFSET : _Builder.ATTRIBUTES_OFFSET] = crc.to_bytes(4, "big")
        self._buffer = buf

    def buffer(self) -> bytearray:
        assert self._buffer is not None
        return self._buffer

    def records(self) -> MemoryRecords:
        return MemoryRecords(bytes(self.buffer()))


class BatchQueue:
    """Enqueues whole batches into a KafkaProducer and tracks them until acknowledged."""

    def __init__(self, producer: KafkaProducer, max_in_flight: int = MAX_IN_FLIGHT) -> None:
        self.producer = producer
        self.accumulator: Any = producer._accumulator
        self.sender: Any = producer._sender
        self.lz4 = has_lz4() and producer.config["compression_type"] == "lz4"
        self.max_in_flight = max_in_flight
        self.in_flight: deque[ProducerBatch] = deque()
        self.errors: list[BaseException] = []
        self.timeout = producer.config["delivery_timeout_ms"] / 1000

    def put(self, topic: str, partition: int, records: Sequence[tuple[bytes, bytes]]) -> None:
        """Queue ``records`` (key, value pairs, in order) as one batch for ``topic/partition``."""
        self.put_encoded(topic, EncodedBatch.encode(partition, records, self.lz4))

    def put_encoded(self, topic: str, encoded: EncodedBatch) -> None:
        tp = TopicPartition(topic, encoded.partition)
        batch = ProducerBatch(tp, PrebuiltRecords(encoded))
        acc = self.accumulator
        with acc._tp_lock(tp):
            acc._batches[tp].append(batch)
            acc._incomplete.add(batch)
        self.in_flight.append(batch)
        self.sender.wakeup()
        while len(self.in_flight) > self.max_in_flight:
            self._settle(self.in_flight.popleft())

    def _settle(self, batch: ProducerBatch) -> None:
        future = batch.produce_future
        if not future.wait(timeout=self.timeout):
            self.errors.append(TimeoutError(f"no ack for {batch.topic_partition} in time"))
        elif future.failed():
            self.errors.append(future.exception)
        elif future.value[2] is not None:  # kafka-python reports a failed batch this way
            self.errors.append(future.value[2](0))

    def wait_all(self) -> None:
        while self.in_flight:
            self._settle(self.in_flight.popleft())


def partition_batches(
    pairs: Sequence[tuple[bytes, bytes]],
    partitions: int,
    lz4: bool,
    routes: Sequence[int] | None = None,
) -> list[EncodedBatch]:
    """(key, value) pairs -> batches by ``route_hash(key, value) % partitions`` (the normalised
    text: exact duplicates share a partition; ``routes``: those hashes, if known), each under
    MAX_BODY and MAX_RECORDS, in input order within a partition (as ``Sink.post_many``)."""
    if routes is None:
        routes = [route_hash(*pair) for pair in pairs]
    by_part: dict[int, list[tuple[bytes, bytes]]] = {}
    for pair, route in zip(pairs, routes, strict=True):
        part = route % partitions
        if part in by_part:
            by_part[part].append(pair)
        else:
            by_part[part] = [pair]
    out: list[EncodedBatch] = []
    for part in sorted(by_part):
        batch: list[tuple[bytes, bytes]] = []
        size = 0
        for key, value in by_part[part]:
            size += len(key) + len(value) + 16
            if batch and (size > MAX_BODY or len(batch) == MAX_RECORDS):
                out.append(EncodedBatch.encode(part, batch, lz4))
                batch, size = [], len(key) + len(value) + 16
            batch.append((key, value))
        out.append(EncodedBatch.encode(part, batch, lz4))
    return out
