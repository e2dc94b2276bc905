"""The one protocol every chat model implements: messages in, text and token usage out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal, Protocol

from pydantic import TypeAdapter

from playbook.errors import UserError
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
    # Not part of what is asked (the cache key leaves it out): the recorder sets it, stable per
    # cache key, so that an endpoint that supports idempotency answers a repeat from its record.
    idempotency_key: str | None = None


@dataclass(frozen=True)
class Completion:
    text: str
    usage: Usage = field(default_factory=Usage)
    cached: bool = False
    # Why the model stopped, as the endpoint says: "stop", or "length" for a reply cut off at
    # max_tokens; None when it does not say.
    finish_reason: str | None = None

    def extras(self) -> dict[str, Any]:
        """Every field but the text, usage and cached flag, as JSON: what the call log keeps
        beside the text, so a field added here (tool calls, say) is cached and restored with no
        change to the log."""
        return _completions().dump_python(self, mode="json", exclude=_LOGGED_APART)

    @staticmethod
    def restored(text: str, usage: Usage, extras: Mapping[str, Any] | None) -> Completion:
        """A logged completion, answered again from the call log."""
        fields = {**(extras or {}), "text": text, "usage": usage, "cached": True}
        return _completions().validate_python(fields)


_LOGGED_APART = {"text", "usage", "cached"}  # the call log has columns of their own for these


@cache
def _completions() -> TypeAdapter[Completion]:
    return TypeAdapter(Completion)


class ChatModel(Protocol):
    """Any chat model. `name` is its spec string, e.g. ``openai:gpt-4o`` or ``sim:student``."""

    @property
    def name(self) -> str: ...

    @property
    def identity(self) -> str:
        """What answers: the spec plus where and how it is asked (the call cache is keyed on it,
        so another server behind the same spec is not answered from the old log)."""
        ...

    @property
    def endpoint(self) -> str:
        """The server it calls (concurrency limits are per endpoint); its name if it calls none."""
        ...

    async def complete(self, request: ChatRequest) -> Completion: ...

    async def aclose(self) -> None:
        """Release what it holds (a connection pool); nothing for an in-process model."""
        ...


class InProcess:
    """For a model answered in this process: its name is its identity and endpoint, and it holds
    nothing to close. Subclasses set `_name` and implement `complete`."""

    _name: str

    @property
    def name(self) -> str:
        return self._name

    @property
    def identity(self) -> str:
        return self._name

    @property
    def endpoint(self) -> str:
        return self._name

    async def aclose(self) -> None:
        return None


class Wrapper:
    """The one base for models that wrap another (concurrency limits, recording): the same name,
    identity and endpoint, and closing the wrapper closes the model. Subclasses override
    `complete`."""

    def __init__(self, model: ChatModel) -> None:
        self._model = model

    @property
    def name(self) -> str:
        return self._model.name

    @property
    def identity(self) -> str:
        return self._model.identity

    @property
    def endpoint(self) -> str:
        return self._model.endpoint

    async def complete(self, request: ChatRequest) -> Completion:
        return await self._model.complete(request)

    async def aclose(self) -> None:
        await self._model.aclose()


class ModelError(UserError):
    """A model endpoint failed for good (after retries); the message says what to fix.

    `cause` is a short kind for summaries ("timeout", "rate limited", "server error",
    "bad answer", "connection", "auth", "not found"); `fatal` marks a misconfiguration
    (unreachable host, refused key, unknown model) that no retry or later call will fix.
    """

    def __init__(self, message: str, *, cause: str = "error", fatal: bool = False) -> None:
        super().__init__(message)
        self.cause = cause
        self.fatal = fatal


class CallFailed(ModelError):
    """A role's model call failed; says which role and model."""

    def __init__(self, role: str, model: str, error: ModelError) -> None:
        super().__init__(f"the {role}: {error}", cause=error.cause, fatal=error.fatal)
        self.role = role
        self.model = model
