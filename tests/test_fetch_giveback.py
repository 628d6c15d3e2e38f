"""The table recovery stall of tests/test_two_workers.py (docs/reliability.md "The recovery
stall"), reproduced on the real broker by driving Faust's consumer-thread fetch directly.

A fetch that is waiting when a rebalance starts waits for the new assignment and then drains
with Faust's active-partition set empty (every partition paused), which aiokafka reads as "all
partitions". If the recovery has just sought a changelog partition, that fetch takes its
records; Faust's fetch loop drops them (the flow is stopped) but the consumer's position is past
them, so the recovery never gets an event. streams/faust_runtime/fetch_giveback.py gives such
records back."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

from streams.faust_runtime import fetch_giveback

pytestmark = pytest.mark.stack
N = 7  # records in the "changelog" partition


def _faust_fetch() -> Any:
    """Faust's own ``_fetch_records`` (unwrapped if streams.app installed the patch)."""
    fn = AIOKafkaConsumerThread._fetch_records
    return getattr(fn, "__wrapped__", fn)


async def _changelog(bootstrap: str, topic: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for i in range(N):
            await producer.send_and_wait(topic, b"v%d" % i, key=b"k%d" % i, partition=0)
    finally:
        await producer.stop()


async def _recovery_during_fetch(bootstrap: str, topic: str, fetch: Any) -> tuple[Any, ...]:
    """A fetch starts (flow active, no partition active: paused for the rebalance); the
    rebalance stops the flow; the recovery seeks the changelog partition to 0. Returns what the
    fetch returned, the position after it, and what a fetch after the recovery's resume gets."""
    await _changelog(bootstrap, topic)
    tp = TopicPartition(topic, 0)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([tp])
        await consumer.seek_to_end(tp)
        assert await consumer.position(tp) == N
        faust_consumer = SimpleNamespace(flow_active=True, _buffered_partitions=set())
        thread = SimpleNamespace(consumer=faust_consumer)  # what _fetch_records reads of Faust
        waiting = asyncio.ensure_future(fetch(thread, consumer, set(), timeout=10.0))
        await asyncio.sleep(0.5)
        assert not waiting.done()  # nothing new at the end of the log: it waits
        faust_consumer.flow_active = False  # the rebalance stops the flow...
        consumer.seek(tp, 0)  # ...and the recovery seeks the changelog partition
        drained = await asyncio.wait_for(waiting, 10)
        position = await consumer.position(tp)
        faust_consumer.flow_active = True  # the recovery resumes the flow and the partition
        after = await fetch(thread, consumer, {tp}, timeout=2.0)
        return drained, position, [r.offset for r in after.get(tp, [])]
    finally:
        await consumer.stop()


def test_faust_alone_loses_the_changelog_records_sought_to(stack: Any, topic_prefix: str) -> None:
    """The precondition of the stall, with Faust's fetch unpatched: the straddling fetch returns
    the changelog records although the flow is stopped (Faust's getmany drops them), the
    position is at the end, and the fetch after the resume gets nothing."""
    drained, position, after = asyncio.run(
        _recovery_during_fetch(stack.base.kafka_bootstrap, f"{topic_prefix}lost", _faust_fetch())
    )
    assert sum(len(v) for v in drained.values()) == N
    assert position == N and after == []


def test_records_drained_while_the_flow_is_stopped_are_given_back(
    stack: Any, topic_prefix: str
) -> None:
    fetch = fetch_giveback.guard_fetch_records(_faust_fetch())
    drained, position, after = asyncio.run(
        _recovery_during_fetch(stack.base.kafka_bootstrap, f"{topic_prefix}kept", fetch)
    )
    assert drained == {} and position == 0  # handed back to the consumer, not to Faust
    assert after == list(range(N))  # the recovery reads every record


def test_undeliverable_mirrors_what_faust_hands_over() -> None:
    tps = ["cl0", "cl1", "raw0"]
    assert fetch_giveback.undeliverable(tps, False, {"cl0", "raw0"}, set()) == tps  # rebalance
    assert fetch_giveback.undeliverable(tps, True, {"cl0"}, {"raw0"}) == ["cl1"]  # paused
    assert fetch_giveback.undeliverable(tps, True, None, set()) == []  # client-only: all go
