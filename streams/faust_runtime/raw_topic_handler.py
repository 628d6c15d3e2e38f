"""raw_topic_handler: raw-bytes topics get a per-message handler that neither decodes nor
blocks the shared fetcher on one full stream buffer.

Faust builds one callback per partition (``Conductor._build_handler``, the compiled copy of
``ConductorCompiler.build``). For a partition whose subscribers are all raw-bytes topics (ours,
``streams.topics``) this handler builds the event directly instead of running Faust's schema
decode (registry lookups and codec calls that return the bytes as they came, ~5% of the
worker's CPU). Flow control, producer ebb and buffer pressure (the partition is paused at 80%
full) are Faust's, but the two awaits Faust makes per message are made only when they would
wait (a threaded producer keeps Faust's check). Unlike Faust, a full buffer never blocks the
fetcher, which every agent shares (a posts.raw backlog stalled aggregation): the rest of the
poll is queued over the limit, at most ``broker_max_poll_records``. Other topics (table
changelogs) keep Faust's handler.

Upstream: faust-streaming/faust#53 (https://github.com/faust-streaming/faust/issues/53,
"Prevent stream buffer overflow ...": one slow agent's full buffer starves the agents of other
topics); Faust's fix there, pausing the partition under pressure, still blocks the fetcher on
the poll already in memory. No issue covers the decode cost of raw topics.

Switch: ``CRISIS_RADAR_FAUST_FASTPATH`` (with direct_delivery).
"""

from __future__ import annotations

from typing import Any, cast

from faust.serializers.schemas import Schema
from faust.transport import conductor as fconductor

from streams.faust_runtime.gate import Patch

_faust_build_handler = fconductor.Conductor._build_handler


def is_raw(chan: Any) -> bool:
    """A topic whose key and value are delivered as the bytes Kafka gave (our topics)."""
    schema = getattr(chan, "schema", None)
    return (
        type(schema) is Schema
        and schema.key_serializer == "raw"
        and schema.value_serializer == "raw"
        and schema.key_type in (None, bytes)
        and schema.value_type in (None, bytes)
    )


def _build_handler(conductor: Any, tp: Any, channels: Any) -> Any:  # pragma: no cover
    """faust/transport/conductor.py ConductorCompiler.build (0.15.3) for raw-bytes topics: the
    event is built from the message as is. Faust's handler for anything else."""
    if not channels or not all(is_raw(c) for c in channels):
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


def install() -> None:
    cast(Any, fconductor.Conductor)._build_handler = _build_handler


PATCH = Patch(
    name="raw_topic_handler",
    switch="faust_fastpath",
    written_for={"faust-streaming": "0.15.3", "aiokafka": "0.14.0"},
    touches=(
        "faust.transport.conductor:Conductor._build_handler",
        "faust.transport.consumer:Consumer.on_buffer_full",
        "faust.transport.consumer:Consumer.on_buffer_drop",
        "faust.transport.producer:ProducerBuffer#pending",
        "faust.transport.producer:ProducerBuffer.max_messages",
        "faust.transport.producer:ProducerBuffer.wait_until_ebb",
        "asyncio:Queue#_queue",
        "mode.utils.queues:FlowControlEvent.is_active",
        "faust.types.tuples:Message.incref",
        "mode.utils.queues:ThrowableQueue.put_nowait_enhanced",
        "faust.serializers.schemas:Schema#key_serializer",
    ),
    mirrors={"faust.transport.conductor:ConductorCompiler.build": "886a0c4ab66ab491"},
    install=install,
)
