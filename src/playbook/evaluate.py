"""Held-out evaluation: whole simulated conversations per persona, rated by the judge."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING

from playbook.dialogue import Agent, Conversation, rollout, stable_seed

if TYPE_CHECKING:
    from playbook.retrieve import Retriever
from playbook.roles import ConversationVerdict, Roles
from playbook.runner import Reporter, gather_limited
from playbook.types import Persona, Turn


@dataclass(frozen=True)
class Rated:
    condition: str
    conversation: Conversation
    verdict: ConversationVerdict
    sample: int
    entry_ids: tuple[int, ...] = ()  # playbook entries retrieved during the conversation


def student_alone(roles: Roles) -> Agent:
    async def agent(turns: tuple[Turn, ...], seed: int) -> str:
        return await roles.student_reply(turns, (), seed)

    return agent


def teacher(roles: Roles) -> Agent:
    async def agent(turns: tuple[Turn, ...], seed: int) -> str:
        return await roles.teacher_reply(turns, seed)

    return agent


def student_with_playbook(roles: Roles, playbook: Retriever, used: set[int]) -> Agent:
    async def agent(turns: tuple[Turn, ...], seed: int) -> str:
        retrieval = await playbook.retrieve(turns)
        used.update(h.entry.id for h in retrieval.hits if h.entry.id is not None)
        return await roles.student_reply(turns, retrieval.guidance, seed)

    return agent


async def rate_condition(
    roles: Roles,
    condition: str,
    agent: Agent,
    personas: list[Persona],
    *,
    samples: int = 1,
    max_turns: int = 6,
    concurrency: int = 8,
    reporter: Reporter,
) -> list[Rated]:
    """One whole conversation per persona and sample, with seeds never used in learning."""

    async def one(persona: Persona, sample: int) -> Rated:
        seed = stable_seed("eval", sample, persona.id)
        conversation = await rollout(roles, persona, agent, max_turns, seed)
        verdict = await roles.judge_conversation(conversation.turns)
        reporter.advance()
        return Rated(condition, conversation, verdict, sample)

    reporter.stage(f"evaluate: {condition}", len(personas) * samples)
    jobs = [one(p, s) for s in range(samples) for p in personas]
    return await gather_limited(jobs, concurrency)


def mean_score(results: list[Rated]) -> float:
    return statistics.fmean(r.verdict.score for r in results)


def gap_closed(student: float, with_playbook: float, teacher_score: float) -> float | None:
    """(with playbook - student) / (teacher - student); None when the teacher is no better."""
    gap = teacher_score - student
    return (with_playbook - student) / gap if gap > 0 else None
