"""Per-message fast path for Faust's consumer loop (faust-streaming 0.15.x).

Faust's fetcher hands every Kafka message to the conductor with
``await self.wait_first(callback(message), self.suspend_flow.wait())``: four asyncio tasks and
an ``asyncio.wait`` per message, so that a rebalance (``suspend_flow``) can abort a callback
blocked on flow control or a full stream buffer. Profiled, that wrapper cost ~11% of the
worker's CPU. Almost always the callback finishes without ever blocking, so we step it once
by hand; only a callback that really blocks goes through ``wait_first`` as before (same
abort-on-rebalance behaviour, same exceptions). The loop still yields to the event loop before
every message (Faust's yielded at least twice, inside wait_first), so rebalance callbacks run
between messages as before. Everything else in the loop is Faust's code.

Second patch (``Conductor._build_handler``): for a partition whose subscribers are all raw-bytes
topics (ours, ``streams.topics``), the per-message callback builds the event directly instead
of running Faust's schema decode (registry lookups and codec calls that return the bytes as
they came, ~5% of the worker's CPU). Flow control, producer ebb and buffer pressure (pause
the partition at 80% full) are Faust's; unlike Faust, a full buffer never blocks the fetcher
(shared by every agent): the rest of the poll is queued over the limit. Other topics (table
changelogs) keep Faust's callback. ``_drain_messages`` also looks the callback up without
taking the conductor's lock when nobody holds it (a resubscription does).

``install()`` is idempotent and checks the Faust version it was written for.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, cast

import faust
from faust.serializers.schemas import Schema
from faust.transport import conductor as fconductor
from faust.transport import consumer as fconsumer
from faust.transport.consumer import CONSUMER_FETCHING

log = logging.getLogger("crisis_radar.worker")
_SUPPORTED = ("0.15.",)


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


async def _deliver(self: Any, coro: Coroutine[Any, Any, Any]) -> None:
    """Run one message's callback coroutine: stepped inline, ``wait_first`` only if it blocks."""
    try:
        blocked = coro.send(None)
    except StopIteration:  # the common case: delivered without blocking
        return
    await self.wait_first(_finish(coro, blocked), self.suspend_flow.wait())


async def _drain_messages(self: Any, fetcher: Any) -> None:  # pragma: no cover - Faust's loop
    # faust/transport/consumer.py Consumer._drain_messages (0.15.3), with wait_first replaced
    # by _deliver. Kept line for line otherwise.
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
                        await _deliver(self, cb(message) if cb else callback(message))
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


def _raw(chan: Any) -> bool:
    """A topic whose key and value are delivered as the bytes Kafka gave (our topics)."""
    schema = getattr(chan, "schema", None)
    return (
        type(schema) is Schema
        and schema.key_serializer == "raw"
        and schema.value_serializer == "raw"
        and schema.key_type in (None, bytes)
        and schema.value_type in (None, bytes)
    )


_faust_build_handler = fconductor.Conductor._build_handler


def _build_handler(conductor: Any, tp: Any, channels: Any) -> Any:  # pragma: no cover
    """faust/transport/conductor.py ConductorCompiler.build (0.15.3; Faust runs a Cython copy
    of it when compiled) for raw-bytes topics: the event is built from the message as is.
    Faust's handler for anything else."""
    if not channels or not all(_raw(c) for c in channels):
        return _faust_build_handler(conductor, tp, channels)
    app = conductor.app
    consumer_on_buffer_full = app.consumer.on_buffer_full
    consumer_on_buffer_drop = app.consumer.on_buffer_drop
    flow_control = app.flow_control
    flow_active = flow_control.is_active
    buffer = app.producer.buffer
    # Faust awaits acquire() and wait_until_ebb() per message: two coroutines and a settings
    # lookup (buffer.size reads app.conf) for checks that almost never wait (~5% of the loop's
    # CPU). Same checks, awaited only when they would wait; a threaded producer keeps Faust's.
    pending = None if app.conf.producer_threaded else buffer.pending._queue
    on_topic_buffer_full = app.sensors.on_topic_buffer_full
    make_event = app.conf.Event

    def on_pressure_high() -> None:
        on_topic_buffer_full(tp)
        consumer_on_buffer_full(tp)

    def on_pressure_drop() -> None:
        consumer_on_buffer_drop(tp)

    async def on_message(message: Any) -> None:
        if not flow_active():
            await flow_control.acquire()
        if pending is None or len(pending) > buffer.max_messages:
            await buffer.wait_until_ebb()
        channels_n = len(channels)
        if not channels_n:
            return
        message.incref(channels_n)
        # One event for all: every channel here has the same (bytes, bytes) types.
        event = make_event(app, message.key, message.value, message.headers, message)
        for chan in channels:
            # Never block on a full buffer (Faust awaits put there): the fetcher serves every
            # agent, so one full buffer starved the others (a posts.raw backlog stalled
            # aggregation). Pressure has already paused this partition at 80% full; what
            # overflows is at most the rest of one poll (broker_max_poll_records).
            chan.queue.put_nowait_enhanced(
                event, on_pressure_high=on_pressure_high, on_pressure_drop=on_pressure_drop
            )

    return on_message


def install() -> bool:
    """Patch Faust's consumer loop; False (and Faust untouched) on an unknown Faust version."""
    cls = cast(Any, fconsumer.Consumer)
    if getattr(cls, "_crisis_radar_fastpath", False):
        return True
    if not faust.__version__.startswith(_SUPPORTED):
        log.warning("faust %s: consumer fast path not installed", faust.__version__)
        return False
    cls._drain_messages = _drain_messages
    cast(Any, fconductor.Conductor)._build_handler = _build_handler
    cls._crisis_radar_fastpath = True
    return True
