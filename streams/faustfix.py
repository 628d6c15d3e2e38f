"""Faust 0.15 consumer patches: every agent partition is delivered in order and without holes
from the offset it was last sought to, and a partition whose commit stalls is sought again.

Why (issue 6, docs/reliability.md "Two workers"): after a rebalance Faust seeks every partition
to its committed offset, but its consumer thread runs fetches concurrently with that seek
(two method-queue workers), so a fetch drained before the seek can be handed over after it.
Faust's per-partition read-offset cache then goes wrong both ways: records it already "read"
are dropped when the seek re-delivers them (commit stuck behind them: the survivor never
finishes the partitions it took over), or a jump is filed as a compaction gap (``_add_gap``)
and committed although no agent saw the records in between. ``streams/state.py`` also needs
in-order delivery (it skips offsets ``<=`` the last processed).

The fix (``install``), for the topics agents consume (changelogs are left to Faust):

* ``OffsetGuard``: after every seek each partition's next offset is known (committed, or 0 if
  never committed); records of a partition not sought since it was
  assigned are dropped (fetched too early). A record below it is dropped (a copy of one already
  handed over), a record above it opens a hole: its batch is dropped and the partition sought
  back (a hole still there after two seeks back is real, e.g. retention, and passed on). Faust's
  read-offset cache is kept equal to what was handed over, so it never drops or gap-commits.
* ``StallWatch`` (safety net): an assigned partition with lag whose committed offset has not
  moved for ``stall_s`` while its agent is idle (nothing queued, nothing taken and unacked) or
  Faust holds acks above never-acked records (it would never commit it again) is sought to its
  committed offset with Faust's ack/gap state for it reset. Redelivery is harmless: stage
  state skips what it holds, source tags drop replayed outputs, sinks are idempotent.

* ``undeliverable`` + ``guarded_fetch_records`` (table recovery, every topic): records the
  consumer thread drained that Faust's fetch loop will not hand over (fetched while the flow is
  stopped for a rebalance, or for a partition no longer active) are given back: the partition
  is sought back to the first of them, in the consumer thread, right after the drain. Faust
  drops such records but aiokafka's position is already past them, and a changelog partition
  is never sought again after its recovery seek: a fetch that outlived the rebalance (waiting
  for the new assignment, then draining with an empty active set, which aiokafka reads as
  "all partitions") took the changelog records the recovery had just sought to, Faust dropped
  them, and the recovery waited forever ("No event received for active tp ... since recovery
  start", docs/reliability.md "The recovery stall").

No patch makes a remote call inside a rebalance: a call into Faust's consumer thread (two
method-queue workers, which also serve the fetches) blocked there can starve the fetches and
hang changelog recovery ("No event received for active tp"): the likely cause of the one hang
of the first version (an earliest-offset lookup in every seek, a committed-offset check every
10 s).

On by default (``CRISIS_RADAR_FAUST_SEEK_FIX``, settings ``faust_seek_fix``).
"""

from __future__ import annotations

import asyncio
import enum
import functools
import logging
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any, cast

from faust.transport import consumer as fconsumer
from faust.transport.drivers import aiokafka as fdriver

log = logging.getLogger("crisis_radar.worker")


class Verdict(enum.Enum):
    DELIVER = "deliver"
    DROP = "drop"  # a copy of a record already handed over
    RESEEK = "reseek"  # a hole: seek the partition back to ``OffsetGuard.next[tp]``


class OffsetGuard:
    """Per-partition next offset to hand over; pure bookkeeping (no Kafka).

    >>> g = OffsetGuard()
    >>> g.sought("t", 10)
    >>> [g.check("t", o).value for o in (10, 11, 11, 14)]
    ['deliver', 'deliver', 'drop', 'reseek']
    >>> g.sought("t", 12); g.check("t", 14).value
    'reseek'
    >>> g.sought("t", 12); g.check("t", 14).value  # the same hole after 2 seeks back: real
    'deliver'
    """

    def __init__(self, reseeks: int = 2) -> None:
        self.reseeks = reseeks  # seeks back to one offset before its hole is believed
        self.next: dict[Any, int | None] = {}
        self._hole_at: dict[Any, tuple[int, int]] = {}  # partition -> (next offset, seeks)
        self.dropped = 0
        self.holes = 0

    def sought(self, tp: Any, offset: int | None) -> None:
        """The partition was sought to ``offset`` (None: unknown, accept the first record).
        Records of a partition never sought (since assigned, or ``forget``) are dropped."""
        self.next[tp] = offset

    def forget(self, tps: Iterable[Any]) -> None:
        for tp in tps:
            self.next.pop(tp, None)
            self._hole_at.pop(tp, None)

    def check(self, tp: Any, offset: int) -> Verdict:
        if tp not in self.next:  # not sought since assigned: fetched before the seek
            self.dropped += 1
            return Verdict.DROP
        want = self.next[tp]
        if want is not None and offset < want:
            self.dropped += 1
            return Verdict.DROP
        if want is not None and offset > want:
            at, n = self._hole_at.get(tp, (want, 0))
            n = n + 1 if at == want else 1
            if n <= self.reseeks:
                self._hole_at[tp] = (want, n)
                self.holes += 1
                return Verdict.RESEEK
        self.next[tp] = offset + 1
        return Verdict.DELIVER


class StallWatch:
    """Which partitions stalled: lag > 0 and the same committed offset for ``stall_s``, the
    last ``idle_s`` of it idle. Pure bookkeeping: the caller passes time and observations.

    >>> w = StallWatch(stall_s=10, idle_s=4)
    >>> w.observe("t", committed=5, lag=3, idle=False, now=0.0)
    False
    >>> w.observe("t", committed=5, lag=3, idle=True, now=10.0)  # idle only since now
    False
    >>> w.observe("t", committed=5, lag=3, idle=True, now=14.0)
    True
    >>> w.observe("t", committed=5, lag=3, idle=True, now=16.0)  # clock restarted on True
    False
    """

    def __init__(self, stall_s: float, idle_s: float = 4.0) -> None:
        self.stall_s, self.idle_s = stall_s, idle_s
        self._since: dict[Any, tuple[int | None, float]] = {}  # committed, since when
        self._idle: dict[Any, float] = {}  # idle since when

    def observe(self, tp: Any, committed: int | None, lag: int, idle: bool, now: float) -> bool:
        seen = self._since.get(tp)
        if lag <= 0 or seen is None or seen[0] != committed:
            self._since[tp] = (committed, now)
            self._idle.pop(tp, None)
            return False
        if not idle:
            self._idle.pop(tp, None)
            return False
        idle_since = self._idle.setdefault(tp, now)
        if now - seen[1] < self.stall_s or now - idle_since < self.idle_s:
            return False
        self._since[tp] = (committed, now)
        self._idle.pop(tp, None)
        return True

    def stuck_for(self, tp: Any, now: float) -> float:
        """Seconds the committed offset has not moved with lag (0 if unknown)."""
        seen = self._since.get(tp)
        return 0.0 if seen is None else now - seen[1]

    def forget(self, tps: Iterable[Any]) -> None:
        for tp in tps:
            self._since.pop(tp, None)
            self._idle.pop(tp, None)


def install(stall_s: float = 10.0, every_s: float = 2.0) -> None:
    """Patch ``faust.transport.consumer.Consumer`` (idempotent); call before the worker starts."""
    cls = cast(Any, fconsumer.Consumer)
    if getattr(cls, "_cr_installed", False):
        return
    getmany, perform_seek, seek = cls.getmany, cls.perform_seek, cls.seek
    revoked = cls.on_partitions_revoked

    def guard(self: Any) -> OffsetGuard:
        if "_cr_guard" not in self.__dict__:
            self._cr_guard = OffsetGuard()
        return cast(OffsetGuard, self._cr_guard)

    async def guarded_perform_seek(self: Any) -> None:
        await perform_seek(self)
        for tp in self.assignment():  # no remote call here: this runs inside rebalances
            if self.app.topics.acks_enabled_for(tp.topic):
                committed = self._read_offset.get(tp)  # set from the committed offsets
                # Never committed: expect offset 0; aiokafka leaves such partitions where they
                # were, so a later first record is a hole and is sought back (a log start
                # past 0, after retention, is believed after two seeks back).
                guard(self).sought(tp, 0 if committed is None else committed)

    async def guarded_seek(self: Any, partition: Any, offset: int) -> None:
        await seek(self, partition, offset)
        if self.app.topics.acks_enabled_for(partition.topic):
            guard(self).sought(partition, offset)

    async def guarded_revoked(self: Any, tps: set[Any]) -> None:
        guard(self).forget(tps)
        await revoked(self, tps)

    async def guarded_getmany(self: Any, timeout: float) -> AsyncIterator[tuple[Any, Any]]:
        if self.__dict__.get("_cr_watchdog") is None:
            self._cr_watchdog = asyncio.ensure_future(_watchdog(self, stall_s, every_s))
        g, acked, reseek = guard(self), self.app.topics.acks_enabled_for, set()
        dropped_before = g.dropped
        async for tp, message in getmany(self, timeout):
            if not acked(tp.topic):
                yield tp, message
                continue
            if tp in reseek:  # the rest of this batch is behind the hole too
                continue
            verdict = g.check(tp, message.offset)
            if verdict is Verdict.RESEEK:
                reseek.add(tp)
                log.warning(
                    "faustfix: %s:%d got offset %d, expected %s: seeking back",
                    tp.topic, tp.partition, message.offset, g.next.get(tp),
                )  # fmt: skip
                await _seek_back(self, tp, g.next.get(tp))
            if verdict is not Verdict.DELIVER:
                continue
            self._read_offset[tp] = message.offset  # Faust's cache: never drop, never a "gap"
            yield tp, message
        if g.dropped != dropped_before:
            log.info(
                "faustfix: dropped %d records (copies, or fetched before a seek)",
                g.dropped - dropped_before,
            )

    cls._cr_installed = True
    cls.getmany = guarded_getmany
    cls.perform_seek = guarded_perform_seek
    cls.seek = guarded_seek
    cls.on_partitions_revoked = guarded_revoked
    thread = cast(Any, fdriver.AIOKafkaConsumerThread)
    thread._fetch_records = _guard_fetch_records(thread._fetch_records)


def undeliverable(
    tps: Iterable[Any], flow_active: bool, active: set[Any] | None, buffered: set[Any]
) -> list[Any]:
    """Partitions of a drained fetch that Faust's ``Consumer.getmany`` will not hand over: all
    of them while the flow is stopped (a rebalance), else those neither active nor buffered
    (``active`` None: a client-only app, everything is handed over).

    >>> undeliverable(["a", "b"], False, {"a"}, set())
    ['a', 'b']
    >>> undeliverable(["a", "b", "c"], True, {"a"}, {"c"})
    ['b']
    """
    if not flow_active:
        return list(tps)
    if active is None:
        return []
    return [tp for tp in tps if tp not in active and tp not in buffered]


def _guard_fetch_records(fetch_records: Any) -> Any:
    """Wrap ``AIOKafkaConsumerThread._fetch_records`` (runs in the consumer thread): records
    Faust will drop are given back by seeking their partition to the first of them. Done in
    the same step as the drain (no await between), so no seek made meanwhile is undone."""

    @functools.wraps(fetch_records)
    async def guarded_fetch_records(
        self: Any, consumer: Any, active_partitions: Any, timeout: Any = None,
        max_records: Any = None,
    ) -> Any:  # fmt: skip
        records = await fetch_records(
            self, consumer, active_partitions, timeout=timeout, max_records=max_records
        )
        if not records:
            return records
        parent = self.consumer
        flow = parent.flow_active
        back = undeliverable(records, flow, active_partitions, parent._buffered_partitions)
        for tp in back:
            try:
                consumer.seek(tp, records[tp][0].offset)
            except Exception as exc:  # revoked meanwhile: its next assignment positions it
                log.info("faustfix: give back %s:%d failed: %r", tp.topic, tp.partition, exc)
        if back:
            log.info(
                "faustfix: gave back %d records fetched while %s: %s",
                sum(len(records[tp]) for tp in back),
                "paused" if flow else "the flow was stopped",
                " ".join(sorted(f"{tp.topic}:{tp.partition}" for tp in back)),
            )  # fmt: skip
            records = {tp: recs for tp, recs in records.items() if tp not in back}
        return records

    return guarded_fetch_records


async def _seek_back(self: Any, tp: Any, offset: int | None, stalled: bool = False) -> None:
    """Seek one partition (in the consumer thread). ``stalled``: back to the committed offset,
    so Faust's acks and gaps above it are forgotten too (all of it is handed over again)."""
    offset = offset or 0
    try:  # bounded: a call stuck in the consumer thread must not hold Faust's fetch loop
        await asyncio.wait_for(self._thread.seek_wait({tp: offset}), timeout=10)
    except Exception as exc:  # revoked meanwhile: the next assignment seeks it anyway
        log.warning("faustfix: seek %s:%d -> %s failed: %r", tp.topic, tp.partition, offset, exc)
        return
    if stalled:
        for cache in (self._acked, self._acked_index, self._gap):
            cache.pop(tp, None)
    self._read_offset[tp] = offset if offset else None
    self._cr_guard.sought(tp, offset)


def _busy_topics(self: Any) -> set[str]:
    """Agent topics with events queued for their streams or taken and not yet acked."""
    busy = {m.topic for m in list(self._unacked_messages) if not m.acked}
    for tp, channels in list(self.app.topics._tp_index.items()):
        if not all(ch.queue.empty() for ch in channels):
            busy.add(tp.topic)
    return busy


def _head_hole(self: Any, tp: Any) -> bool:
    """Faust holds acks above records never acked: it will not commit this partition again
    (``Consumer._new_offset``), however busy the agent is."""
    acked, committed = self._acked.get(tp), self._committed_offset.get(tp)
    return bool(acked) and committed is not None and min(acked) - committed > 1


def _forget_orphans(self: Any, tp: Any) -> None:
    """Messages of ``tp`` taken by a stream but never acked, below the first acked one: they
    would keep Faust's next rebalance waiting for them (``wait_empty``)."""
    acked = self._acked.get(tp)
    below = min(acked) if acked else None
    for m in list(self._unacked_messages):
        if m.tp == tp and not m.acked and (below is None or m.offset < below):
            self._unacked_messages.discard(m)


async def _watchdog(self: Any, stall_s: float, every_s: float) -> None:
    watch = StallWatch(stall_s)
    said: dict[Any, float] = {}  # partition -> when "commit not moving" was last logged
    while not self.should_stop:
        await asyncio.sleep(every_s)
        try:
            if self.app.rebalancing or not self.flow_active:
                continue
            assigned, now = self.assignment(), time.monotonic()
            watch.forget([tp for tp in list(watch._since) if tp not in assigned])
            busy = _busy_topics(self)
            for tp in assigned:
                if not self.app.topics.acks_enabled_for(tp.topic) or tp in self._paused_partitions:
                    continue
                committed, high = self._committed_offset.get(tp), self.highwater(tp)
                lag = 0 if high is None else high - (committed or 0)
                hole = _head_hole(self, tp)
                state = (
                    f"{tp.topic}:{tp.partition} committed {committed} (high {high}, "
                    f"read {self._read_offset.get(tp)}, next {self._cr_guard.next.get(tp)}, "
                    f"acked {len(self._acked.get(tp) or ())}, head hole {hole}, "
                    f"topic busy {tp.topic in busy})"
                )  # fmt: skip
                if watch.observe(tp, committed, lag, hole or tp.topic not in busy, now):
                    log.warning("faustfix: stalled, seeking back: %s", state)
                    _forget_orphans(self, tp)
                    await _seek_back(self, tp, committed, stalled=True)
                elif watch.stuck_for(tp, now) >= stall_s and now - said.get(tp, -1e9) >= 30:
                    said[tp] = now
                    log.info("faustfix: commit not moving (agent busy): %s", state)
        except Exception:  # a diagnostic net must never take the worker down
            log.exception("faustfix: watchdog tick failed")
