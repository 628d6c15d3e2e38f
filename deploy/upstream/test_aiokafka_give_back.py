# ruff: noqa: I001  (upstream's import layout: tests is a separate first-party block)
# Tests for 0001-aiokafka-give-back-undeliverable-records.patch, in faust-streaming's style:
# add these methods to ``class AIOKafkaConsumerThreadFixtures``'s test class in
# tests/unit/transport/drivers/test_aiokafka.py (they use its ``cthread`` and ``_consumer``
# fixtures and ``TP1``/``TP2``), or drop this file next to it.
from unittest.mock import MagicMock, Mock

import pytest

from tests.helpers import AsyncMock
from tests.unit.transport.drivers.test_aiokafka import (  # noqa: F401 (fixtures)
    TP1,
    TP2,
    AIOKafkaConsumerThreadFixtures,
    callback,
    consumer,
    on_partitions_assigned,
    on_partitions_revoked,
    thread,
)


def _records(*offsets):
    return [Mock(name="record", offset=offset) for offset in offsets]


class Test_AIOKafkaConsumerThread_give_back(AIOKafkaConsumerThreadFixtures):
    def _fetcher_returns(self, cthread, _consumer, records):
        _consumer._closed = False
        fetcher = _consumer._fetcher
        fetcher._closed = False
        fetcher._subscriptions = MagicMock(name="subscriptions")
        fetcher.fetched_records = AsyncMock(return_value=records)
        cthread.consumer.flow_active = True
        cthread.consumer._buffered_partitions = set()

    @pytest.mark.asyncio
    async def test__fetch_records__flow_stopped_during_fetch(self, *, cthread, _consumer):
        # The fetch started with the flow active and came back after a
        # rebalance stopped it: getmany would drop every record.
        records = {TP1: _records(0, 1, 2), TP2: _records(7)}
        self._fetcher_returns(cthread, _consumer, records)

        async def fetched_records(*args, **kwargs):
            cthread.consumer.flow_active = False
            return records

        _consumer._fetcher.fetched_records = fetched_records
        assert await cthread._fetch_records(_consumer, set()) == {}
        _consumer.seek.assert_any_call(TP1, 0)
        _consumer.seek.assert_any_call(TP2, 7)
        assert _consumer.seek.call_count == 2

    @pytest.mark.asyncio
    async def test__fetch_records__inactive_partition(self, *, cthread, _consumer):
        # An empty active set means "all partitions" to aiokafka: records
        # of a partition that is not active come back and are given back.
        records = {TP1: _records(3, 4), TP2: _records(10)}
        self._fetcher_returns(cthread, _consumer, records)
        ret = await cthread._fetch_records(_consumer, {TP1})
        assert ret == {TP1: records[TP1]}
        _consumer.seek.assert_called_once_with(TP2, 10)

    @pytest.mark.asyncio
    async def test__fetch_records__buffered_partition_kept(self, *, cthread, _consumer):
        records = {TP1: _records(3), TP2: _records(10)}
        self._fetcher_returns(cthread, _consumer, records)
        cthread.consumer._buffered_partitions = {TP2}
        assert await cthread._fetch_records(_consumer, {TP1}) == records
        _consumer.seek.assert_not_called()

    @pytest.mark.asyncio
    async def test__fetch_records__client_only(self, *, cthread, _consumer):
        records = {TP1: _records(3)}
        self._fetcher_returns(cthread, _consumer, records)
        assert await cthread._fetch_records(_consumer, None) == records
        _consumer.seek.assert_not_called()

    @pytest.mark.asyncio
    async def test__fetch_records__seek_fails(self, *, cthread, _consumer):
        # Revoked meanwhile: the next assignment positions the partition.
        records = {TP1: _records(3), TP2: _records(10)}
        self._fetcher_returns(cthread, _consumer, records)
        _consumer.seek.side_effect = Exception("not assigned")
        assert await cthread._fetch_records(_consumer, {TP1}) == {TP1: records[TP1]}
