"""Faust 0.15 consumer: never hand over records fetched before a rebalance's seek.

After a rebalance Faust seeks every partition to its committed offset (``perform_seek``), but a
fetch started before that seek can return after it, and Faust's loop then delivers those stale
records. Its read-offset cache is left wrong: records were dropped as "already read" (commit
stuck behind them, posts missing until a restart) or a jump was marked done (``_add_gap``) and
committed although no agent saw the records in between; with per-partition offset state
(``streams/state.py``) stale records delivered first also make the real ones look old. Seen
with two workers and one stopped mid-stream (tests/test_two_workers.py), ~1 run in 6.

The fix: count seeks; the agent-topic records of a batch whose fetch started before the last
seek are dropped, and every agent partition is sought again to its committed offset (the
beginning if none), so the consumer re-reads from there. Changelog records pass as before.
Redelivery is harmless downstream (at-least-once, idempotent sinks).

Opt-in (``CRISIS_RADAR_FAUST_SEEK_FIX=1``): with it the two-worker test passed 9 of 10 runs (the
stale fetch was caught in 6) and one hung in changelog recovery, not yet explained.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any, cast

from faust.transport import consumer as fconsumer

log = logging.getLogger("crisis_radar.worker")


def install() -> None:
    """Patch ``faust.transport.consumer.Consumer`` (idempotent); call before the worker starts."""
    cls = cast(Any, fconsumer.Consumer)
    if getattr(cls, "_crisis_radar_seeks", None) is not None:
        return
    getmany, perform_seek = cls.getmany, cls.perform_seek

    async def counted_seek(self: Any) -> None:
        self._crisis_radar_seeks += 1  # before: a fetch racing the seek counts as stale
        await perform_seek(self)

    async def fresh_getmany(self: Any, timeout: float) -> AsyncIterator[tuple[Any, Any]]:
        seeks, stale = self._crisis_radar_seeks, False
        acked = self.app.topics.acks_enabled_for  # agents' topics; not changelogs
        async for tp, message in getmany(self, timeout):
            if not stale and self._crisis_radar_seeks != seeks:
                stale = True
                log.info("a fetch outlived a seek: dropping its records, seeking again")
                await _reseek(self, acked)
            if stale and acked(tp.topic):
                continue
            yield tp, message

    cls._crisis_radar_seeks = 0
    cls.perform_seek = counted_seek
    cls.getmany = fresh_getmany


async def _reseek(self: Any, acked: Any) -> None:
    """Every agent partition back to its committed offset, or its beginning if it has none
    (``perform_seek`` leaves those where they are: past the records just dropped)."""
    if not self.assignment():
        return
    await self.perform_seek()
    never = [
        tp for tp in self.assignment() if acked(tp.topic) and self._committed_offset.get(tp) is None
    ]
    if never:
        await self.seek_to_beginning(*never)
