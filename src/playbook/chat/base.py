"""The one protocol every chat model implements: messages in, text and token usage out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from playbook.types import Usage

MessageRole = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class Message:
    role: MessageRole
    content: str


@dataclass(frozen=True)
class ChatRequest:
    messages: tuple[Message, ...]
    temperature: float | None = None
    max_tokens: int | None = None
    seed: int | None = None  # sent to the endpoint; the simulated world varies with it


@dataclass(frozen=True)
class Completion:
    text: str
    usage: Usage = field(default_factory=Usage)
    cached: bool = False


class ChatModel(Protocol):
    """Any chat model. `name` is its spec string, e.g. ``openai:gpt-4o`` or ``sim:student``."""

    @property
    def name(self) -> str: ...

    async def complete(self, request: ChatRequest) -> Completion: ...


class ModelError(Exception):
    """A model endpoint failed for good (after retries); the message says what to fix."""
