"""fetch_giveback: records the consumer thread drained but Faust will not hand over are given
back (their partition sought back to the first of them).

Why (docs/reliability.md "The recovery stall"): a fetch call that is in Faust's consumer thread
when a rebalance begins waits for the new assignment (aiokafka ``Fetcher.fetched_records``),
then drains with Faust's active-partition set, which is empty while Faust pauses everything
for the rebalance, and aiokafka reads an empty set as "every partition". If the recovery's
seek of the changelog partitions came first, that drain takes the changelog records; Faust's
``getmany`` finds the flow stopped and drops them, aiokafka's position is now past them, and
the recovery, which seeks a changelog once and then waits for events up to the highwater,
waits forever ("No event received for active tp ... since recovery start"). The wrapper
runs right after the drain, in the consumer thread (no await between: no seek made meanwhile is
undone), and seeks back every partition whose records Faust will drop: all of them while the
flow is stopped, else those neither active nor buffered. Applies to every topic.

Upstream: no faust-streaming issue reports this race (empty active set read as "all" by
aiokafka). Closest threads: robinhood/faust#583 (https://github.com/robinhood/faust/pull/583,
records of a fetch that waited across a rebalance dropped, open), faust-streaming/faust#235
and #253 (https://github.com/faust-streaming/faust/pull/253, "Stop fetching when flow stops";
it cancels the waiting fetch in Faust's event loop, not the call already in the consumer
thread). Same symptom, other cause: faust-streaming/faust#155. Upstream patch:
deploy/upstream/0001-aiokafka-give-back-undeliverable-records.patch.

Switch: ``CRISIS_RADAR_FAUST_SEEK_FIX`` (with offset_order_guard and stall_watchdog).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from typing import Any, cast

from faust.transport.drivers import aiokafka as fdriver

from streams.faust_runtime.gate import Patch

log = logging.getLogger("crisis_radar.worker")


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


def guard_fetch_records(fetch_records: Any) -> Any:
    """Wrap ``AIOKafkaConsumerThread._fetch_records`` (runs in the consumer thread)."""

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


def install() -> None:
    thread = cast(Any, fdriver.AIOKafkaConsumerThread)
    thread._fetch_records = guard_fetch_records(thread._fetch_records)


_FETCH = "faust.transport.drivers.aiokafka:AIOKafkaConsumerThread._fetch_records"
PATCH = Patch(
    name="fetch_giveback",
    switch="faust_seek_fix",
    written_for={"faust-streaming": "0.15.3", "aiokafka": "0.14.0"},
    touches=(
        _FETCH,
        "faust.transport.consumer:Consumer#_buffered_partitions",
        "faust.transport.consumer:Consumer.flow_active",
        "aiokafka:AIOKafkaConsumer.seek",
        "aiokafka.consumer.fetcher:Fetcher.fetched_records",
    ),
    # the wrapper relies on what _fetch_records returns and when (flow check before the drain)
    mirrors={_FETCH: "4ba572180fc65471"},
    install=install,
)
