"""Running many async tasks under a concurrency limit, with progress reported to the edge."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Coroutine, Sequence
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class Tally(Protocol):
    """Progress of one stage; its total may grow as work is discovered."""

    def advance(self, count: int = 1) -> None: ...

    def add(self, more: int) -> None: ...


class Reporter(Protocol):
    """Where progress goes; the CLI shows it as rich progress bars."""

    def stage(self, name: str, total: int) -> Tally: ...


class QuietReporter:
    def stage(self, name: str, total: int) -> Tally:
        return _QuietTally()


class _QuietTally:
    def advance(self, count: int = 1) -> None:
        pass

    def add(self, more: int) -> None:
        pass


async def gather_limited(tasks: Sequence[Coroutine[Any, Any, T]], limit: int) -> list[T]:
    """Await all tasks, at most `limit` at a time, results in input order.

    If one raises, the others are cancelled and those not yet started are closed.
    """
    semaphore = asyncio.Semaphore(limit)

    async def one(task: Coroutine[Any, Any, T]) -> T:
        try:
            async with semaphore:
                return await task
        finally:
            if inspect.getcoroutinestate(task) == inspect.CORO_CREATED:
                task.close()

    try:
        async with asyncio.TaskGroup() as group:
            running = [group.create_task(one(t)) for t in tasks]
    except BaseExceptionGroup as failed:
        raise first_error(failed) from None  # the first failure, as plain gather would
    return [r.result() for r in running]


def first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first error inside (possibly nested) task groups: the one a user should see."""
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error
