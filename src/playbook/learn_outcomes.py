"""What the learning loop makes of conversations and scenarios, counted per round."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from playbook.chat.base import ModelError
from playbook.errors import UserError
from playbook.recorder import BudgetExceeded
from playbook.roles import RoleOutputError
from playbook.store.records import FailureRecord
from playbook.types import Attempt, Entry, Persona, Scenario

Failure = BudgetExceeded | RoleOutputError | ModelError
"""Why a conversation or scenario was lost (recorded in the store, except budgets)."""


class LearnError(UserError):
    """The run could not learn anything; the message names the role and model to fix."""


@dataclass(frozen=True)
class Skipped:
    """A scenario that gave no entry: the student was "already good" without guidance, the
    playbook's guidance already made it good ("covered by the playbook"), or no new guidance
    beat both ("not verified")."""

    scenario: Scenario
    reason: str
    baseline: Attempt


@dataclass(frozen=True)
class Rejected:
    """A verified entry whose guidance the policy check found would break the policy."""

    entry: Entry
    reason: str

    @property
    def scenario(self) -> Scenario:
        return self.entry.scenario


Outcome = Entry | Rejected | Skipped | Failure
"""What step 2 made of one scenario (or step 1 of a persona, when its conversation failed)."""


@dataclass(frozen=True)
class Improved:
    """The kept entries of some outcomes, with the vectors they were stored with."""

    outcomes: list[Outcome]
    entries: list[Entry]
    vectors: list[np.ndarray]

    @property
    def stopped(self) -> str | None:
        return budget_stop(self.outcomes)


@dataclass
class RoundReport:
    round: int
    student_share: float
    conversations: int = 0
    scenarios: int = 0
    kept: int = 0
    rejected_by_policy: int = 0
    not_verified: int = 0
    already_good: int = 0
    covered: int = 0  # the playbook's guidance already helped; nothing new was needed
    merged: int = 0  # verified, but a near-duplicate of an entry kept in this run
    failed: int = 0
    generated_personas: int = 0  # added by the teacher after this round
    validation: float | None = None  # the student with the playbook on validation personas

    def count(self, outcomes: Sequence[Outcome]) -> None:
        for outcome in outcomes:
            if isinstance(outcome, Entry):
                self.kept += 1
            elif isinstance(outcome, Rejected):
                self.rejected_by_policy += 1
            elif isinstance(outcome, Skipped):
                self.not_verified += outcome.reason == "not verified"
                self.already_good += outcome.reason == "already good"
                self.covered += outcome.reason == "covered by the playbook"
            else:
                self.failed += 1  # a lost scenario, or a lost conversation

    @property
    def completed(self) -> int:
        done = self.kept + self.merged + self.rejected_by_policy + self.not_verified
        return done + self.already_good + self.covered


@dataclass
class LearnResult:
    run_id: str
    # When this attempt began: a resumed run's earlier failures are not counted again.
    since: datetime = field(default_factory=lambda: datetime.now(UTC))
    rounds: list[RoundReport] = field(default_factory=list)
    stopped: str | None = None  # why the run stopped early, e.g. a budget
    converged: str | None = None  # why learning ended before the last round, if it did
    generated: list[Persona] = field(default_factory=list)  # the teacher's new personas

    @property
    def kept(self) -> int:
        return sum(r.kept for r in self.rounds)


def budget_stop(results: Sequence[object]) -> str | None:
    """Why the run must stop: the first budget a call ran into, if any."""
    return next((str(r) for r in results if isinstance(r, BudgetExceeded)), None)


def never_answered(report: RoundReport, failures: Sequence[FailureRecord]) -> None:
    """A round in which nothing completed because a role never answered usably is an error."""
    if report.completed or not failures:
        return
    (role, model), count = Counter((f.role, f.model) for f in failures).most_common(1)[0]
    problem = next(f.reason for f in reversed(failures) if f.role == role)
    raise LearnError(
        f"the {role} ({model}) never gave a usable answer ({count} failures; last problem: "
        f"{problem}); check that model and its endpoint"
    )
