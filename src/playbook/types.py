"""The vocabulary of the method (DESIGN.md section 3) as typed, immutable values."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

RoleName = Literal["student", "teacher", "customer", "judge"]
ROLES: tuple[RoleName, ...] = ("student", "teacher", "customer", "judge")

Speaker = Literal["customer", "agent"]

RATING_WORDS: tuple[str, ...] = ("unacceptable", "acceptable", "good", "very good", "excellent")
"""The judge's fixed 5-level scale; rating n (1..5) is RATING_WORDS[n - 1]."""

PERSONALITIES: tuple[str, ...] = ("analytical", "amiable", "expressive", "driver")
EMOTIONS: tuple[str, ...] = ("concerned", "frustrated", "calm", "confused")


def rating_word(rating: int) -> str:
    return RATING_WORDS[rating - 1]


@dataclass(frozen=True)
class Turn:
    speaker: Speaker
    text: str


@dataclass(frozen=True)
class GoalSituation:
    """A kind of customer with a goal whom the policy treats differently, e.g. one with a
    documented emergency. Personas in a situation are made by `domain.situation_personas`."""

    name: str
    description: str  # who the customer is, in the customer's terms
    cues: tuple[str, ...] = ()  # ways such a customer says so
    exception: bool = False  # the policy allows the goal's forbidden remedy here, on documentation
    wants: str = ""  # the one remedy of the goal this customer will accept
    escalates: bool = False  # asks for a supervisor after two refusals


@dataclass(frozen=True)
class Goal:
    """What a customer calls about, plus what the policy allows and forbids for it."""

    name: str
    description: str
    opening: str = ""  # how such a customer might start the chat
    facts: str = ""
    remedies: tuple[str, ...] = ()
    forbidden: str = ""
    openings: tuple[str, ...] = ()  # more ways to start (customers word one goal many ways)
    situations: tuple[GoalSituation, ...] = ()

    def all_openings(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(o for o in (self.opening, *self.openings) if o))

    def situation(self, name: str) -> GoalSituation:
        for situation in self.situations:
            if situation.name == name:
                return situation
        known = ", ".join(s.name for s in self.situations) or "none"
        raise KeyError(f"goal {self.name!r} has no situation {name!r} (known: {known})")


@dataclass(frozen=True)
class Domain:
    name: str
    company: str
    agent_role: str
    policy: str
    generic_guidance: tuple[str, ...]
    goals: tuple[Goal, ...]

    def goal(self, name: str) -> Goal:
        for goal in self.goals:
            if goal.name == name:
                return goal
        known = ", ".join(g.name for g in self.goals)
        raise KeyError(f"domain {self.name!r} has no goal {name!r} (known: {known})")


PERSONA_SOURCES: tuple[str, ...] = ("grid", "file", "generated", "tau2", "transcript")
"""Where a persona came from: the paper's grid, a persona file, the teacher (aimed at weak spots),
a tau2-bench task, or a real chat transcript."""


@dataclass(frozen=True)
class Persona:
    """Who is calling and why. `source` is one of PERSONA_SOURCES; `origin` says, for a reviewer,
    why or from where this persona was made (the customer model never sees it)."""

    id: str
    goal: str  # a goal of the domain; empty for a transcript, whose goal nobody stated
    personality: str
    emotion: str
    demanding: bool
    facts: str = ""
    hidden_intentions: str = ""
    source: str = "grid"
    situation: str = ""  # free text: who they are and why they call, in the customer's terms
    origin: str = ""


@dataclass(frozen=True)
class Scenario:
    """A conversation state: the conversation so far, ending with a customer message."""

    persona: Persona
    turns: tuple[Turn, ...]

    def text(self) -> str:
        return conversation_text(self.turns)


def conversation_text(turns: Sequence[Turn]) -> str:
    """The plain-text form of a conversation used for embedding and for prompts."""
    return "\n".join(f"{t.speaker.capitalize()}: {t.text}" for t in turns)


@dataclass(frozen=True)
class Verdict:
    rating: int  # 1..5, see RATING_WORDS
    explanation: str

    @property
    def word(self) -> str:
        return rating_word(self.rating)


Guidance = tuple[str, ...]
"""A guideline list: short plain-language instructions for one situation."""


@dataclass(frozen=True)
class Attempt:
    """One refinement attempt: the student's reply with some guidance and the judge's verdict
    (of the first sample; `ratings` holds every sample's)."""

    guidance: Guidance
    reply: str
    verdict: Verdict
    ratings: tuple[int, ...] = ()  # every sample's rating, when several were drawn

    @property
    def mean(self) -> float:
        """The mean rating over the samples (the one verdict's rating if there was one)."""
        return sum(self.ratings) / len(self.ratings) if self.ratings else self.verdict.rating


@dataclass(frozen=True)
class Provenance:
    """Everything that explains why an entry exists."""

    run_id: str
    round: int
    reference: str
    baseline: Attempt  # the student without any guidance
    attempts: tuple[Attempt, ...]
    models: dict[str, str] = field(default_factory=dict)  # role -> model spec


@dataclass(frozen=True)
class Entry:
    """A playbook entry: scenario -> guidance, with provenance and review status."""

    id: int | None
    scenario: Scenario
    guidance: Guidance
    provenance: Provenance
    status: str = "proposed"

    @property
    def goal(self) -> str:
        """The goal of the persona the entry was learned from ("" for a transcript's)."""
        return self.scenario.persona.goal


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def total(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens, self.output_tokens + other.output_tokens
        )


@dataclass(frozen=True)
class Conversation:
    persona: Persona
    turns: tuple[Turn, ...]
    left: bool  # the customer left; otherwise the turn limit ended it

    def scenarios(self) -> list[Scenario]:
        """Every prefix ending in a customer message the agent still had to answer."""
        return [
            Scenario(self.persona, self.turns[: i + 1])
            for i, turn in enumerate(self.turns)
            if turn.speaker == "customer" and i + 1 < len(self.turns)
        ]


@dataclass(frozen=True)
class ConversationVerdict:
    satisfaction: Verdict
    compliance: Verdict

    @property
    def score(self) -> float:
        """The headline rating of a conversation: the mean of both axes."""
        return (self.satisfaction.rating + self.compliance.rating) / 2


@dataclass(frozen=True)
class Rated:
    """One evaluated conversation."""

    student: str
    condition: str
    persona: Persona
    sample: int
    conversation: Conversation
    verdict: ConversationVerdict
    entry_ids: tuple[int, ...] = field(default=())

    @property
    def score(self) -> float:
        return self.verdict.score
