"""Offset-tagged state snapshots: exactly-once *state effects* on top of at-least-once delivery.

Each stateful stage keeps, per input partition, a snapshot ``(offset, state)`` on one compacted
Kafka topic (``state_topic``; key ``stage/partition``). The worker writes it after the batch's
outputs are durable and before Faust may commit the batch's offsets (the agent has not moved on
yet), so on restart or partition assignment:

* records with ``offset <= snapshot offset`` are skipped: their effects are in the snapshot and
  their outputs are durable;
* records between the snapshot and the committed offset (the dedup index is snapshotted every
  few seconds, not per batch) are read (``read_range``) and processed first, with outputs.

Replaying a stage's input re-sends its outputs with new offsets downstream. Outputs therefore
carry a *source tag* header (input partition, offset, index of the output for that record) and
the next stage drops a record whose tag is not above the last tag it counted from that source
partition (``Seen``; part of that stage's snapshot). Tags are monotone per source partition
because a stage processes its input partition in order. Records without a tag always pass.

Big snapshots are split into chunks below Kafka's default 1 MB message limit and written to
one of two slots (A/B) before the head record that points at them, so a crash in the middle
of a write leaves the previous snapshot intact.
"""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger("crisis_radar.state")

TAG = "src"  # header name of a record's source tag
CHUNK = 512 * 1024  # well under the broker's default message.max.bytes (1 MB)
Send = Callable[[bytes, bytes], Awaitable[None]]  # (key, value) -> awaited delivery


def tag(partition: int, offset: int, index: int = 0) -> list[tuple[str, bytes]]:
    """Headers of an output derived from input record ``partition/offset`` (``index``-th)."""
    return [(TAG, b"%d:%d:%d" % (partition, offset, index))]


def read_tag(headers: Iterable[tuple[str, bytes]] | None) -> tuple[int, int, int] | None:
    for name, value in headers or ():
        if name == TAG:
            p, o, i = value.split(b":")
            return int(p), int(o), int(i)
    return None


MARK = "wm"  # header name of a watermark marker (a record with an empty value)


def marker(
    source: int, reached: datetime | None, idle: bool, sent: datetime | None = None
) -> list[tuple[str, bytes]]:
    """Headers of a watermark marker: posts.raw partition ``source`` has reached event time
    ``reached`` (None: no valid post yet); ``idle``: it has nothing more to read for now;
    ``sent``: the upstream worker's wall clock when it said so (live markers)."""
    us = -1 if reached is None else int(reached.timestamp() * 1_000_000)
    value = b"%d:%d:%d" % (source, us, int(idle))
    if sent is not None:
        value += b":%d" % int(sent.timestamp() * 1_000_000)
    return [(MARK, value)]


def read_marker(
    headers: Iterable[tuple[str, bytes]] | None,
) -> tuple[int, datetime | None, bool, datetime | None]:
    """(source, reached, idle, sent) of a marker; ``sent`` None for markers without it."""
    for name, value in headers or ():
        if name == MARK:
            p, us, idle, *rest = value.split(b":")
            t = None if int(us) < 0 else datetime.fromtimestamp(int(us) / 1_000_000, UTC)
            sent = datetime.fromtimestamp(int(rest[0]) / 1_000_000, UTC) if rest else None
            return int(p), t, idle == b"1", sent
    raise ValueError("not a watermark marker")


@dataclass
class Seen:
    """Last source tag counted per source partition: replayed upstream outputs are dropped."""

    last: dict[int, tuple[int, int]] = field(default_factory=dict)
    dropped: int = 0

    def fresh(self, headers: Iterable[tuple[str, bytes]] | None) -> bool:
        return self.fresh_tag(read_tag(headers))

    def fresh_tag(self, t: tuple[int, int, int] | None) -> bool:
        if t is None:
            return True
        p, o, i = t
        prev = self.last.get(p)
        if prev is not None and (o, i) <= prev:
            self.dropped += 1
            return False
        self.last[p] = (o, i)
        return True


@dataclass
class Snapshot:
    offset: int  # last input offset whose effects the state includes
    state: Any


class SnapshotStore:
    """Reads and writes stage snapshots on the compacted ``topic`` (one partition)."""

    def __init__(self, topic: str, bootstrap: str, kafka_opts: dict[str, Any], send: Send) -> None:
        self.topic = topic
        self.bootstrap = bootstrap
        self.kafka_opts = kafka_opts
        self.send = send
        self._cache: dict[bytes, bytes] | None = None
        self._lock = asyncio.Lock()
        self._slot: dict[bytes, int] = {}

    def invalidate(self) -> None:
        """Partitions moved: the next ``load`` re-reads the topic (another worker wrote to it)."""
        self._cache = None

    async def load(self, stage: str, partition: int) -> Snapshot | None:
        payload = await self.load_payload(stage, partition)
        if payload is None:
            return None
        snap: Snapshot = pickle.loads(payload)
        return snap

    async def load_payload(self, stage: str, partition: int) -> bytes | None:
        """The pickled Snapshot, unpickled by the caller (the enrich stage's child process)."""
        async with self._lock:
            if self._cache is None:
                self._cache = await self._read_all()
        head_key = f"{stage}/{partition}".encode()
        head = self._cache.get(head_key)
        if head is None:
            return None
        meta = pickle.loads(head)
        if "inline" in meta:
            payload = meta["inline"]
        else:
            parts = []
            for i in range(meta["chunks"]):
                chunk = self._cache.get(b"%s/%d/%d" % (head_key, meta["slot"], i), b"")
                if chunk[:8] != meta["nonce"]:
                    raise RuntimeError(f"snapshot {head_key!r}: chunk {i} missing or stale")
                parts.append(chunk[8:])
            payload = b"".join(parts)
            self._slot[head_key] = meta["slot"]
        return bytes(payload)

    async def save(self, stage: str, partition: int, snap: Snapshot) -> None:
        """Durable on return (chunks first, then the head that points at them)."""
        await self.save_payload(stage, partition, pickle.dumps(snap, pickle.HIGHEST_PROTOCOL))

    async def save_payload(self, stage: str, partition: int, payload: bytes) -> None:
        """``save`` of an already pickled Snapshot (pickled in the enrich stage's child)."""
        head_key = f"{stage}/{partition}".encode()
        if len(payload) <= CHUNK:
            await self.send(head_key, pickle.dumps({"inline": payload}))
            return
        slot = 1 - self._slot.get(head_key, 1)  # never overwrite the slot the head points at
        nonce = os.urandom(8)
        starts = range(0, len(payload), CHUNK)
        n = len(starts)
        await asyncio.gather(*(  # in flight together: one round trip, not one per chunk
            self.send(b"%s/%d/%d" % (head_key, slot, i), nonce + payload[start : start + CHUNK])
            for i, start in enumerate(starts)
        ))  # fmt: skip
        await self.send(head_key, pickle.dumps({"slot": slot, "chunks": n, "nonce": nonce}))
        self._slot[head_key] = slot

    async def _read_all(self) -> dict[bytes, bytes]:
        """Latest value per key of the whole (compacted) topic."""
        from aiokafka import TopicPartition

        out: dict[bytes, bytes] = {}
        tp = TopicPartition(self.topic, 0)
        async for msg in _records(self.bootstrap, self.kafka_opts, tp, None, None):
            if msg.value is None:
                out.pop(msg.key, None)
            else:
                out[msg.key] = msg.value
        return out


async def _records(
    bootstrap: str, opts: dict[str, Any], tp: Any, start: int | None, stop: int | None
) -> Any:
    """Records of ``tp`` from ``start`` (None: beginning) up to ``stop`` (None: current end)."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",  # start below the log start (retention): read what is left
        max_partition_fetch_bytes=16 * 1024 * 1024,
        **opts,
    )
    await consumer.start()
    try:
        consumer.assign([tp])
        if start is None:
            await consumer.seek_to_beginning(tp)
        else:
            consumer.seek(tp, start)
        if stop is None:
            stop = (await consumer.end_offsets([tp]))[tp]
        while await consumer.position(tp) < stop:
            batch = await consumer.getmany(tp, timeout_ms=1000, max_records=5000)
            for msg in batch.get(tp, []):
                if msg.offset >= stop:
                    return
                yield msg
    finally:
        await consumer.stop()


async def read_range(
    bootstrap: str, opts: dict[str, Any], topic: str, partition: int, start: int, stop: int
) -> list[tuple[int, Any, bytes]]:
    """(offset, headers, value) of ``topic/partition`` records in ``[start, stop)``: the records
    a restored stage processes before the records Faust hands it (snapshot behind Faust)."""
    from aiokafka import TopicPartition

    if start >= stop:
        return []
    tp = TopicPartition(topic, partition)
    out = []
    async for m in _records(bootstrap, opts, tp, start, stop):
        out.append((m.offset, list(m.headers or ()), m.value))
    return out
