"""Eager concurrency: ``gather`` runs each coroutine synchronously up to its first real
suspension.

With a warm DNS cache most lookups never suspend, and asyncio's own gather would still wrap
each in a Task and go round the event loop several times per message. These helpers give
the same concurrency when something does suspend (the rest runs in a Task, as with
asyncio), and cost a function call when nothing does — what Python 3.12's eager task
factory does, available on 3.11.
"""

from __future__ import annotations

import asyncio
import types
from collections.abc import Coroutine, Generator
from typing import Any, TypeVar, overload

T = TypeVar("T")
T1 = TypeVar("T1")
T2 = TypeVar("T2")
T3 = TypeVar("T3")


@types.coroutine
def _continue(coro: Coroutine[Any, Any, T], pending: Any) -> Generator[Any, Any, T]:
    """Drive an already-started coroutine to completion inside a Task, forwarding what the
    Task sends or throws in (results of awaited futures, cancellation)."""
    while True:
        try:
            value = yield pending
        except GeneratorExit:
            # Closed (e.g. a pending Task collected after its loop ended): close the inner
            # coroutine the way ``await`` delegation does, rather than resuming it.
            coro.close()
            raise
        except BaseException as exc:
            try:
                pending = coro.throw(exc)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            continue
        try:
            pending = coro.send(value)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]


async def resume(coro: Coroutine[Any, Any, T], pending: Any) -> T:
    """The rest of ``coro``, started with ``coro.send(None)`` which gave ``pending`` (the
    future it waits for): await it, or wrap it in a Task."""
    return await _continue(coro, pending)



@overload
async def gather(c1: Coroutine[Any, Any, T1], c2: Coroutine[Any, Any, T2], /) -> tuple[T1, T2]: ...
@overload
async def gather(
    c1: Coroutine[Any, Any, T1], c2: Coroutine[Any, Any, T2], c3: Coroutine[Any, Any, T3], /
) -> tuple[T1, T2, T3]: ...
@overload
async def gather(*coros: Coroutine[Any, Any, T]) -> tuple[T, ...]: ...


async def gather(*coros: Coroutine[Any, Any, Any]) -> tuple[Any, ...]:
    """Like ``asyncio.gather(*coros)`` (results in order, as a tuple; the first exception
    propagates), eager: coroutines that complete without suspending never become Tasks."""
    results: list[Any] = [None] * len(coros)
    suspended: list[tuple[int, asyncio.Future[Any]]] = []
    for index, coro in enumerate(coros):
        try:
            pending = coro.send(None)
        except StopIteration as stop:
            results[index] = stop.value
            continue
        except BaseException:
            for later in coros[index + 1 :]:
                later.close()
            raise
        suspended.append((index, asyncio.ensure_future(resume(coro, pending))))
    if suspended:
        values = await asyncio.gather(*(future for _, future in suspended))
        for (index, _), value in zip(suspended, values, strict=True):
            results[index] = value
    return tuple(results)
