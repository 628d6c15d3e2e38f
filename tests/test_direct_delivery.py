"""streams.faust_runtime.direct_delivery: Faust's per-message delivery without tasks, same
outcomes as wait_first."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from faust.transport.consumer import Consumer
from mode import Service

from streams import faust_runtime
from streams.faust_runtime import direct_delivery


class _Consumer(Service):
    """Just what ``deliver`` uses of a Faust consumer: ``wait_first`` and ``suspend_flow``."""

    def __init__(self) -> None:
        super().__init__()
        self.suspend_flow = asyncio.Event()


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_apply_patches_faust_consumer_once() -> None:
    on = SimpleNamespace(faust_fastpath=True, faust_seek_fix=False)
    assert "direct_delivery" in faust_runtime.apply(on)
    assert faust_runtime.apply(on).count("direct_delivery") == 1
    assert Consumer._drain_messages is direct_delivery._drain_messages


def test_callback_that_never_blocks_runs_inline() -> None:
    seen: list[tuple[int, Any]] = []

    async def callback(message: int) -> None:
        seen.append((message, asyncio.current_task()))

    async def main() -> None:
        me = asyncio.current_task()
        await direct_delivery.deliver(_Consumer(), callback(7))
        assert seen == [(7, me)]  # ran in the caller's task: no task was created

    _run(main())


def test_blocked_callback_completes_after_its_future() -> None:
    done: list[str] = []

    async def main() -> None:
        gate: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        async def callback(message: str) -> None:
            done.append(message + (await gate))

        task = asyncio.ensure_future(direct_delivery.deliver(_Consumer(), callback("a")))
        await asyncio.sleep(0.01)
        assert not task.done() and done == []
        gate.set_result("b")
        await asyncio.wait_for(task, 2)

    _run(main())
    assert done == ["ab"]


def test_bare_yield_and_several_suspensions() -> None:
    steps: list[int] = []

    async def callback(message: int) -> None:
        for i in range(3):
            await asyncio.sleep(0)
            steps.append(i)
        await asyncio.sleep(0.01)
        steps.append(message)

    async def main() -> None:
        await asyncio.wait_for(direct_delivery.deliver(_Consumer(), callback(9)), 2)

    _run(main())
    assert steps == [0, 1, 2, 9]


def test_suspend_flow_aborts_a_blocked_callback_and_runs_its_cleanup() -> None:
    cleaned: list[bool] = []

    async def main() -> None:
        consumer = _Consumer()
        never: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        async def callback(message: int) -> None:
            try:
                await never  # e.g. flow control paused during a rebalance
            finally:
                cleaned.append(True)

        task = asyncio.ensure_future(direct_delivery.deliver(consumer, callback(1)))
        await asyncio.sleep(0.01)
        consumer.suspend_flow.set()  # Faust sets this on rebalance
        await asyncio.wait_for(task, 2)

    _run(main())
    assert cleaned == [True]


def test_exception_in_callback_propagates() -> None:
    async def inline(message: int) -> None:
        raise ValueError("inline")

    async def later(message: int) -> None:
        await asyncio.sleep(0.001)
        raise ValueError("later")

    async def main(cb: Any) -> None:
        await direct_delivery.deliver(_Consumer(), cb(1))

    with pytest.raises(ValueError, match="inline"):
        _run(main(inline))
    with pytest.raises(ValueError, match="later"):
        _run(main(later))
