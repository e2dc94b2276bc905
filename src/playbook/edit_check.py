"""The check a reviewer's edit passes before it is served, as learning checks the learner's own
guidance: the deterministic screen and the judge's policy check on the new text, then the student
re-run on the entry's scenario with no guidance, the current guidance and the edited one (the
same seeds for all three), each reply rated by the judge against the entry's reference reply.

An edit fails when it breaks the policy, when the student does clearly worse with it than with
the current guidance (by more than TOLERANCE, the judge's noise over SAMPLES replies), or when
the current guidance helped the student and the edit no longer does (learning keeps guidance only
if it beats none). A rewording the student acts on the same way passes.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from playbook.config import LearnConfig
from playbook.dialogue import stable_seed
from playbook.recorder import Prices, Recorder
from playbook.roles import Roles
from playbook.screen import screen
from playbook.store.core import Store
from playbook.types import Entry, Guidance

# Replies per guidance, as learning verifies; the ratings are their mean (one is too noisy).
SAMPLES = LearnConfig().samples
TOLERANCE = 0.5


@dataclass(frozen=True)
class EditCheck:
    """What the check found; `problem` is empty when the edit may be served."""

    problem: str
    policy: str  # "complies", or why it does not
    without: float | None = None  # the student's mean rating with no guidance
    before: float | None = None  # ... with the current guidance
    after: float | None = None  # ... with the edited guidance
    reply_before: str = ""
    reply_after: str = ""
    run: str | None = None  # the review run whose calls made the check

    @property
    def passed(self) -> bool:
        return not self.problem

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}


def unchecked(why: str) -> EditCheck:
    """The result when no check could run: the edit is kept as a draft, never served."""
    return EditCheck(problem=f"not checked: {why}", policy="not checked")


class EditChecker:
    """Checks edits with the configured student and judge, for the domain's policy."""

    def __init__(
        self,
        roles: Roles,
        samples: int = SAMPLES,
        prices: Mapping[str, Prices] | None = None,
        run_id: str | None = None,
    ) -> None:
        self.roles = roles
        self.samples = samples
        self.prices = dict(prices or {})
        self.run_id = run_id  # the run its calls are recorded in, if any

    @property
    def policy(self) -> str:
        return self.roles.domain.policy

    def models(self) -> dict[str, str]:
        return {role: getattr(self.roles, role).name for role in ("student", "judge")}

    async def aclose(self) -> None:
        """Close the student's and the judge's clients."""
        await self.roles.student.aclose()
        await self.roles.judge.aclose()

    def recorded(self, store: Store, run_id: str) -> EditChecker:
        """The same checker with every call logged, cached and costed in the run `run_id`."""
        recorder = Recorder(store, run_id, prices=self.prices)
        roles = dataclasses.replace(
            self.roles,
            student=recorder.bind("student", self.roles.student),
            judge=recorder.bind("judge", self.roles.judge),
        )
        return EditChecker(roles, self.samples, self.prices, run_id)

    async def check(self, entry: Entry, guidance: Guidance) -> EditCheck:
        screened = screen(guidance, self.policy)
        if screened is not None:
            return EditCheck(problem=screened, policy=screened)
        verdict = await self.roles.policy_check(guidance)
        if not verdict.complies:
            reason = verdict.reason or "it would break the policy"
            return EditCheck(problem=f"policy check: {reason}", policy=reason)
        without, before, after = await asyncio.gather(
            self._rate(entry, ()), self._rate(entry, entry.guidance), self._rate(entry, guidance)
        )
        check = EditCheck(
            problem="",
            policy="complies",
            without=without[0],
            before=before[0],
            after=after[0],
            reply_before=before[1],
            reply_after=after[1],
        )
        worse = after[0] < before[0] - TOLERANCE or without[0] >= after[0] < before[0]
        if worse:
            problem = (
                f"the student did worse with the edit: rated {after[0]:.2f} with it, "
                f"{before[0]:.2f} with the current guidelines and {without[0]:.2f} without any"
            )
            return EditCheck(**{**asdict(check), "problem": problem})
        return check

    async def _rate(self, entry: Entry, guidance: Guidance) -> tuple[float, str]:
        """The mean rating of the student's replies with `guidance`, and its first reply."""
        turns, reference = entry.scenario.turns, entry.provenance.reference

        async def one(sample: int) -> tuple[int, str]:
            seed = stable_seed("edit check", entry.id, sample)
            reply = await self.roles.student_reply(turns, guidance, seed)
            verdict = await self.roles.judge_reply(turns, reference, reply, seed)
            return verdict.rating, reply

        rated = await asyncio.gather(*(one(s) for s in range(self.samples)))
        return sum(r for r, _ in rated) / len(rated), rated[0][1]
