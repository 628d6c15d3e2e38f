"""stall_watchdog: an agent partition whose commit stalls is sought back to its committed offset.

A safety net for what offset_order_guard cannot see: every 2 s, an assigned agent partition
with lag whose committed offset has not moved for ``stall_s`` (10 s), and for the last 4 s of
it either idle (nothing queued for its streams, nothing taken and unacked) or with Faust holding
acks above never-acked records (Faust then never commits it again, ``Consumer._new_offset``),
is sought back to its committed offset with Faust's acks and gaps for it forgotten. Redelivery
is harmless: stage state skips what it holds, source tags drop replayed outputs, sinks are
idempotent. No remote call is made (a committed-offset check against the group inside a
rebalance was the likely cause of one recovery hang; docs/reliability.md).

Upstream: faust-streaming/faust#318 (https://github.com/faust-streaming/faust/issues/318,
"Offset not committed after partition returned back to worker after 2 rebalances", from
robinhood/faust#681) and robinhood/faust#559 (https://github.com/robinhood/faust/issues/559,
"can't commit offset": a gap or duplicate in Faust's acked list holds the commit forever).

Requires offset_order_guard (it seeks through the guard). The watchdog task starts with the
consumer's first fetch. Switch: ``CRISIS_RADAR_FAUST_SEEK_FIX``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from typing import Any, cast

from faust.transport import consumer as fconsumer

from streams.faust_runtime.gate import Patch
from streams.faust_runtime.offset_order_guard import guard, seek_back

log = logging.getLogger("crisis_radar.worker")


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
                    f"read {self._read_offset.get(tp)}, next {guard(self).next.get(tp)}, "
                    f"acked {len(self._acked.get(tp) or ())}, head hole {hole}, "
                    f"topic busy {tp.topic in busy})"
                )  # fmt: skip
                if watch.observe(tp, committed, lag, hole or tp.topic not in busy, now):
                    log.warning("faustfix: stalled, seeking back: %s", state)
                    _forget_orphans(self, tp)
                    await seek_back(self, tp, committed, stalled=True)
                elif watch.stuck_for(tp, now) >= stall_s and now - said.get(tp, -1e9) >= 30:
                    said[tp] = now
                    log.info("faustfix: commit not moving (agent busy): %s", state)
        except Exception:  # a diagnostic net must never take the worker down
            log.exception("faustfix: watchdog tick failed")


def install(stall_s: float = 10.0, every_s: float = 2.0) -> None:
    """Start the watchdog with the consumer's first fetch: ``getmany`` is wrapped by a plain
    function (called once per poll, returns Faust's iterator: no cost per message)."""
    cls = cast(Any, fconsumer.Consumer)
    getmany = cls.getmany

    def watched_getmany(self: Any, timeout: float) -> Any:
        if self.__dict__.get("_cr_watchdog") is None:
            self._cr_watchdog = asyncio.ensure_future(_watchdog(self, stall_s, every_s))
        return getmany(self, timeout)

    cls.getmany = watched_getmany


_C = "faust.transport.consumer:Consumer"
PATCH = Patch(
    name="stall_watchdog",
    switch="faust_seek_fix",
    written_for={"faust-streaming": "0.15.3", "aiokafka": "0.14.0"},
    touches=(
        f"{_C}.getmany",
        f"{_C}.highwater",
        f"{_C}.flow_active",
        f"{_C}#_unacked_messages",
        f"{_C}#_committed_offset",
        f"{_C}#_paused_partitions",
        f"{_C}#_acked",
        f"{_C}#_read_offset",
        "faust.transport.conductor:Conductor#_tp_index",
        "faust.app.base:App.rebalancing",
    ),
    # the head-hole rule reads Faust's commit rule (acked offsets must be consecutive)
    mirrors={f"{_C}._new_offset": "7524555f309a6493"},
    install=install,
    requires=("offset_order_guard",),
)
