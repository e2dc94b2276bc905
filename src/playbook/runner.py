"""Running many async tasks under a concurrency limit, with progress reported to the edge."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from typing import Protocol, TypeVar

T = TypeVar("T")


class Reporter(Protocol):
    """Where progress goes; the CLI shows it as rich progress bars."""

    def stage(self, name: str, total: int) -> None: ...

    def advance(self) -> None: ...


class QuietReporter:
    def stage(self, name: str, total: int) -> None:
        pass

    def advance(self) -> None:
        pass


async def gather_limited(tasks: Sequence[Awaitable[T]], limit: int) -> list[T]:
    """Await all tasks, at most `limit` at a time, results in input order."""
    semaphore = asyncio.Semaphore(limit)

    async def one(task: Awaitable[T]) -> T:
        async with semaphore:
            return await task

    return list(await asyncio.gather(*(one(t) for t in tasks)))
