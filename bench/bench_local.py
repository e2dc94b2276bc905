"""A real student: what a playbook does for SmolLM2-135M-Instruct (llama.cpp, 2 cores).

Not in `make bench`'s default set: it makes about a thousand real model calls (an hour or more
on 2 shared cores). Run it alone: `.venv/bin/python bench/bench_local.py [--out DIR]`; a second
run with the same --out is answered from the call cache.

1. The main job (`playbook local`): learn with SmolLM2 as the student, then the five conditions
   on held-out personas, 2 samples each, with 95% intervals and the paired test against the
   student alone.
2. Transfer: a playbook learned with `sim:student` (the simulated student) coaching SmolLM2.
3. Levers, each on the playbook condition, paired with the student alone on the same
   conversations (same personas, samples and seeds): where the guidance goes (system prompt or
   last message), k, how many guidelines are kept, guideline length, temperature.

Prints one JSON object last.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from common import emit, progress
from rich.console import Console

from playbook.cli.progress import LineReporter
from playbook.config import RetrievalConfig, load_config
from playbook.evaluate import Condition, rate_condition
from playbook.index import build_index
from playbook.local import LocalSession, LocalSettings, headline, learn_and_evaluate, local_session
from playbook.recorder import Recorder
from playbook.retrieve import Retriever
from playbook.roles import Roles
from playbook.runner import QuietReporter
from playbook.runs import learn
from playbook.stats import mean_interval, paired_comparison
from playbook.types import Guidance, Rated, Turn
from playbook.workspace import Workspace, example_domain

Shape = Callable[[Guidance], Guidance]


def keep(n: int) -> Shape:
    return lambda guidance: guidance[:n]


def short(guidance: Guidance) -> Guidance:
    """Each guideline cut to its first clause, at most 10 words: what a tiny model may follow."""
    cut = [" ".join(re.split(r"[;:,(]| - ", g)[0].split()[:10]).rstrip(".") + "." for g in guidance]
    return tuple(cut)


def as_is(guidance: Guidance) -> Guidance:
    return guidance


# name -> (inject, k, shape, temperature or None for the run's)
LEVERS: dict[str, tuple[str, int, Shape, float | None]] = {
    "system prompt (k=1, all guidelines)": ("system", 1, as_is, None),
    "last message (k=1, all guidelines)": ("last_message", 1, as_is, None),
    "k=3": ("system", 3, as_is, None),
    "keep first 3 guidelines": ("system", 1, keep(3), None),
    "keep first guideline": ("system", 1, keep(1), None),
    "short guidelines (first clause, <=10 words)": ("system", 1, short, None),
    "temperature 0.7": ("system", 1, as_is, 0.7),
}


async def rate(
    roles: Roles, name: str, reply: Callable[..., Awaitable[str]], session: LocalSession,
    samples: int, max_turns: int,
) -> list[Rated]:  # fmt: skip
    return await rate_condition(
        roles, Condition(name, reply), session.held_out, samples=samples, max_turns=max_turns,
        concurrency=4, reporter=QuietReporter(),
    )  # fmt: skip


def coached(roles: Roles, retriever: Retriever, shape: Shape) -> Callable[..., Awaitable[str]]:
    async def reply(turns: tuple[Turn, ...], seed: int, used: set[int]) -> str:
        found = await retriever.retrieve(turns)
        used.update(h.entry.id for h in found.hits if h.entry.id is not None)
        return await roles.student_reply(turns, shape(found.guidance), seed)

    return reply


def alone(roles: Roles) -> Callable[..., Awaitable[str]]:
    async def reply(turns: tuple[Turn, ...], seed: int, used: set[int]) -> str:
        return await roles.student_reply(turns, (), seed)

    return reply


def compare(treated: Sequence[Rated], baseline: Sequence[Rated]) -> dict[str, Any]:
    base = {(r.persona.id, r.sample): r.score for r in baseline}
    pairs = [(r.score, base[(r.persona.id, r.sample)]) for r in treated]
    interval = mean_interval([r.score for r in treated])
    return {
        "mean": interval.mean,
        "ci95": [interval.ci_low, interval.ci_high],
        "student_alone": mean_interval([b for _, b in pairs]).mean,
        "vs_student": paired_comparison([t for t, _ in pairs], [b for _, b in pairs]),
    }


def roles_with(session: LocalSession, recorder: Recorder, temperature: float | None) -> Roles:
    workspace = session.workspace
    if temperature is not None:
        student = workspace.config.models["student"].model_copy(update={"temperature": temperature})
        models = {**workspace.config.models, "student": student}
        workspace = replace(
            workspace, config=workspace.config.model_copy(update={"models": models})
        )
    return workspace.roles(recorder)


async def levers(
    session: LocalSession, settings: LocalSettings, baseline: list[Rated], samples: int
) -> dict[str, Any]:
    """Each lever on the playbook condition, `samples` conversations per held-out persona."""
    baseline = [r for r in baseline if r.sample < samples]
    store, embedder = session.workspace.store, session.workspace.embedder
    recorder = session.workspace.recorder(store.start_run("eval", {"bench": "levers"}, {}))
    index = await build_index(store, embedder, statuses=("proposed", "approved"))
    results: dict[str, Any] = {}
    alone_at: dict[float | None, list[Rated]] = {None: baseline}
    for name, (inject, k, shape, temperature) in LEVERS.items():
        progress(f"lever: {name}")
        roles = replace(roles_with(session, recorder, temperature), inject=inject)
        if temperature not in alone_at:
            alone_at[temperature] = await rate(
                roles, "student", alone(roles), session, samples, settings.max_turns
            )
        retrieval = session.workspace.config.retrieval.model_copy(update={"k": k})
        retriever = Retriever(index, embedder, retrieval, session.workspace.domain.goals)
        rated = await rate(
            roles, "playbook", coached(roles, retriever, shape), session, samples,
            settings.max_turns,
        )  # fmt: skip
        results[name] = compare(rated, alone_at[temperature])
    return results


async def transfer(
    session: LocalSession, settings: LocalSettings, baseline: list[Rated], out: Path
) -> dict[str, Any]:
    """A playbook learned with the simulated student, on the same personas, coaching SmolLM2."""
    sim_config = load_config(example_domain("airline").with_name("playbook.toml"))
    learn_cfg = session.workspace.config.learn
    sim_config = sim_config.model_copy(
        update={"playbook": out / "sim-student.db", "learn": learn_cfg}
    )
    sim = Workspace.open(sim_config)
    try:
        await learn(sim, QuietReporter())
        index = await build_index(sim.store, sim.embedder, statuses=("proposed", "approved"))
        entries = len(index)
    finally:
        await sim.aclose()
    store = session.workspace.store
    recorder = session.workspace.recorder(store.start_run("eval", {"bench": "transfer"}, {}))
    roles = session.workspace.roles(recorder)
    retrieval = RetrievalConfig(k=settings.k, floor=0.2)
    retriever = Retriever(
        index, session.workspace.embedder, retrieval, session.workspace.domain.goals
    )
    rated = await rate(
        roles, "playbook", coached(roles, retriever, as_is), session, settings.samples,
        settings.max_turns,
    )  # fmt: skip
    return {"entries": entries, **compare(rated, baseline)}


async def run(settings: LocalSettings, lever_samples: int) -> dict[str, Any]:
    started = time.monotonic()
    result: dict[str, Any] = {}
    async with local_session(settings, progress) as session:
        reporter = LineReporter(Console(stderr=True))  # lines on stderr, with the time left
        _, summary, rated = await learn_and_evaluate(session, settings, reporter, progress)
        result["main"] = headline(summary)
        result["main"]["entries"] = len(session.workspace.store.entries())
        result["main_seconds"] = round(time.monotonic() - started, 1)
        baseline = [r for r in rated if r.condition == "student"]
        progress("transfer: a playbook learned with sim:student")
        result["transfer_from_sim_student"] = await transfer(
            session, settings, baseline, settings.out.resolve()
        )
        if lever_samples:
            result["lever_samples"] = lever_samples
            result["levers"] = await levers(session, settings, baseline, lever_samples)
        result["calls"] = {
            role: {"made": s.calls - s.cached, "cached": s.cached}
            for role, s in session.workspace.store.call_stats().items()
        }
    result["seconds"] = round(time.monotonic() - started, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench-local"))
    parser.add_argument("--samples", type=int, default=2)
    parser.add_argument(
        "--lever-samples", type=int, default=1, help="conversations per persona per lever (0: none)"
    )
    args = parser.parse_args()
    settings = LocalSettings(out=args.out, samples=args.samples)
    emit(asyncio.run(run(settings, args.lever_samples)))


if __name__ == "__main__":
    sys.exit(main())
