"""direct_delivery: each consumed message's callback stepped inline, not through ``wait_first``.

Faust's fetcher (``Consumer._drain_messages``) hands every Kafka message to the conductor with
``await self.wait_first(callback(message), self.suspend_flow.wait())``: four asyncio tasks and
an ``asyncio.wait`` per message, so that a rebalance (``suspend_flow``) can abort a callback
blocked on flow control or a full stream buffer. Profiled, that wrapper cost ~11% of the
worker's CPU. Almost always the callback finishes without ever blocking, so it is stepped once
by hand; only a callback that really blocks goes through ``wait_first`` as before (same
abort-on-rebalance behaviour, same exceptions). The loop yields to the event loop before every
message (Faust's yielded at least twice per message, inside wait_first; a rebalance must be
seen between two messages), so rebalance callbacks run between messages as before. The loop
also looks the partition's callback up without the conductor's lock when nobody holds it (a
resubscription does): Faust's ``on_message`` takes the lock only to read that map.

``_drain_messages`` below is a copy of Faust 0.15.3's ``Consumer._drain_messages`` with those
three changes (the gate checks the upstream text has not changed: ``mirrors``).

Upstream: no faust-streaming issue proposes this. Related threads: robinhood/faust#563
(https://github.com/robinhood/faust/issues/563, "Message consumption is slow") and
faust-streaming/faust#229 (https://github.com/faust-streaming/faust/issues/229, a deadlock
reported at this very ``wait_first`` call). Not offered upstream (deploy/upstream/README.md).

Switch: ``CRISIS_RADAR_FAUST_FASTPATH`` (with raw_topic_handler).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, cast

from faust.transport import consumer as fconsumer
from faust.transport.consumer import CONSUMER_FETCHING

from streams.faust_runtime.gate import Patch


async def _finish(coro: Coroutine[Any, Any, Any], blocked: Any) -> None:
    """Drive a callback that yielded ``blocked`` (a future) to completion, as a Task would."""
    try:
        while True:
            if getattr(blocked, "_asyncio_future_blocking", None) is not None:
                blocked._asyncio_future_blocking = False
                await asyncio.wait([blocked])
            else:  # bare yield (asyncio.sleep(0))
                await asyncio.sleep(0)
            blocked = coro.send(None)
    except StopIteration:
        return
    finally:
        coro.close()  # cancelled (rebalance): run the callback's cleanup


async def deliver(self: Any, coro: Coroutine[Any, Any, Any]) -> None:
    """Run one message's callback coroutine: stepped inline, ``wait_first`` only if it blocks."""
    try:
        blocked = coro.send(None)
    except StopIteration:  # the common case: delivered without blocking
        return
    await self.wait_first(_finish(coro, blocked), self.suspend_flow.wait())


async def _drain_messages(self: Any, fetcher: Any) -> None:  # pragma: no cover - Faust's loop
    # faust/transport/consumer.py Consumer._drain_messages (0.15.3), with wait_first replaced
    # by deliver. Kept line for line otherwise.
    callback = self.callback
    getmany = self.getmany
    consumer_should_stop = self._stopped.is_set
    fetcher_should_stop = fetcher._stopped.is_set
    get_read_offset = self._read_offset.__getitem__
    set_read_offset = self._read_offset.__setitem__
    flag_consumer_fetching = CONSUMER_FETCHING
    set_flag = self.diag.set_flag
    unset_flag = self.diag.unset_flag
    commit_every = self._commit_every
    acks_enabled_for = self.app.topics.acks_enabled_for
    sleep = asyncio.sleep
    conductor = self.app.topics
    tp_lock = conductor._tp_to_callback_lock
    callback_for_tp = conductor._tp_to_callback.get
    try:
        while not (consumer_should_stop() or fetcher_should_stop()):
            set_flag(flag_consumer_fetching)
            ait = getmany(timeout=1.0)
            await self.sleep(0)
            if not self.should_stop:
                async for tp, message in ait:
                    # Yield to the loop before every message, as wait_first did: a rebalance
                    # (revoke, generation change) must be seen between two messages, or
                    # getmany keeps delivering records of partitions being revoked.
                    await sleep(0)
                    offset = message.offset
                    r_offset = get_read_offset(tp)
                    if r_offset is None or offset >= r_offset:
                        gap = offset - (r_offset or 0)
                        if gap > 1 and r_offset and acks_enabled_for(message.topic):
                            await self._add_gap(tp, r_offset + 1, offset)
                        if commit_every is not None and self._n_acked >= commit_every:
                            self._n_acked = 0
                            await self.commit()
                        # Faust's on_message takes the conductor lock only to read this map
                        cb = None if tp_lock.locked() else callback_for_tp(tp)
                        await deliver(self, cb(message) if cb else callback(message))
                        set_read_offset(tp, offset)
                    else:
                        self.log.dev("DROPPED MESSAGE ROFF %r", offset)
                unset_flag(flag_consumer_fetching)
    except self.consumer_stopped_errors:
        if self.transport.app.should_stop:
            self.log.info("Broker stopped consumer, shutting down...")
            return
        raise
    except asyncio.CancelledError:
        if self.transport.app.should_stop:
            self.log.info("Consumer shutting down for user cancel.")
            return
        raise
    except Exception as exc:
        self.log.exception("Drain messages raised: %r", exc)
        raise
    finally:
        unset_flag(flag_consumer_fetching)


def install() -> None:
    cast(Any, fconsumer.Consumer)._drain_messages = _drain_messages


_C = "faust.transport.consumer:Consumer"
PATCH = Patch(
    name="direct_delivery",
    switch="faust_fastpath",
    written_for={"faust-streaming": "0.15.3", "aiokafka": "0.14.0"},
    touches=(
        f"{_C}._drain_messages",
        f"{_C}.wait_first",
        f"{_C}#suspend_flow",
        f"{_C}#_read_offset",
        f"{_C}#_commit_every",
        f"{_C}#_n_acked",
        f"{_C}._add_gap",
        "faust.transport.conductor:Conductor#_tp_to_callback",
        "faust.transport.conductor:Conductor#_tp_to_callback_lock",
    ),
    mirrors={f"{_C}._drain_messages": "8308d11bc7a290dc"},
    install=install,
)
