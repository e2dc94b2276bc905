"""Held-out evaluation: whole simulated conversations per persona, condition and sample.

Conditions (what coaches the agent):
- student: the student alone;
- generic: the student with the domain's generic guidance (the non-customised baseline);
- responses: response teaching, the teacher's reference replies of the nearest playbook
  scenarios shown as examples instead of guidelines;
- playbook: the student with guidance retrieved from the playbook (strategy teaching);
- teacher: the teacher itself, the ceiling.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from playbook.dialogue import rollout, stable_seed
from playbook.retrieve import Retriever
from playbook.roles import Example, Roles
from playbook.runner import Reporter, gather_limited
from playbook.types import Persona, Rated, Turn

CONDITIONS = ("student", "generic", "responses", "playbook", "teacher")
Reply = Callable[[tuple[Turn, ...], int, set[int]], Awaitable[str]]
"""The next agent message; adds the ids of the playbook entries it used to the set."""


@dataclass(frozen=True)
class Condition:
    name: str
    reply: Reply


def conditions(roles: Roles, playbook: Retriever) -> list[Condition]:
    """The five conditions of the evaluation for one student."""

    async def alone(turns: tuple[Turn, ...], seed: int, used: set[int]) -> str:
        return await roles.student_reply(turns, (), seed)

    async def generic(turns: tuple[Turn, ...], seed: int, used: set[int]) -> str:
        return await roles.student_reply(turns, roles.domain.generic_guidance, seed)

    async def responses(turns: tuple[Turn, ...], seed: int, used: set[int]) -> str:
        hits = (await playbook.retrieve(turns)).hits
        used.update(h.entry.id for h in hits if h.entry.id is not None)
        examples = [Example(h.entry.scenario.text(), h.entry.provenance.reference) for h in hits]
        return await roles.student_reply(turns, (), seed, examples)

    async def strategies(turns: tuple[Turn, ...], seed: int, used: set[int]) -> str:
        retrieval = await playbook.retrieve(turns)
        used.update(h.entry.id for h in retrieval.hits if h.entry.id is not None)
        return await roles.student_reply(turns, retrieval.guidance, seed)

    async def teacher(turns: tuple[Turn, ...], seed: int, used: set[int]) -> str:
        return await roles.teacher_reply(turns, seed)

    replies = (alone, generic, responses, strategies, teacher)
    return [Condition(name, reply) for name, reply in zip(CONDITIONS, replies, strict=True)]


async def rate_condition(
    roles: Roles,
    condition: Condition,
    personas: Sequence[Persona],
    *,
    samples: int = 1,
    max_turns: int,
    concurrency: int,
    reporter: Reporter,
    namespace: str = "eval",
) -> list[Rated]:
    """One whole conversation per persona and sample, with seeds never used in learning."""

    async def one(persona: Persona, sample: int) -> Rated:
        used: set[int] = set()

        async def agent(turns: tuple[Turn, ...], seed: int) -> str:
            return await condition.reply(turns, seed, used)

        seed = stable_seed(namespace, sample, persona.id)
        conversation = await rollout(roles, persona, agent, max_turns, seed)
        judge_seed = stable_seed(namespace, "judge", sample, persona.id)  # never learning's
        verdict = await roles.judge_conversation(conversation.turns, judge_seed)
        tally.advance()
        return Rated(
            roles.student.name,
            condition.name,
            persona,
            sample,
            conversation,
            verdict,
            tuple(sorted(used)),
        )

    tally = reporter.stage(f"{roles.student.name}: {condition.name}", len(personas) * samples)
    return await gather_limited([one(p, s) for s in range(samples) for p in personas], concurrency)
