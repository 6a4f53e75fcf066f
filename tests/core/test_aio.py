"""zegel.aio: eager gather/ensure_future keep asyncio's semantics."""

from __future__ import annotations

import asyncio

import pytest

from zegel import aio


async def immediate(value: int) -> int:
    return value


async def sleepy(value: int, delay: float) -> int:
    await asyncio.sleep(delay)
    return value


async def failing() -> int:
    await asyncio.sleep(0.01)
    raise ValueError("boom")


def test_gather_keeps_order_and_runs_suspending_coroutines_concurrently() -> None:
    async def go() -> tuple[tuple[int, ...], float]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        values = await aio.gather(sleepy(1, 0.1), immediate(2), sleepy(3, 0.1), immediate(4))
        return values, loop.time() - started

    values, elapsed = asyncio.run(go())
    assert values == (1, 2, 3, 4)
    assert elapsed < 0.19  # the two sleeps overlapped


def test_gather_without_suspension_creates_no_tasks() -> None:
    async def go() -> int:
        before = len(asyncio.all_tasks())
        await aio.gather(*(immediate(n) for n in range(50)))
        return len(asyncio.all_tasks()) - before

    assert asyncio.run(go()) == 0


def test_gather_propagates_exceptions() -> None:
    async def go() -> None:
        await aio.gather(immediate(1), failing())

    with pytest.raises(ValueError, match="boom"):
        asyncio.run(go())


def test_synchronous_exception_closes_the_rest() -> None:
    async def bad() -> int:
        raise KeyError("now")

    async def go() -> None:
        later = sleepy(1, 0.01)
        await aio.gather(bad(), later)

    with pytest.raises(KeyError):
        asyncio.run(go())


def test_cancellation_reaches_a_suspended_coroutine() -> None:
    cancelled = []

    async def waits() -> int:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise
        return 0

    async def go() -> None:
        task = asyncio.ensure_future(aio.gather(immediate(1), waits()))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(go())
    assert cancelled == [True]


def test_closing_a_suspended_wrapper_closes_the_inner_coroutine() -> None:
    finished: list[str] = []

    async def inner() -> int:
        try:
            await asyncio.sleep(10)
        except GeneratorExit:
            finished.append("closed")
            raise
        return 1

    async def start() -> list[asyncio.Task[object]]:
        outer = asyncio.ensure_future(aio.gather(inner(), immediate(2)))
        await asyncio.sleep(0)  # the gather runs inner() up to its sleep and wraps the rest in a Task
        return [t for t in asyncio.all_tasks() if t is not outer and t is not asyncio.current_task()]

    loop = asyncio.new_event_loop()
    wrappers = loop.run_until_complete(start())
    loop.close()  # the wrapper Task is still pending: its coroutine is closed, not resumed
    assert len(wrappers) == 1
    wrappers[0].get_coro().close()
    assert finished == ["closed"]
