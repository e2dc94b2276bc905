"""The learning loop of DESIGN.md section 2: scenario generation, then strategies for improvement.

For R rounds: roll out conversations in which each agent turn is the student's (with the current
playbook) with probability p_r and the teacher's otherwise; every prefix ending in a customer
message is a scenario. For each scenario: the teacher's reference reply, the student's reply
without guidance (the baseline), then up to K attempts with guidance refined by the teacher from
the contrast with the reference; an entry is kept only when the student with its guidance is
rated above the baseline. The playbook seen by a round is the one at the start of that round, so
a run is deterministic whatever the concurrency (and a re-run is served from the call cache).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from playbook.chat.recorder import BudgetExceeded
from playbook.dialogue import Conversation, rollout, stable_seed
from playbook.embed import Embedder
from playbook.retrieve import Index, Retriever
from playbook.roles import RoleOutputError, Roles
from playbook.runner import Reporter, gather_limited
from playbook.store import Store
from playbook.types import Attempt, Entry, Persona, Provenance, Scenario, Turn


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


@dataclass
class LearnResult:
    run_id: str
    rounds: list[RoundReport] = field(default_factory=list)
    stopped: str | None = None  # why the run stopped early, e.g. a budget

    @property
    def kept(self) -> int:
        return sum(r.kept for r in self.rounds)


class LearnError(Exception):
    """The run could not learn anything; the message names the role and model to fix."""


@dataclass(frozen=True)
class Learner:
    roles: Roles
    store: Store
    embedder: Embedder
    settings: LearnSettings
    run_id: str
    reporter: Reporter

    async def run(self, personas: list[Persona]) -> LearnResult:
        """All rounds. The playbook a round uses holds the entries this run verified before it."""
        result = LearnResult(self.run_id)
        learned: list[Entry] = []
        vectors: list[np.ndarray] = []
        empty = Index([], np.zeros((0, 0), np.float32), self.embedder.sparse)
        playbook = Retriever(empty, self.embedder, self.settings.k, self.settings.floor)
        for round_index in range(self.settings.rounds):
            report = RoundReport(round_index + 1, self.settings.student_share(round_index))
            result.rounds.append(report)
            result.stopped = await self._round(
                round_index, personas, playbook, report, learned, vectors
            )
            if result.stopped:
                break
            if learned:
                playbook = playbook.with_index(
                    Index(learned, np.stack(vectors), self.embedder.sparse)
                )
        self._check_some_role_answered(result)
        return result

    async def _round(
        self,
        round_index: int,
        personas: list[Persona],
        playbook: Retriever,
        report: RoundReport,
        learned: list[Entry],
        vectors: list[np.ndarray],
    ) -> str | None:
        """One round; adds its entries to `learned`; returns why the run must stop, or None."""
        self.reporter.stage(f"round {report.round}: conversations", len(personas))
        rollouts = await gather_limited(
            [self._generate(p, round_index, playbook) for p in personas], self.settings.concurrency
        )
        conversations = [c for c in rollouts if isinstance(c, Conversation)]
        scenarios = [s for c in conversations for s in c.scenarios()]
        report.conversations, report.scenarios = len(conversations), len(scenarios)
        report.failed += len(rollouts) - len(conversations)
        self.reporter.stage(f"round {report.round}: scenarios", len(scenarios))
        outcomes = await gather_limited(
            [self._improve(s, round_index, playbook) for s in scenarios], self.settings.concurrency
        )
        kept = [o for o in outcomes if isinstance(o, Entry)]
        vectors.extend(await self._keep(kept))
        learned.extend(kept)
        for outcome in outcomes:
            if isinstance(outcome, Entry):
                report.kept += 1
            elif outcome in ("not verified", "already good"):
                report.not_verified += outcome == "not verified"
                report.already_good += outcome == "already good"
            else:
                report.failed += 1
        return next((str(o) for o in [*rollouts, *outcomes] if isinstance(o, BudgetExceeded)), None)

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

    async def _improve(
        self, scenario: Scenario, round_index: int, playbook: Retriever
    ) -> Entry | str | BudgetExceeded | RoleOutputError:
        """Step 2 for one scenario: an entry, or why there is none."""
        try:
            return await self._strategies(scenario, round_index, playbook)
        except (BudgetExceeded, RoleOutputError) as exc:
            return self._failed(exc, scenario.text())
        finally:
            self.reporter.advance()

    async def _strategies(
        self, scenario: Scenario, round_index: int, playbook: Retriever
    ) -> Entry | str:
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
            return "already good"
        best = max(attempts, key=lambda a: a.verdict.rating)
        if best.verdict.rating <= baseline.verdict.rating:
            return "not verified"
        provenance = Provenance(
            self.run_id, round_index + 1, reference, baseline, tuple(attempts), self._models()
        )
        return Entry(None, scenario, best.guidance, provenance)

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
