"""offset_order_guard: every agent partition is handed over in order and without holes from
the offset it was last sought to.

Why (docs/reliability.md "Two workers: the takeover bug"): after a rebalance Faust seeks every
partition to its committed offset, but its consumer thread runs fetches concurrently with that
seek (two method-queue workers), so a fetch drained before the seek can be handed over after
it. Faust's per-partition read-offset cache then goes wrong both ways: records it already
"read" are dropped when the seek re-delivers them (the commit stays stuck behind them: the
survivor never finishes the partitions it took over), or a jump is filed as a compaction gap
(``_add_gap``) and committed although no agent saw the records in between. ``streams/state.py``
also needs in-order delivery (it skips offsets ``<=`` the last processed).

The guard, for the topics agents consume (changelogs are left to Faust): after every seek
each partition's next offset is known (committed, or 0 if never committed); records of a
partition not sought since it was assigned are dropped (fetched too early). A record below it
is dropped (a copy of one already handed over), a record above it opens a hole: its batch is
dropped and the partition sought back (a hole still there after two seeks back is real, e.g.
retention, and passed on). Faust's read-offset cache is kept equal to what was handed over, so
it never drops or gap-commits. No remote call is made inside a rebalance (a call into Faust's
consumer thread blocked there can starve the fetches and hang changelog recovery); a seek back
is bounded to 10 s.

Upstream: faust-streaming/faust#221 (https://github.com/faust-streaming/faust/issues/221,
"Prefetched events cause out of order issue after rebalance"; fixed by #223/#234/#235 with a
generation-id check, which does not cover a fetch drained *within* the new generation before
its seek) and #216 (https://github.com/faust-streaming/faust/issues/216, offsets skipped
around the rebalance seek). Faust 0.15.3 with aiokafka 0.14.0 still has the race.

Switch: ``CRISIS_RADAR_FAUST_SEEK_FIX`` (with stall_watchdog and fetch_giveback).
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import AsyncIterator, Iterable
from typing import Any, cast

from faust.transport import consumer as fconsumer

from streams.faust_runtime.gate import Patch

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


def guard(consumer: Any) -> OffsetGuard:
    """The consumer's guard (made on first use)."""
    if "_cr_guard" not in consumer.__dict__:
        consumer._cr_guard = OffsetGuard()
    return cast(OffsetGuard, consumer._cr_guard)


async def seek_back(self: Any, tp: Any, offset: int | None, stalled: bool = False) -> None:
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
    guard(self).sought(tp, offset)


def install() -> None:
    """Wrap ``Consumer.getmany``, ``perform_seek``, ``seek`` and ``on_partitions_revoked``."""
    cls = cast(Any, fconsumer.Consumer)
    getmany, perform_seek, seek = cls.getmany, cls.perform_seek, cls.seek
    revoked = cls.on_partitions_revoked

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
                await seek_back(self, tp, g.next.get(tp))
            if verdict is not Verdict.DELIVER:
                continue
            self._read_offset[tp] = message.offset  # Faust's cache: never drop, never a "gap"
            yield tp, message
        if g.dropped != dropped_before:
            log.info(
                "faustfix: dropped %d records (copies, or fetched before a seek)",
                g.dropped - dropped_before,
            )

    cls.getmany = guarded_getmany
    cls.perform_seek = guarded_perform_seek
    cls.seek = guarded_seek
    cls.on_partitions_revoked = guarded_revoked


_C = "faust.transport.consumer:Consumer"
PATCH = Patch(
    name="offset_order_guard",
    switch="faust_seek_fix",
    written_for={"faust-streaming": "0.15.3", "aiokafka": "0.14.0"},
    touches=(
        f"{_C}.getmany",
        f"{_C}.perform_seek",
        f"{_C}.seek",
        f"{_C}.on_partitions_revoked",
        f"{_C}#_read_offset",
        f"{_C}#_acked",
        f"{_C}#_acked_index",
        f"{_C}#_gap",
        "faust.transport.consumer:ThreadDelegateConsumer#_thread",
        "faust.transport.consumer:ConsumerThread.seek_wait",
        "faust.transport.conductor:Conductor.acks_enabled_for",
    ),
    # getmany's read-offset and active-partition logic is what the guard corrects
    mirrors={f"{_C}.getmany": "fb4700d31489b3b4"},
    install=install,
)
