"""The learning loop of DESIGN.md section 2: scenario generation, then strategies for improvement.

For R rounds: roll out conversations in which each agent turn is the student's (with the current
playbook) with probability p_r and the teacher's otherwise; every prefix ending in a customer
message is a scenario. For each scenario: the teacher's reference reply, the student's reply
without guidance (the baseline), then up to K attempts with guidance refined by the teacher from
the contrast with the reference; an entry is kept only when the student with its guidance is
rated above the baseline, and only if the judge finds that following it keeps to the policy
(otherwise it is stored as rejected, with the reason).

A scenario is improved as soon as its customer message is written (no barrier between steps);
the playbook seen by a round is the one at the start of that round, so a run is deterministic
whatever the concurrency, and re-running or resuming it is served from the call cache.

Beyond the paper: scenarios from real chat transcripts join the first round's step 2, and between
rounds the teacher may propose new personas aimed at the scenarios the student was rated lowest
on (playbook.generate); they join the next round's conversations.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from playbook.chat.base import ModelError
from playbook.config import RetrievalConfig
from playbook.dialogue import rollout, stable_seed
from playbook.embed import Embedder
from playbook.evaluate import conditions, rate_condition
from playbook.generate import aimed_personas
from playbook.index import Index
from playbook.learn_outcomes import (
    Failure,
    Improved,
    LearnError,
    LearnResult,
    Outcome,
    Rejected,
    RoundReport,
    Skipped,
    budget_stop,
    never_answered,
)
from playbook.parse import normalise_guideline
from playbook.recorder import BudgetExceeded
from playbook.retrieve import Retriever
from playbook.roles import RoleOutputError, Roles
from playbook.runner import QuietReporter, Reporter, Tally, gather_limited
from playbook.screen import screen
from playbook.store.core import FailureRecord, Store
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

__all__ = ["LearnError", "LearnResult", "LearnSettings", "Learner", "RoundReport", "Skipped"]


@dataclass(frozen=True)
class LearnSettings:
    """A learn run's settings, resolved from the config (workspace.learn_settings): the
    defaults live in config.LearnConfig and config.RetrievalConfig only."""

    rounds: int
    mixing: tuple[float, ...]
    max_attempts: int
    accept: int  # a rating, 1-5 ("very good" is 4)
    max_turns: int
    concurrency: int  # conversations rolled out at once (model calls are limited per endpoint)
    seed: int
    retrieval: RetrievalConfig
    policy_check: bool
    validation: int  # personas evaluated between rounds for early stopping; 0: off
    samples: int  # student replies rated per attempt when verifying guidance
    prune: bool  # drop the lines verified guidance does as well without
    merge_similarity: float  # this similar to one kept in the round, same guidance: a duplicate
    max_entries: int  # size budget of one run; 0: none
    generated_personas: int  # personas the teacher adds after each round; 0: none
    generated_max_similarity: float  # a proposal at least this like a persona is dropped

    def student_share(self, round_index: int) -> float:
        return self.mixing[min(round_index, len(self.mixing) - 1)]


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
        playbook = self._playbook(learned, vectors)
        validation = self._validation_personas(personas)
        for round_index in range(self.settings.rounds):
            report = RoundReport(round_index + 1, self.settings.student_share(round_index))
            result.rounds.append(report)
            extra = transcripts if round_index == 0 else ()  # real conversations, improved once
            outcomes = await self._round(personas, extra, round_index, playbook, report)
            improved = await self._keep(outcomes, report, vectors)
            learned += improved.entries
            vectors += improved.vectors
            result.stopped = budget_stop(outcomes)
            if result.stopped:
                break
            never_answered(report, self.failures_since(result.since))
            playbook = self._playbook(learned, vectors)
            result.converged = await self._validate(validation, playbook, result)
            if result.converged or result.stopped:
                break
            if round_index + 1 < self.settings.rounds:
                new = await self._aimed_personas(outcomes, personas, report)
                result.generated += new
                personas = [*personas, *new]
        return result

    def _validation_personas(self, personas: list[Persona]) -> list[Persona]:
        """Step 3's personas, chosen once so that rounds are compared on the same customers
        (in conversations of their own seeds, never the learning ones)."""
        count = min(self.settings.validation, len(personas))
        return random.Random(self.settings.seed).sample(personas, count) if count else []

    async def _validate(
        self, chosen: list[Persona], playbook: Retriever, result: LearnResult
    ) -> str | None:
        """Step 3: the student with the playbook on the validation personas; why learning can
        stop now (it reached the teacher or stopped improving), or None."""
        if not chosen:
            return None
        by_name = {c.name: c for c in conditions(self.roles, playbook)}

        async def mean(condition: str) -> float:
            rated = await rate_condition(
                self.roles,
                by_name[condition],
                chosen,
                max_turns=self.settings.max_turns,
                concurrency=self.settings.concurrency,
                reporter=QuietReporter(),
                namespace="validate",
            )
            return round(sum(r.score for r in rated) / len(rated), 4)

        report = result.rounds[-1]
        try:
            score, ceiling = await mean("playbook"), await mean("teacher")
        except BudgetExceeded as exc:
            result.stopped = str(exc)
            return None
        except (RoleOutputError, ModelError) as exc:
            self._failed(exc, f"validation after round {report.round}")
            return None  # no score this round: learning goes on
        report.validation = score
        earlier = [r.validation for r in result.rounds[:-1] if r.validation is not None]
        if score >= ceiling:
            return f"after round {report.round} the student with the playbook reached the teacher"
        if earlier and score <= earlier[-1]:
            return f"after round {report.round} the validation score stopped improving"
        return None

    async def improve(
        self,
        scenarios: Sequence[Scenario],
        round_index: int,
        playbook: Retriever,
        report: RoundReport,
    ) -> Improved:
        """Step 2 alone, for scenarios from elsewhere (imported transcripts)."""
        tally = self.reporter.stage(f"round {report.round}: scenarios", len(scenarios))
        report.scenarios += len(scenarios)
        outcomes = await self._improve_all(scenarios, round_index, playbook, tally)
        return await self._keep(outcomes, report)

    def _playbook(self, entries: list[Entry], vectors: list[np.ndarray]) -> Retriever:
        matrix = np.stack(vectors) if vectors else np.zeros((0, 0), np.float32)
        index = Index(entries, matrix, self.embedder.sparse)
        return Retriever(index, self.embedder, self.settings.retrieval, self.roles.domain.goals)

    async def _round(
        self,
        personas: Sequence[Persona],
        transcripts: Sequence[Scenario],
        round_index: int,
        playbook: Retriever,
        report: RoundReport,
    ) -> list[Outcome]:
        """Steps 1 and 2 together: a scenario's improvement starts as soon as its customer
        message is written, while the conversation goes on (the longest chain of dependent
        calls is then one scenario's prefix plus its own improvement).

        Progress counts a conversation done once its scenarios are improved too, so the total
        is known at the start (how many scenarios a conversation yields is not)."""
        tally = self.reporter.stage(f"round {report.round}", len(personas) + len(transcripts))
        per_scenario = QuietReporter().stage("", 0)

        async def conversation_and_scenarios(persona: Persona) -> list[Outcome]:
            started: list[asyncio.Task[Outcome]] = []
            # A task group: a misconfiguration found by any scenario stops this conversation
            # and its other scenarios at once, and no task outlives the round.
            async with asyncio.TaskGroup() as group:

                def improve_now(turns: tuple[Turn, ...]) -> None:
                    report.scenarios += 1
                    scenario = Scenario(persona, turns)
                    improving = self._improve_one(scenario, round_index, playbook, per_scenario)
                    started.append(group.create_task(improving))

                conversation = await self._generate(persona, round_index, playbook, improve_now)
            tally.advance()
            outcomes: list[Outcome] = [task.result() for task in started]
            if not isinstance(conversation, Conversation):
                return [*outcomes, conversation]
            report.conversations += 1
            return outcomes

        report.scenarios += len(transcripts)
        jobs = [conversation_and_scenarios(p) for p in personas]
        jobs.append(self._improve_all(transcripts, round_index, playbook, tally))
        per_job = await gather_limited(jobs, self.settings.concurrency)
        return [outcome for outcomes in per_job for outcome in outcomes]

    async def _improve_all(
        self, scenarios: Sequence[Scenario], round_index: int, playbook: Retriever, tally: Tally
    ) -> list[Outcome]:
        jobs = [self._improve_one(s, round_index, playbook, tally) for s in scenarios]
        return await gather_limited(jobs, max(1, len(scenarios)))

    async def _improve_one(
        self, scenario: Scenario, round_index: int, playbook: Retriever, tally: Tally
    ) -> Outcome:
        try:
            return await self._strategies(scenario, round_index, playbook)
        except (BudgetExceeded, RoleOutputError, ModelError) as exc:
            return self._failed(exc, scenario.text())
        finally:
            tally.advance()

    async def _generate(
        self,
        persona: Persona,
        round_index: int,
        playbook: Retriever,
        on_scenario: Callable[[tuple[Turn, ...]], None],
    ) -> Conversation | Failure:
        """Step 1: a conversation whose agent turns mix teacher and student-with-playbook.
        Every conversation state the agent answers is a scenario, handed to `on_scenario`."""
        share = self.settings.student_share(round_index)
        base_seed = stable_seed("learn", self.settings.seed, round_index, persona.id)

        async def agent(turns: tuple[Turn, ...], seed: int) -> str:
            on_scenario(turns)
            if random.Random(seed).random() < share:
                guidance = (await playbook.retrieve(turns)).guidance
                return await self.roles.student_reply(turns, guidance, seed)
            return await self.roles.teacher_reply(turns, seed)

        try:
            return await rollout(self.roles, persona, agent, self.settings.max_turns, base_seed)
        except (BudgetExceeded, RoleOutputError, ModelError) as exc:
            return self._failed(exc, persona.id)

    async def _strategies(
        self, scenario: Scenario, round_index: int, playbook: Retriever
    ) -> Entry | Rejected | Skipped:
        """Step 2 for one scenario: reference, baseline, refined guidance, verification.

        Every attempt is rated on several samples of the student's reply (the student and the
        judge are noisy); new guidance is kept only when its mean beats both the student alone
        and the guidance the playbook already retrieves for this scenario."""
        turns, roles, settings = scenario.turns, self.roles, self.settings
        seed = stable_seed("improve", settings.seed, scenario.persona.id, scenario.text())
        reference = await roles.teacher_reply(turns, seed)
        attempt = self._sampler(turns, reference, seed)
        baseline = await attempt(())
        guidance = (await playbook.retrieve(turns)).guidance
        current, attempts = baseline, list[Attempt]()
        if guidance:
            current = await attempt(guidance)
        to_beat = max(baseline.mean, current.mean)
        while current.mean < settings.accept and len(attempts) < settings.max_attempts:
            lesson_seed = stable_seed(seed, "lesson", len(attempts))
            lesson = await roles.teacher_guidelines(
                turns, reference, current.reply, current.verdict.explanation, lesson_seed
            )
            current = await attempt(await roles.teacher_merge(guidance, lesson))
            guidance = current.guidance
            attempts.append(current)
        if not attempts:
            reason = "covered by the playbook" if to_beat > baseline.mean else "already good"
            return Skipped(scenario, reason, baseline)
        best = max(attempts, key=lambda a: a.mean)
        if best.mean <= to_beat:
            return Skipped(scenario, "not verified", baseline)
        if settings.prune and (pruned := await self._pruned(best, attempt)) is not best:
            attempts.append(pruned)  # recorded, so that a reviewer sees what was dropped
            best = pruned
        provenance = Provenance(
            self.run_id, round_index + 1, reference, baseline, tuple(attempts), self._models()
        )
        return await self._checked(Entry(None, scenario, best.guidance, provenance))

    async def _pruned(
        self, best: Attempt, attempt: Callable[[tuple[str, ...]], Awaitable[Attempt]]
    ) -> Attempt:
        """The verified guidance without the lines it does as well without: a weak student
        attends to its first few guidelines only, so every useless line costs a useful one."""
        for line in reversed(best.guidance):
            if len(best.guidance) == 1:
                break
            shorter = await attempt(tuple(g for g in best.guidance if g != line))
            if shorter.mean >= best.mean:
                best = shorter
        return best

    def _sampler(
        self, turns: tuple[Turn, ...], reference: str, seed: int
    ) -> Callable[[tuple[str, ...]], Awaitable[Attempt]]:
        """Rates guidance on `samples` replies of the student, each with its own judge seed."""

        async def one(guidance: tuple[str, ...], sample: int) -> tuple[str, Verdict]:
            reply_seed = seed if sample == 0 else stable_seed(seed, "sample", sample)
            reply = await self.roles.student_reply(turns, guidance, reply_seed)
            judge_seed = stable_seed(seed, "judge", sample)
            return reply, await self.roles.judge_reply(turns, reference, reply, judge_seed)

        async def attempt(guidance: tuple[str, ...]) -> Attempt:
            drawn = await asyncio.gather(*(one(guidance, s) for s in range(self.settings.samples)))
            (reply, verdict), ratings = drawn[0], tuple(v.rating for _, v in drawn)
            return Attempt(guidance, reply, verdict, ratings)

        return attempt

    async def _checked(self, entry: Entry) -> Entry | Rejected:
        """The policy check: guidance that would make the agent break the policy is rejected.
        The deterministic screen (secrets, payment data, foreign links) always applies first."""
        screened = screen(entry.guidance, self.roles.domain.policy)
        if screened is not None:
            return Rejected(entry, screened)
        if not self.settings.policy_check:
            return entry
        verdict = await self.roles.policy_check(entry.guidance)
        return entry if verdict.complies else Rejected(entry, verdict.reason or "breaks policy")

    async def _keep(
        self, outcomes: Sequence[Outcome], report: RoundReport, earlier: Sequence[np.ndarray] = ()
    ) -> Improved:
        """Store verified entries (and rejected ones, as rejected, with the reason), near-
        duplicates of this run's entries merged into the one that gained most."""
        report.count(outcomes)
        entries = [o for o in outcomes if isinstance(o, Entry)]
        rejected = [o for o in outcomes if isinstance(o, Rejected)]
        if not entries and not rejected:
            return Improved(list(outcomes), [], [])
        stored = [*entries, *(r.entry for r in rejected)]
        vectors = list(await self.embedder.embed([e.scenario.text() for e in stored]))
        verified, refused_vectors = vectors[: len(entries)], vectors[len(entries) :]
        kept, kept_vectors = self._distinct(entries, verified, len(earlier))
        report.merged, report.kept = len(entries) - len(kept), len(kept)
        for entry, vector in zip(kept, kept_vectors, strict=True):
            self.store.add_entry(entry, vector, self.embedder.id)
        for rejection, vector in zip(rejected, refused_vectors, strict=True):
            entry = dataclasses.replace(rejection.entry, status="rejected")
            self.store.add_entry(entry, vector, self.embedder.id, "policy check", rejection.reason)
        return Improved(list(outcomes), kept, kept_vectors)

    def _distinct(
        self, entries: list[Entry], vectors: list[np.ndarray], earlier: int
    ) -> tuple[list[Entry], list[np.ndarray]]:
        """The entries that are not near-duplicates of one kept before them in this round (the
        largest gains first), within the run's size budget (`earlier` entries count against it).

        A near-duplicate has a scenario this similar *and* the same guidance. Similar text is
        not enough: the words that decide the guidance (the customer's mood and manner, what
        was already said) are a small part of a conversation, so two scenarios of 0.95 cosine
        often need different guidance, and dropping one loses a verified lesson. Earlier rounds'
        entries are not compared with: a verified entry beat the guidance the playbook already
        retrieves for its scenario, so no earlier entry serves it as well."""
        settings = self.settings
        order = sorted(range(len(entries)), key=lambda i: -_gain(entries[i]))
        kept: list[int] = []
        for i in order:
            if settings.max_entries and earlier + len(kept) >= settings.max_entries:
                break
            if any(self._duplicate(entries[i], vectors[i], entries[j], vectors[j]) for j in kept):
                continue
            kept.append(i)
        kept.sort()
        return [entries[i] for i in kept], [vectors[i] for i in kept]

    def _duplicate(
        self, entry: Entry, vector: np.ndarray, other: Entry, other_vector: np.ndarray
    ) -> bool:
        if float(vector @ other_vector) < self.settings.merge_similarity:
            return False
        return _lessons(entry) == _lessons(other)

    async def _aimed_personas(
        self, outcomes: list[Outcome], personas: list[Persona], report: RoundReport
    ) -> list[Persona]:
        """Between rounds: the teacher's new personas, like the scenarios the student did worst."""
        rated = [
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
        except (BudgetExceeded, RoleOutputError, ModelError) as exc:
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

    def failures_since(self, since: datetime) -> list[FailureRecord]:
        return [f for f in self.store.failures(self.run_id) if f.created_at >= since]

    def _failed(self, exc: Failure, where: str) -> Failure:
        """Record why a conversation or scenario was lost; a misconfiguration ends the run."""
        if isinstance(exc, ModelError) and exc.fatal:
            raise exc
        if isinstance(exc, RoleOutputError):
            self.store.record_failure(
                self.run_id, exc.role, exc.model, exc.problem, where, "unusable output"
            )
        elif isinstance(exc, ModelError):
            role, model = getattr(exc, "role", "?"), getattr(exc, "model", "?")
            self.store.record_failure(self.run_id, role, model, str(exc), where, exc.cause)
        return exc


def _lessons(entry: Entry) -> frozenset[str]:
    return frozenset(normalise_guideline(line) for line in entry.guidance)


def _gain(entry: Entry) -> float:
    """How much the entry's guidance raised the student's mean rating over no guidance."""
    provenance = entry.provenance
    return max(a.mean for a in provenance.attempts) - provenance.baseline.mean
