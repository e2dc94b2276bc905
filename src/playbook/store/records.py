"""What the store keeps about runs: runs, model calls, reviews and failures, as typed values."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from playbook.chat.base import ChatRequest
from playbook.types import Usage


@dataclass(frozen=True)
class RunRecord:
    id: str
    kind: str
    status: str
    config: dict[str, Any]
    models: dict[str, str]
    summary: dict[str, Any]
    started_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class CallRecord:
    """One model call as the recorder saw it."""

    run_id: str
    role: str
    model: str
    cache_key: str
    request: ChatRequest
    output: str
    usage: Usage
    latency_ms: float
    cost: float
    cached: bool
    error: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)  # Completion.extras()


@dataclass(frozen=True)
class RoleStats:
    """Totals for one role. Tokens count only calls the model really served (not cache hits)."""

    calls: int
    cached: int
    errors: int
    input_tokens: int
    output_tokens: int
    cost: float
    latency_ms: float


@dataclass(frozen=True)
class ReviewRecord:
    id: int
    entry_id: int
    status: str
    reviewer: str
    reason: str
    created_at: datetime
    action: str = "status"  # "status": the status was set; "edited": a new guidance version


@dataclass(frozen=True)
class EntryVersion:
    """One version of an entry's guideline list; version 1 is what the learner wrote."""

    entry_id: int
    version: int
    guidance: tuple[str, ...]
    reviewer: str
    reason: str
    created_at: datetime
    checks: dict[str, Any] | None = None  # the edit check it passed; None: not checked


@dataclass(frozen=True)
class FailureRecord:
    id: int
    run_id: str
    role: str
    model: str
    reason: str
    scenario_text: str
    created_at: datetime
    cause: str = "error"


class EntryGuidance:
    """Just what serving needs of an entry: its id, guidance and the goal of the persona it was
    learned from (no scenario, no provenance).

    Loaded from the store, the guidance stays JSON text until first read: a server loads every
    entry but reads the guidance of the few it retrieves (a third of the load time at 100k).
    """

    __slots__ = ("_guidance", "_stored", "goal", "id")

    def __init__(
        self,
        id: int,
        guidance: Sequence[str] | None = None,
        *,
        stored: str | None = None,
        goal: str = "",
    ) -> None:
        if (guidance is None) == (stored is None):
            raise ValueError("give the guidance or its stored JSON text, not both")
        self.id = id
        self.goal = goal
        self._guidance = None if guidance is None else tuple(guidance)
        self._stored = stored

    @property
    def guidance(self) -> tuple[str, ...]:
        if self._guidance is None:
            self._guidance = tuple(json.loads(self._stored or "[]"))
            self._stored = None
        return self._guidance

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EntryGuidance):
            return NotImplemented
        return (self.id, self.guidance) == (other.id, other.guidance)

    def __hash__(self) -> int:
        return hash((self.id, self.guidance))

    def __repr__(self) -> str:
        return f"EntryGuidance(id={self.id!r}, guidance={self.guidance!r})"


@dataclass(frozen=True)
class ServedRecord:
    """One chat completion the serving proxy answered (or failed to).

    Token counts are None when the upstream reported no usage (e.g. a stream without
    `stream_options.include_usage`). `request` and `response` hold content only when the server
    records content; by default they are None.
    """

    created_at: datetime
    model: str
    stream: bool
    entry_ids: tuple[int, ...]
    latency_ms: float
    upstream_status: int | None
    input_tokens: int | None = None
    output_tokens: int | None = None
    error: str | None = None
    request: dict[str, Any] | None = None
    response: str | None = None
    id: int | None = None  # set by the store


@dataclass(frozen=True)
class ServedStats:
    """Totals over served requests. `failed` counts those with no upstream answer, a non-2xx
    one or an error (e.g. a stream cut short); `guided` those given some entry's guidance.
    Tokens count what the upstream reported."""

    requests: int
    failed: int
    guided: int
    input_tokens: int
    output_tokens: int
    mean_latency_ms: float
