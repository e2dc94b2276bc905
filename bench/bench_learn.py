"""Orchestration efficiency: how close a learn run comes to the time its dependent calls need.

A learn run on the simulated world (8 personas, 2 rounds) goes through the real `openai` backend
to `playbook simulate` in another process, which answers every chat call after a fixed delay
(50 ms). It is timed at concurrency 1, 8 and 32, and divided by lower bounds taken from the same
run. Every role model is wrapped by a ChainTracker that records which asyncio task made each call
(the learner runs one task per conversation and one per scenario, each making its calls one
after another) and in which round (from the learner's progress reports). A task that talks to
the customer is a rollout; any other improves one scenario. Cache hits cost no delay and are
left out. From that record, in numbers of calls made one after another:

- **bound** (`chain_calls`; `ratio_to_bound` is the target): the longest path of calls that
  truly depend on one another. A scenario depends on its conversation's calls up to its last
  customer message (found by matching the scenario's turns to the rollout's agent call on the
  same turns), then on its own improvement calls; a round depends on the previous round's
  playbook (by design, every scenario sees the playbook as it was when the round began). So:
  sum over rounds of the longest (rollout prefix + improvement) of any scenario.
- `conversation_pipeline_chain_calls`: the same if a conversation's scenarios start only when
  the whole conversation has ended: sum over rounds of the longest (rollout + its longest
  improvement). `staged_chain_calls`: if they start only when every conversation of the round
  has ended (a barrier between the two steps).

- **lower bound** (`lower_bound_calls`; `ratio_to_lower_bound`): no schedule beats the chain,
  nor the run's calls taken `concurrency` at a time: the larger of the two. When a run makes more
  calls than concurrency x chain (verification re-runs the student several times per attempt),
  the chain alone cannot be reached at that concurrency, and this is the bound that can.

`call_wait_beyond_delay_ms` is how long a call waited beyond the delay, on
average: CPU queueing, here and in the server, when many calls answer at once. The highest
concurrency is also run at a 1 s delay, about a real model's, where per-call CPU is small beside
the delay: what remains of the ratio there is the schedule. Short runs are repeated (the run
with the median wall time is reported), as the machine is shared.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import re
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from common import SimServer, emit, progress, settle, sim_server, write_config

from playbook.chat.base import ChatModel, ChatRequest, Completion, Wrapper
from playbook.config import load_config
from playbook.recorder import Recorder, cache_key
from playbook.roles import Roles
from playbook.runs import learn
from playbook.workspace import Models, Workspace

DELAY_S = 0.05
LONG_DELAY_S = 1.0
CONCURRENCIES = (1, 8, 32)
PERSONAS = 8
REPEATS = 3
ROUNDS = 2

AGENT_ROLES = ("student", "teacher")
ConversationKey = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class TracedCall:
    stage: str  # the learner's last progress stage, e.g. "round 1"
    task: object  # the asyncio task that made the call (a conversation or a scenario)
    role: str
    key: ConversationKey  # the conversation the request shows (all but the system message)
    model: str  # the model's spec
    chat_request: ChatRequest
    cached: bool
    seconds: float  # from the call to its answer, as the learner waited for it

    @property
    def request(self) -> str:
        """The recorder's cache key: equal requests have equal keys. Computed when asked, after
        the timed run, so that the tracker's own work is not counted as the learner's CPU. By
        spec, not identity: the identity names the server's port, another in each delay."""
        return cache_key(self.model, self.chat_request)


class ChainTracker:
    """Records which task and stage made every model call, in the order the calls ended."""

    def __init__(self) -> None:
        self.calls: list[TracedCall] = []
        self.stage = ""

    def wrap(self, role: str, model: ChatModel) -> ChatModel:
        return _Tracked(self, role, model)


class _Tracked(Wrapper):
    def __init__(self, tracker: ChainTracker, role: str, model: ChatModel) -> None:
        super().__init__(model)
        self._tracker, self._role = tracker, role

    async def complete(self, request: ChatRequest) -> Completion:
        started = time.perf_counter()
        completion = await self._model.complete(request)
        seconds = time.perf_counter() - started
        key = tuple((m.role, m.content) for m in request.messages[1:])
        task, stage, name = asyncio.current_task(), self._tracker.stage, self._model.name
        self._tracker.calls.append(
            TracedCall(stage, task, self._role, key, name, request, completion.cached, seconds)
        )
        return completion


class StageReporter:
    """The learner's progress reports ("round 2: ...") tell the tracker which round it is in.

    It is its own progress tally (`advance`, `add`), whichever of the two the learner asks for.
    """

    def __init__(self, tracker: ChainTracker) -> None:
        self._tracker = tracker

    def stage(self, name: str, total: int) -> StageReporter:
        self._tracker.stage = name
        return self

    def advance(self, count: int = 1) -> None:
        pass

    def add(self, more: int) -> None:
        pass


@dataclass
class TrackedWorkspace(Workspace):
    """The workspace `playbook learn` uses, with every role model wrapped by a tracker."""

    tracker: ChainTracker = field(default_factory=ChainTracker)

    def roles(
        self, recorder: Recorder, student: str | None = None, models: Models | None = None
    ) -> Roles:
        roles = super().roles(recorder, student, models)
        wrap = self.tracker.wrap
        return replace(
            roles,
            student=wrap("student", roles.student),
            teacher=wrap("teacher", roles.teacher),
            customer=wrap("customer", roles.customer),
            judge=wrap("judge", roles.judge),
        )


@dataclass(frozen=True)
class Bounds:
    """Lower bounds on a run's time, in numbers of calls one after another."""

    calls: int  # uncached calls in the run
    chain: int  # the longest truly dependent path (scenarios start when their prefix exists)
    conversation_pipeline: int  # if each conversation's scenarios start when it ends
    staged: int  # if all of a round's scenarios start when all its conversations end
    unmatched: int  # scenarios whose rollout prefix was not found (should be 0)


Tasks = dict[object, list[TracedCall]]


def chain_bounds(calls: Sequence[TracedCall], main: object) -> Bounds:
    """The bounds of the module docstring. Calls of `main` (the task running the learner, e.g.
    new personas between rounds) are on every path."""
    between = sum(not c.cached for c in calls if c.task is main)
    chain = pipeline = staged = between
    unmatched = 0
    for conversations, scenarios in _rounds(calls, main).values():
        longest, conversation_first, missing = _round_paths(conversations, scenarios)
        chain, pipeline, unmatched = (
            chain + longest,
            pipeline + conversation_first,
            unmatched + missing,
        )
        for stage in (conversations, scenarios):
            staged += max((_served(task_calls) for task_calls in stage.values()), default=0)
    return Bounds(sum(not c.cached for c in calls), chain, pipeline, staged, unmatched)


def _rounds(calls: Sequence[TracedCall], main: object) -> dict[int, tuple[Tasks, Tasks]]:
    """Per round, the rollout tasks and the improvement tasks, each with its calls in order."""
    tasks: Tasks = {}
    for call in calls:
        if call.task is not main:
            tasks.setdefault(call.task, []).append(call)
    rounds: dict[int, tuple[Tasks, Tasks]] = defaultdict(lambda: ({}, {}))
    for task, task_calls in tasks.items():
        found = re.search(r"round (\d+)", task_calls[0].stage)
        conversations, scenarios = rounds[int(found.group(1)) if found else 0]
        # Only a rollout talks to the customer; every other task improves one scenario.
        if any(c.role == "customer" for c in task_calls):
            conversations[task] = task_calls
        else:
            scenarios[task] = task_calls
    return rounds


def _served(task_calls: Sequence[TracedCall]) -> int:
    """Calls a task waited for, one after another (cache hits cost no delay)."""
    return sum(not c.cached for c in task_calls)


def _round_paths(conversations: Tasks, scenarios: Tasks) -> tuple[int, int, int]:
    """For one round: the longest (rollout prefix + improvement) path of any scenario, the
    longest (whole rollout + its longest improvement), and the scenarios not found."""
    # An agent call in a rollout is made on exactly the turns of the scenario it answers.
    where = {
        c.key: (task, _served(calls[:i]))
        for task, calls in conversations.items()
        for i, c in enumerate(calls)
        if c.role in AGENT_ROLES
    }
    improvement: dict[object, int] = defaultdict(int)  # conversation -> longest improvement
    longest, unmatched = 0, 0
    for calls in scenarios.values():
        found = next((where[c.key] for c in calls if c.key in where), None)
        if found is None:
            unmatched += 1
            continue
        conversation, prefix = found
        longest = max(longest, prefix + _served(calls))
        improvement[conversation] = max(improvement[conversation], _served(calls))
    conversation_first = max(
        (_served(calls) + improvement[task] for task, calls in conversations.items()), default=0
    )
    return longest, conversation_first, unmatched


@dataclass(frozen=True)
class Plan:
    delay: float = DELAY_S
    personas: int = PERSONAS
    rounds: int = ROUNDS
    concurrencies: tuple[int, ...] = CONCURRENCIES
    # A second delay, as long as a real model's answer, at the highest concurrency: it shows
    # how much of the ratio at the short delay is CPU per call rather than the schedule.
    long_delay: float | None = LONG_DELAY_S
    repeats: int = REPEATS  # runs at each concurrency above 1 (the c=1 run is long and steady)


async def timed_learn(
    plan: Plan, server: SimServer, delay: float, folder: Path, concurrency: int
) -> dict[str, Any]:
    """One learn run at `concurrency`, with its wall time, CPU time and bounds."""
    config = write_config(
        folder,
        base_url=server.base_url,
        persona_count=plan.personas,
        rounds=plan.rounds,
        concurrency=concurrency,
    )
    workspace = TrackedWorkspace.open(load_config(config))
    try:
        cpu, server_cpu = time.process_time(), server.cpu_seconds()
        started, main = time.perf_counter(), asyncio.current_task()
        result = await learn(workspace, StageReporter(workspace.tracker))
        wall = time.perf_counter() - started
        cpu, server_cpu = time.process_time() - cpu, server.cpu_seconds() - server_cpu
    finally:
        await workspace.aclose()
    calls = workspace.tracker.calls
    figures = _figures(delay, wall, cpu, server_cpu, chain_bounds(calls, main), concurrency)
    return figures | _call_figures(calls, delay) | {"kept": result.kept}


def _call_figures(calls: Sequence[TracedCall], delay: float) -> dict[str, Any]:
    waited = [c.seconds for c in calls if not c.cached]
    requests = {c.request for c in calls}
    return {
        # A call's wait beyond the delay is CPU queueing (client and server) and the network.
        "call_wait_beyond_delay_ms": round((sum(waited) / len(waited) - delay) * 1000, 2),
        "slowest_call_s": round(max(waited), 3),
        # The same request sent again while the first was still waiting for its answer.
        "duplicate_calls": len(waited) - len({c.request for c in calls if not c.cached}),
        "requests": hashlib.sha256("".join(sorted(requests)).encode()).hexdigest()[:16],
    }


def _figures(
    delay: float, wall: float, cpu: float, server_cpu: float, b: Bounds, concurrency: int
) -> dict[str, Any]:
    lower = max(b.chain, -(-b.calls // concurrency))
    return {
        "wall_s": round(wall, 3),
        "calls": b.calls,
        "chain_calls": b.chain,
        "bound_s": round(b.chain * delay, 3),
        "ratio_to_bound": round(wall / (b.chain * delay), 3),
        "lower_bound_calls": lower,
        "ratio_to_lower_bound": round(wall / (lower * delay), 3),
        "conversation_pipeline_chain_calls": b.conversation_pipeline,
        "ratio_to_conversation_pipeline_bound": round(wall / (b.conversation_pipeline * delay), 3),
        "staged_chain_calls": b.staged,
        "client_cpu_s": round(cpu, 3),
        "client_cpu_ms_per_call": round(cpu / b.calls * 1000, 3),
        "client_cpu_share_of_wall": round(cpu / wall, 3),
        "server_cpu_s": round(server_cpu, 3),
        "unmatched_scenarios": b.unmatched,
    }


async def runs_at(plan: Plan, delay: float, concurrencies: Sequence[int]) -> list[dict[str, Any]]:
    """Learn at each concurrency against one simulated server answering after `delay`; short
    runs are repeated and the one with the median wall time kept, as the machine is noisy."""
    results: list[dict[str, Any]] = []
    with sim_server(delay) as server, tempfile.TemporaryDirectory() as tmp:
        for c in concurrencies:
            repeats = 1 if c == 1 or delay > plan.delay else plan.repeats
            progress(f"learn: {plan.personas} personas, {plan.rounds} rounds, c={c}, {delay} s")
            runs: list[dict[str, Any]] = []
            for _ in range(repeats):
                folder = Path(tmp) / f"run{len(results)}-{len(runs)}"
                runs.append(await timed_learn(plan, server, delay, folder, c))
                await settle()  # close the run's dropped SDK clients before the next run
            kept = sorted(runs, key=lambda r: r["wall_s"])[len(runs) // 2]
            kept["walls_s"] = [r["wall_s"] for r in runs]
            progress(f"learn: c={c}: {kept}")
            results.append(kept)
    return results


async def run(plan: Plan) -> dict[str, Any]:
    found = await runs_at(plan, plan.delay, plan.concurrencies)
    results = {f"concurrency_{c}": r for c, r in zip(plan.concurrencies, found, strict=True)}
    if plan.long_delay:
        top = max(plan.concurrencies)
        [long] = await runs_at(plan, plan.long_delay, [top])
        results[f"concurrency_{top}_delay_{plan.long_delay * 1000:.0f}ms"] = long
    settings = {"delay_ms": plan.delay * 1000, "personas": plan.personas, "rounds": plan.rounds}
    # A run is deterministic whatever the concurrency: the same distinct requests each time.
    same = len({r.pop("requests") for r in results.values()}) == 1
    return {**results, "settings": settings, "same_requests_at_every_concurrency": same}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay-ms", type=float, default=DELAY_S * 1000)
    parser.add_argument("--long-delay-ms", type=float, default=LONG_DELAY_S * 1000)
    parser.add_argument("--personas", type=int, default=PERSONAS)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--concurrency", type=int, nargs="+", default=list(CONCURRENCIES))
    parser.add_argument("--repeats", type=int, default=REPEATS)
    args = parser.parse_args()
    long_delay = args.long_delay_ms / 1000 or None
    concurrencies = tuple(args.concurrency)
    plan = Plan(args.delay_ms / 1000, args.personas, args.rounds, concurrencies, long_delay)
    emit(asyncio.run(run(replace(plan, repeats=args.repeats))))


if __name__ == "__main__":
    main()
