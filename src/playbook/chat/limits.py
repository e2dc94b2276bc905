"""Concurrency limits per endpoint: at most N calls in flight to one server, whatever the role."""

from __future__ import annotations

import asyncio

from playbook.chat.base import ChatModel, ChatRequest, Completion, Wrapper


class Limited(Wrapper):
    """A ChatModel whose calls wait for a slot of a semaphore shared by one endpoint's models."""

    def __init__(self, model: ChatModel, slots: asyncio.Semaphore) -> None:
        super().__init__(model)
        self._slots = slots

    async def complete(self, request: ChatRequest) -> Completion:
        async with self._slots:
            return await self._model.complete(request)


class EndpointLimits:
    """One semaphore per endpoint (its base URL), sized by the first limit asked for it."""

    def __init__(self) -> None:
        self._slots: dict[str, asyncio.Semaphore] = {}

    def limit(self, model: ChatModel, slots: int) -> ChatModel:
        semaphore = self._slots.setdefault(model.endpoint, asyncio.Semaphore(slots))
        return Limited(model, semaphore)
