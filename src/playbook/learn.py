"""The learning loop of DESIGN.md section 2: scenario generation, then strategies for improvement.

For R rounds: roll out conversations in which each agent turn is the student's (with the current
playbook) with probability p_r and the teacher's otherwise; every prefix ending in a customer
message is a scenario. For each scenario: the teacher's reference reply, the student's reply
without guidance (the baseline), then up to K attempts with guidance refined by the teacher from
the contrast with the reference; an entry is kept only when the student with its guidance is
rated above the baseline. The playbook seen by a round is the one at the start of that round, so
a run is deterministic whatever the concurrency (and a re-run is served from the call cache).

Beyond the paper: scenarios from real chat transcripts join the first round's step 2, and between
rounds the teacher may propose new personas aimed at the scenarios the student was rated lowest
on (playbook.generate); they join the next round's conversations.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from playbook.chat.recorder import BudgetExceeded
from playbook.dialogue import rollout, stable_seed
from playbook.embed import Embedder
from playbook.generate import aimed_personas
from playbook.retrieve import Index, Retriever
from playbook.roles import RoleOutputError, Roles
from playbook.runner import Reporter, gather_limited
from playbook.store import Store
from playbook.types import (
    Attempt,
    Conversation,
    Entry,
    Persona,
    Provenance,
    Scenario,
    Turn,
    Verdict,
)


@dataclass(frozen=True)
class LearnSettings:
    rounds: int = 3
    mixing: tuple[float, ...] = (0.0, 0.5, 1.0)
    max_attempts: int = 3
    accept: int = 4  # "very good"
    max_turns: int = 6
    concurrency: int = 8
    seed: int = 0
    k: int = 1
    floor: float = 0.2
    generated_personas: int = 0  # personas the teacher adds after each round; 0: none
    generated_max_similarity: float = 0.9  # a proposal at least this like a persona is dropped

    def student_share(self, round_index: int) -> float:
        return self.mixing[min(round_index, len(self.mixing) - 1)]


@dataclass
class RoundReport:
    round: int
    student_share: float
    conversations: int = 0
    scenarios: int = 0
    kept: int = 0
    not_verified: int = 0
    already_good: int = 0
    failed: int = 0
    generated_personas: int = 0  # added by the teacher after this round


@dataclass
class LearnResult:
    run_id: str
    rounds: list[RoundReport] = field(default_factory=list)
    stopped: str | None = None  # why the run stopped early, e.g. a budget
    generated: list[Persona] = field(default_factory=list)  # the teacher's new personas

    @property
    def kept(self) -> int:
        return sum(r.kept for r in self.rounds)


class LearnError(Exception):
    """The run could not learn anything; the message names the role and model to fix."""


@dataclass(frozen=True)
class Skipped:
    """A scenario that gave no entry: the student was "already good" without guidance, or
    no guidance made it better ("not verified")."""

    scenario: Scenario
    reason: str
    baseline: Attempt


Outcome = Entry | Skipped | BudgetExceeded | RoleOutputError
"""What step 2 made of one scenario."""


@dataclass(frozen=True)
class Improved:
    """What step 2 made of a list of scenarios; `entries` are stored, `vectors` embed them."""

    outcomes: list[Outcome]
    entries: list[Entry]
    vectors: list[np.ndarray]

    @property
    def stopped(self) -> str | None:
        return _budget_stop(self.outcomes)


@dataclass(frozen=True)
class Learner:
    roles: Roles
    store: Store
    embedder: Embedder
    settings: LearnSettings
    run_id: str
    reporter: Reporter

    async def run(
        self, personas: list[Persona], transcripts: Sequence[Scenario] = ()
    ) -> LearnResult:
        """All rounds. The playbook a round uses holds the entries this run verified before it."""
        result = LearnResult(self.run_id)
        learned: list[Entry] = []
        vectors: list[np.ndarray] = []
        empty = Index([], np.zeros((0, 0), np.float32), self.embedder.sparse)
        playbook = Retriever(empty, self.embedder, self.settings.k, self.settings.floor)
        for round_index in range(self.settings.rounds):
            report = RoundReport(round_index + 1, self.settings.student_share(round_index))
            result.rounds.append(report)
            rollouts = await self._generate_all(personas, round_index, playbook, report)
            scenarios = [s for c in rollouts if isinstance(c, Conversation) for s in c.scenarios()]
            if round_index == 0:
                scenarios += transcripts  # real conversations, improved once
            improved = await self.improve(scenarios, round_index, playbook, report)
            learned += improved.entries
            vectors += improved.vectors
            result.stopped = _budget_stop([*rollouts, *improved.outcomes])
            if result.stopped:
                break
            if learned:
                playbook = playbook.with_index(
                    Index(learned, np.stack(vectors), self.embedder.sparse)
                )
            if round_index + 1 < self.settings.rounds:
                new = await self._aimed_personas(improved.outcomes, personas, report)
                result.generated += new
                personas = [*personas, *new]
        self._check_some_role_answered(result)
        return result

    async def _generate_all(
        self, personas: list[Persona], round_index: int, playbook: Retriever, report: RoundReport
    ) -> list[Conversation | BudgetExceeded | RoleOutputError]:
        """Step 1 for every persona; the conversations are counted in `report`."""
        self.reporter.stage(f"round {report.round}: conversations", len(personas))
        rollouts = await gather_limited(
            [self._generate(p, round_index, playbook) for p in personas], self.settings.concurrency
        )
        report.conversations = sum(isinstance(c, Conversation) for c in rollouts)
        report.failed += len(rollouts) - report.conversations
        return rollouts

    async def improve(
        self,
        scenarios: Sequence[Scenario],
        round_index: int,
        playbook: Retriever,
        report: RoundReport,
    ) -> Improved:
        """Step 2 for every scenario: verified entries are stored; outcomes counted in `report`."""
        self.reporter.stage(f"round {report.round}: scenarios", len(scenarios))
        outcomes = await gather_limited(
            [self._improve(s, round_index, playbook) for s in scenarios], self.settings.concurrency
        )
        entries = [o for o in outcomes if isinstance(o, Entry)]
        vectors = await self._keep(entries)
        report.scenarios += len(scenarios)
        for outcome in outcomes:
            if isinstance(outcome, Entry):
                report.kept += 1
            elif isinstance(outcome, Skipped):
                report.not_verified += outcome.reason == "not verified"
                report.already_good += outcome.reason == "already good"
            else:
                report.failed += 1
        return Improved(outcomes, entries, vectors)

    async def _generate(
        self, persona: Persona, round_index: int, playbook: Retriever
    ) -> Conversation | BudgetExceeded | RoleOutputError:
        """Step 1: a conversation whose agent turns mix teacher and student-with-playbook."""
        share = self.settings.student_share(round_index)
        base_seed = stable_seed("learn", self.settings.seed, round_index, persona.id)

        async def agent(turns: tuple[Turn, ...], seed: int) -> str:
            if random.Random(seed).random() < share:
                guidance = (await playbook.retrieve(turns)).guidance
                return await self.roles.student_reply(turns, guidance, seed)
            return await self.roles.teacher_reply(turns, seed)

        try:
            return await rollout(self.roles, persona, agent, self.settings.max_turns, base_seed)
        except (BudgetExceeded, RoleOutputError) as exc:
            return self._failed(exc, persona.id)
        finally:
            self.reporter.advance()

    async def _improve(self, scenario: Scenario, round_index: int, playbook: Retriever) -> Outcome:
        """Step 2 for one scenario: an entry, or why there is none."""
        try:
            return await self._strategies(scenario, round_index, playbook)
        except (BudgetExceeded, RoleOutputError) as exc:
            return self._failed(exc, scenario.text())
        finally:
            self.reporter.advance()

    async def _strategies(
        self, scenario: Scenario, round_index: int, playbook: Retriever
    ) -> Entry | Skipped:
        turns, roles = scenario.turns, self.roles
        seed = stable_seed("improve", self.settings.seed, scenario.persona.id, scenario.text())
        reference = await roles.teacher_reply(turns, seed)

        async def attempt(guidance: tuple[str, ...]) -> Attempt:
            reply = await roles.student_reply(turns, guidance, seed)
            return Attempt(guidance, reply, await roles.judge_reply(turns, reference, reply))

        baseline = await attempt(())
        guidance = (await playbook.retrieve(turns)).guidance
        current, attempts = baseline, []
        if guidance:
            current = await attempt(guidance)
            attempts.append(current)
        while (
            current.verdict.rating < self.settings.accept
            and len(attempts) < self.settings.max_attempts
        ):
            lesson = await roles.teacher_guidelines(
                turns, reference, current.reply, current.verdict.explanation
            )
            current = await attempt(await roles.teacher_merge(guidance, lesson))
            guidance = current.guidance
            attempts.append(current)
        if not attempts:
            return Skipped(scenario, "already good", baseline)
        best = max(attempts, key=lambda a: a.verdict.rating)
        if best.verdict.rating <= baseline.verdict.rating:
            return Skipped(scenario, "not verified", baseline)
        provenance = Provenance(
            self.run_id, round_index + 1, reference, baseline, tuple(attempts), self._models()
        )
        return Entry(None, scenario, best.guidance, provenance)

    async def _aimed_personas(
        self, outcomes: list[Outcome], personas: list[Persona], report: RoundReport
    ) -> list[Persona]:
        """Between rounds: the teacher's new personas, like the scenarios the student did worst."""
        rated: list[tuple[Scenario, Verdict]] = [
            (o.scenario, o.provenance.baseline.verdict) for o in outcomes if isinstance(o, Entry)
        ]
        rated += [(o.scenario, o.baseline.verdict) for o in outcomes if isinstance(o, Skipped)]
        try:
            new = await aimed_personas(
                self.roles,
                self.embedder,
                rated,
                personas,
                count=self.settings.generated_personas,
                max_similarity=self.settings.generated_max_similarity,
                round_number=report.round,
            )
        except (BudgetExceeded, RoleOutputError) as exc:
            self._failed(exc, f"new personas after round {report.round}")
            return []  # a budget reached here stops the next round at its first call
        report.generated_personas = len(new)
        return new

    def _models(self) -> dict[str, str]:
        r = self.roles
        return {
            "student": r.student.name,
            "teacher": r.teacher.name,
            "judge": r.judge.name,
            "customer": r.customer.name,
        }

    async def _keep(self, entries: list[Entry]) -> list[np.ndarray]:
        """Store the entries (an entry already in the playbook is not stored twice)."""
        if not entries:
            return []
        vectors = await self.embedder.embed([e.scenario.text() for e in entries])
        for entry, vector in zip(entries, vectors, strict=True):
            self.store.add_entry(entry, vector, self.embedder.id)
        return list(vectors)

    def _failed(self, exc: Exception, where: str) -> Any:
        if isinstance(exc, RoleOutputError):
            self.store.record_failure(self.run_id, exc.role, exc.model, exc.problem, where)
        return exc

    def _check_some_role_answered(self, result: LearnResult) -> None:
        """A run where nothing completed because a role never answered usably is an error."""
        completed = sum(r.kept + r.not_verified + r.already_good for r in result.rounds)
        failures = self.store.failures(self.run_id)
        if completed or not failures or result.stopped:
            return
        (role, model), count = Counter((f.role, f.model) for f in failures).most_common(1)[0]
        problem = next(f.reason for f in failures if f.role == role)
        raise LearnError(
            f"the {role} ({model}) never gave a usable answer ({count} failures; last problem: "
            f"{problem}); check that model and its endpoint"
        )


def _budget_stop(results: Sequence[object]) -> str | None:
    """Why the run must stop: the first budget a call ran into, if any."""
    return next((str(r) for r in results if isinstance(r, BudgetExceeded)), None)
