"""Orchestration efficiency: how close a learn run comes to the time its dependent calls need.

A learn run on the simulated world (8 personas, 2 rounds) goes through the real `openai` backend
to `playbook simulate` in another process, which answers every chat call after a fixed delay
(50 ms). It is timed at concurrency 1, 8 and 32, and divided by lower bounds taken from the same
run. Every role model is wrapped by a ChainTracker that records which asyncio task made each call
(the learner runs one task per conversation and one per scenario, each making its calls one
after another) and in which stage (from the learner's progress reports). Cache hits cost no
delay and are left out. From that record:

- **bound** (`ratio_to_bound`, the target): the longest path of calls that truly depend on one
  another, times the delay. A scenario depends on its conversation's calls up to its last
  customer message (found by matching the scenario's turns to the rollout's agent call on the
  same turns), then on its own improvement calls; a round depends on the previous round's
  playbook (by design, every scenario sees the playbook as it was when the round began). So:
  sum over rounds of the longest (rollout prefix + improvement) of any scenario.
- **capacity bound**: no schedule with c tasks at once beats max(bound, calls / c) delays.
  With 8 personas a stage has fewer tasks than 32, so at c=32 the two bounds are equal.
- **stage bound**: what the loop's schedule allows: it rolls out every conversation, waits,
  then improves every scenario, so each stage costs its longest task (`stage_chain_calls`), or
  calls / c if more. `pipelined_chain_calls` is the bound if each conversation's scenarios
  were improved as soon as that conversation ended.

`call_wait_beyond_delay_ms` is how long a call waited beyond the delay, on average: CPU queueing
in this process and the server's when many calls answer at once. The highest concurrency is
also run at a 1 s delay, about a real model's: there per-call CPU is small beside the delay,
so what remains of the ratio is the schedule. Short runs are repeated (median kept).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from common import SimServer, emit, progress, sim_server, write_config

from playbook.chat.base import ChatModel, ChatRequest, Completion
from playbook.chat.recorder import Recorder
from playbook.config import load_config
from playbook.roles import Roles
from playbook.workspace import Workspace, learn

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
    stage: str  # the learner's stage, e.g. "round 1: conversations"
    task: object  # the asyncio task that made the call (a conversation or a scenario)
    role: str
    key: ConversationKey  # the conversation the request shows (all but the system message)
    cached: bool
    seconds: float  # from the call to its answer, as the learner waited for it


class ChainTracker:
    """Records which task and stage made every model call, in the order the calls ended."""

    def __init__(self) -> None:
        self.calls: list[TracedCall] = []
        self.stage = ""

    def wrap(self, role: str, model: ChatModel) -> ChatModel:
        return _Tracked(self, role, model)


class _Tracked:
    def __init__(self, tracker: ChainTracker, role: str, model: ChatModel) -> None:
        self._tracker, self._role, self._model = tracker, role, model

    @property
    def name(self) -> str:
        return self._model.name

    async def complete(self, request: ChatRequest) -> Completion:
        started = time.perf_counter()
        completion = await self._model.complete(request)
        seconds = time.perf_counter() - started
        key = tuple((m.role, m.content) for m in request.messages[1:])
        task, stage = asyncio.current_task(), self._tracker.stage
        self._tracker.calls.append(
            TracedCall(stage, task, self._role, key, completion.cached, seconds)
        )
        return completion


class StageReporter:
    """The learner's progress reports tell the tracker which stage the next calls belong to."""

    def __init__(self, tracker: ChainTracker) -> None:
        self._tracker = tracker

    def stage(self, name: str, total: int) -> None:
        self._tracker.stage = name

    def advance(self) -> None:
        pass


@dataclass
class TrackedWorkspace(Workspace):
    """The workspace `playbook learn` uses, with every role model wrapped by a tracker."""

    tracker: ChainTracker = field(default_factory=ChainTracker)

    def roles(self, recorder: Recorder, student: str | None = None) -> Roles:
        roles = super().roles(recorder, student)
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
    chain: int  # the longest truly dependent path
    pipelined: int  # the same if each conversation's scenarios started when it ended
    stage_chain: int  # the current schedule: sum over stages of the stage's longest task
    stage_limited: float  # the same with the concurrency limit: max(longest, calls / limit)
    capacity: float  # any schedule with `limit` tasks at once: max(chain, calls / limit)
    unmatched: int  # scenarios whose rollout prefix was not found (should be 0)


Tasks = dict[object, list[TracedCall]]


def chain_bounds(calls: Sequence[TracedCall], limit: int, main: object) -> Bounds:
    """The bounds of the module docstring. Calls of `main` (the task running the learner, e.g.
    new personas between rounds) are on every path."""
    by_stage: dict[str, Tasks] = defaultdict(dict)
    for call in calls:
        if call.task is not main:
            by_stage[call.stage].setdefault(call.task, []).append(call)
    between = sum(not c.cached for c in calls if c.task is main)
    stage_chain, stage_limited = between, float(between)
    for tasks in by_stage.values():
        lengths = [_served(task) for task in tasks.values()]
        stage_chain += max(lengths)
        stage_limited += max(max(lengths), sum(lengths) / limit)
    chain, pipelined, unmatched = between, between, 0
    for stage, scenarios in by_stage.items():
        if stage.endswith("scenarios"):
            conversations = by_stage.get(stage.replace("scenarios", "conversations"), {})
            paths = _round_paths(conversations, scenarios)
            chain, pipelined, unmatched = (
                a + b for a, b in zip((chain, pipelined, unmatched), paths, strict=True)
            )
    served = sum(not c.cached for c in calls)
    capacity = max(chain, served / limit)
    return Bounds(served, chain, pipelined, stage_chain, stage_limited, capacity, unmatched)


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
    pipelined = max(
        (_served(calls) + improvement[task] for task, calls in conversations.items()), default=0
    )
    return longest, pipelined, unmatched


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
        workspace.close()
    calls = workspace.tracker.calls
    bounds = chain_bounds(calls, concurrency, main)
    waited = [c.seconds for c in calls if not c.cached]
    figures = _figures(delay, wall, cpu, server_cpu, bounds)
    # A call's wait beyond the delay is CPU queueing (client and server) and the network.
    extra_ms = (sum(waited) / len(waited) - delay) * 1000
    return figures | {"kept": result.kept, "call_wait_beyond_delay_ms": round(extra_ms, 2)}


def _figures(delay: float, wall: float, cpu: float, server_cpu: float, b: Bounds) -> dict[str, Any]:
    return {
        "wall_s": round(wall, 3),
        "calls": b.calls,
        "chain_calls": b.chain,
        "bound_s": round(b.chain * delay, 3),
        "ratio_to_bound": round(wall / (b.chain * delay), 3),
        "ratio_to_capacity_bound": round(wall / (b.capacity * delay), 3),
        "pipelined_chain_calls": b.pipelined,
        "pipelined_ratio_to_bound": round(b.pipelined / b.chain, 3),
        "stage_chain_calls": b.stage_chain,
        "stage_ratio_to_bound": round(b.stage_chain / b.chain, 3),
        "stage_bound_s": round(b.stage_limited * delay, 3),
        "ratio_to_stage_bound": round(wall / (b.stage_limited * delay), 3),
        "client_cpu_s": round(cpu, 3),
        "client_cpu_ms_per_call": round(cpu / b.calls * 1000, 3),
        "client_cpu_share_of_wall": round(cpu / wall, 3),
        "server_cpu_s": round(server_cpu, 3),
        "unmatched_scenarios": b.unmatched,
    }


async def runs_at(plan: Plan, delay: float, concurrencies: Sequence[int]) -> list[dict[str, Any]]:
    """Learn at each concurrency against one simulated server answering after `delay`; short
    runs are repeated and the one with the median wall time kept, as the machine is noisy."""
    results = []
    with sim_server(delay) as server, tempfile.TemporaryDirectory() as tmp:
        for c in concurrencies:
            repeats = 1 if c == 1 or delay > plan.delay else plan.repeats
            progress(f"learn: {plan.personas} personas, {plan.rounds} rounds, c={c}, {delay} s")
            runs = []
            for _ in range(repeats):
                folder = Path(tmp) / f"run{len(results)}-{len(runs)}"
                runs.append(await timed_learn(plan, server, delay, folder, c))
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
    same = len({r["calls"] for r in results.values()}) == 1
    return {**results, "settings": settings, "same_calls_at_every_concurrency": same}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay-ms", type=float, default=DELAY_S * 1000)
    parser.add_argument("--long-delay-ms", type=float, default=LONG_DELAY_S * 1000)
    parser.add_argument("--personas", type=int, default=PERSONAS)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--concurrency", type=int, nargs="+", default=list(CONCURRENCIES))
    args = parser.parse_args()
    long_delay = args.long_delay_ms / 1000 or None
    plan = Plan(
        args.delay_ms / 1000, args.personas, args.rounds, tuple(args.concurrency), long_delay
    )
    emit(asyncio.run(run(plan)))


if __name__ == "__main__":
    main()
