"""Concurrency limits per endpoint: at most N calls in flight to one server, whatever the role."""

from __future__ import annotations

import asyncio

from playbook.chat.base import ChatModel, ChatRequest, Completion


class Limited:
    """A ChatModel whose calls wait for a slot of a semaphore shared by one endpoint's models."""

    def __init__(self, model: ChatModel, slots: asyncio.Semaphore) -> None:
        self._model = model
        self._slots = slots

    @property
    def name(self) -> str:
        return self._model.name

    @property
    def cache_identity(self) -> str:
        return str(getattr(self._model, "cache_identity", self._model.name))

    @property
    def base_url(self) -> str:
        return str(getattr(self._model, "base_url", self._model.name))

    async def complete(self, request: ChatRequest) -> Completion:
        async with self._slots:
            return await self._model.complete(request)


class EndpointLimits:
    """One semaphore per endpoint key (its base URL), sized by the first limit asked for it."""

    def __init__(self) -> None:
        self._slots: dict[str, asyncio.Semaphore] = {}

    def limit(self, model: ChatModel, endpoint: str, slots: int) -> ChatModel:
        semaphore = self._slots.setdefault(endpoint, asyncio.Semaphore(slots))
        return Limited(model, semaphore)
