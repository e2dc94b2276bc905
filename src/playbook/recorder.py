"""The one door every model call goes through: it logs the call to the store, serves repeats
from the cache, prices it and enforces each role's budget."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from pydantic import TypeAdapter

from playbook.chat.base import CallFailed, ChatModel, ChatRequest, Completion, ModelError, Wrapper
from playbook.config import RoleBudget
from playbook.errors import UserError
from playbook.store.core import Store
from playbook.store.ledger import Spent
from playbook.store.records import CallRecord
from playbook.types import Usage

_REQUEST = TypeAdapter(ChatRequest)
# Every field of a request is part of what is asked, and so of its cache key, except these: a new
# field (tools, say) then keys the cache by itself instead of silently sharing entries.
NOT_KEYED = frozenset({"idempotency_key"})  # set by the recorder, stable per key


@dataclass(frozen=True)
class Prices:
    """USD per million tokens."""

    input_per_million: float
    output_per_million: float

    def cost(self, usage: Usage) -> float:
        return (
            usage.input_tokens * self.input_per_million
            + usage.output_tokens * self.output_per_million
        ) / 1_000_000


class BudgetExceeded(UserError):
    """A role reached its call or token limit; the run should stop (and can be resumed)."""

    def __init__(self, role: str, kind: str, limit: int) -> None:
        super().__init__(
            f"budget for the {role} reached: {limit} {kind}; "
            f"raise [budget.{role}] {kind} or resume later"
        )
        self.role = role
        self.kind = kind
        self.limit = limit


class Budget:
    """Counts the calls and tokens each role has spent against its limits.

    A run's limits hold for the whole run, across processes: a resumed run starts from what the
    run `spent` before (the store's ledger), in which the calls an interrupted process had in
    flight are counted already; sending one of those again (`carried`) is not counted twice."""

    def __init__(
        self,
        limits: Mapping[str, RoleBudget],
        spent: Mapping[str, Spent] | None = None,
        carried: Iterable[str] = (),
    ) -> None:
        self._limits = dict(limits)
        self._calls = {role: s.calls for role, s in (spent or {}).items()}
        self._tokens = {role: s.tokens for role, s in (spent or {}).items()}
        self._carried = set(carried)

    def take_call(self, role: str, key: str | None = None) -> None:
        """Count a call `role` is about to make, or raise BudgetExceeded if it may not.

        The call is counted before it is made, so calls in flight at once cannot overshoot the
        limit; tokens are known only afterwards (`spend`), so that limit stops the next call."""
        if key in self._carried:
            self._carried.discard(key)  # in flight when the last process stopped: counted then
            return
        limit = self._limits.get(role)
        if limit is not None:
            if limit.calls is not None and self._calls.get(role, 0) >= limit.calls:
                raise BudgetExceeded(role, "calls", limit.calls)
            if limit.tokens is not None and self._tokens.get(role, 0) >= limit.tokens:
                raise BudgetExceeded(role, "tokens", limit.tokens)
        self._calls[role] = self._calls.get(role, 0) + 1

    def spend(self, role: str, usage: Usage) -> None:
        self._tokens[role] = self._tokens.get(role, 0) + usage.total


def cache_key(identity: str, request: ChatRequest) -> str:
    """The same model asked the same thing with the same parameters gets the same key."""
    fields = _REQUEST.dump_python(request, mode="json")
    keyed = {"model": identity, **{k: v for k, v in fields.items() if k not in NOT_KEYED}}
    canonical = json.dumps(keyed, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotency_key(key: str) -> str:
    """The Idempotency-Key sent with a call: the same for every sending of the same request."""
    return f"playbook-{key}"


class Recorder:
    """Wraps chat models so that each call of a run is recorded, cached, priced and budgeted."""

    def __init__(
        self,
        store: Store,
        run_id: str,
        budget: Budget | None = None,
        prices: Mapping[str, Prices] | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.budget = budget
        self.prices = dict(prices or {})
        self.clock = clock
        self._in_flight: dict[str, asyncio.Future[Completion]] = {}

    def bind(self, role: str, model: ChatModel) -> ChatModel:
        """`model` playing `role`, with every call going through this recorder."""
        return _RecordedModel(self, role, model)

    async def complete(self, role: str, model: ChatModel, request: ChatRequest) -> Completion:
        """Answer `request` from the cache or from `model`, and record the call either way."""
        key = cache_key(model.identity, request)
        call = CallRecord(
            self.run_id, role, model.name, key, request, "", Usage(), 0.0, 0.0, cached=False
        )
        started = self.clock()
        hit = self.store.cached_completion(key)
        if hit is not None:
            # A cache hit costs nothing and spends no budget: it is how runs resume and replay.
            self._log(call, started, **_answered(hit), cached=True)
            return hit
        while (first := self._in_flight.get(key)) is not None:
            # The same request is being answered right now: wait for it instead of paying twice.
            try:
                completion = await asyncio.shield(first)
            except asyncio.CancelledError:
                if first.cancelled() and not _this_task_cancelled():
                    continue  # its caller went away, not this one: this one makes the call
                raise
            self._log(call, started, **_answered(completion), cached=True)
            return replace(completion, cached=True)
        if self.budget is not None:
            self.budget.take_call(role, key)  # a failed call counts too: it may have been paid
        answer: asyncio.Future[Completion] = asyncio.get_running_loop().create_future()
        self._in_flight[key] = answer
        try:
            completion = await self._paid_call(role, model, request, key)
        except asyncio.CancelledError:
            answer.cancel()  # a caller waiting on it makes the call itself
            raise
        except Exception as exc:
            self._log(call, started, error=str(exc) or type(exc).__name__)
            if not isinstance(exc, ModelError):
                answer.set_exception(exc)
                answer.exception()  # marks it seen; a caller waiting on it raises it too
                raise
            failure = CallFailed(role, model.name, exc)
            answer.set_exception(failure)
            answer.exception()
            raise failure from exc
        finally:
            if self._in_flight.get(key) is answer:
                del self._in_flight[key]
        answer.set_result(completion)
        cost = self.prices[role].cost(completion.usage) if role in self.prices else 0.0
        self._log(call, started, **_answered(completion), cost=cost)
        if self.budget is not None:
            self.budget.spend(role, completion.usage)
        return completion

    async def _paid_call(
        self, role: str, model: ChatModel, request: ChatRequest, key: str
    ) -> Completion:
        """Write the call down before it is sent (a resume then knows it was in flight) and send
        it with an idempotency key, so that an endpoint keeping its answers does not charge a
        repeat; the answer's log entry (`_log`) settles the write-ahead row."""
        idempotency = idempotency_key(key)
        self.store.call_sent(self.run_id, role, model.name, key, idempotency)
        return await model.complete(replace(request, idempotency_key=idempotency))

    def _log(self, call: CallRecord, started: float, **outcome: Any) -> None:
        latency_ms = (self.clock() - started) * 1000
        self.store.record_call(replace(call, latency_ms=latency_ms, **outcome))


def _answered(completion: Completion) -> dict[str, Any]:
    """What a call's log row keeps of its answer."""
    return {"output": completion.text, "usage": completion.usage, "extras": completion.extras()}


def _this_task_cancelled() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


class _RecordedModel(Wrapper):
    """A ChatModel that answers through a Recorder; same name as the model it wraps."""

    def __init__(self, recorder: Recorder, role: str, model: ChatModel) -> None:
        super().__init__(model)
        self._recorder = recorder
        self._role = role

    async def complete(self, request: ChatRequest) -> Completion:
        return await self._recorder.complete(self._role, self._model, request)
