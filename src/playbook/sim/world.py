"""The hidden model of the simulated world: what each customer in each situation needs.

An agent reply is read as a set of *moves*. Tone moves suit some customers and cost points with
others (empathy to a calm customer, detail to a driver, a question to someone who is not
confused). Substance moves depend on the goal's situation: most customers need the policy stated
once and an allowed remedy offered (the one they want, if they want one); a customer with a
documented emergency needs the documentation asked for and the forbidden remedy granted (the
policy's exception), so refusing them is wrong; a customer who asked for a supervisor needs the
case escalated, which nobody else wants. Granting the forbidden remedy to anyone else is a
violation; offering another goal's remedies is invented compensation.

The judge rates by this model, the customer reacts to it, the teacher writes its reference from
it (a strong model knows what a customer needs), and the students know only parts of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from random import Random

from playbook.sim import language
from playbook.sim.reading import Reading, read_reply
from playbook.types import Domain, Goal, GoalSituation, Turn

TONE = ("empathy", "warmth", "clarify", "detail")
SUBSTANCE = ("policy", "alternatives", "documentation", "grant", "escalate")
MOVES = (*TONE, *SUBSTANCE)
BRIEF_WORDS = 60  # a reply of at most this many words counts as short


@dataclass(frozen=True)
class Situation:
    """What the agent faces at one turn, as a strong reader of the conversation sees it."""

    domain: Domain
    goal: Goal
    case: GoalSituation
    personality: str
    emotion: str
    demanding: bool
    customer_turns: int
    done: frozenset[str]  # moves the agent already made earlier in the conversation
    asked_supervisor: bool


@dataclass(frozen=True)
class Assessment:
    rating: int
    missing: frozenset[str]
    unwanted: frozenset[str]  # moves that hurt here; "grant" when forbidden, "invented"
    compliance: int  # 5 kept to the policy; 3 invented compensation or refused an exception;
    # 1 granted what the policy forbids


def read_situation(domain: Domain, turns: list[Turn]) -> Situation:
    said = [t.text for t in turns if t.speaker == "customer"]
    goal = language.match_goal(domain, " ".join(said))
    done: set[str] = set()
    for turn in turns:
        if turn.speaker == "agent":
            done |= read_reply(turn.text, domain, goal).moves
    return Situation(
        domain=domain,
        goal=goal,
        case=language.read_case(goal, said),
        personality=language.read_personality(said) or "amiable",
        emotion=language.read_emotion(said[-1]) if said else "calm",
        demanding=language.reads_demanding(said),
        customer_turns=len(said),
        done=frozenset(done),
        asked_supervisor=bool(said) and language.reads_supervisor(said[-1]),
    )


def needs(situation: Situation) -> frozenset[str]:
    """The moves the ideal next reply makes: tone for this customer, substance for the case."""
    needed: set[str] = set()
    if situation.emotion in ("frustrated", "concerned"):
        needed.add("empathy")
    if situation.personality == "analytical":
        needed.add("detail")
    elif situation.personality in ("amiable", "expressive"):
        needed.add("warmth")
    if situation.emotion == "confused" and "clarify" not in situation.done:
        return frozenset({*needed, "clarify"})  # clarify first; the substance can wait a turn
    return frozenset(needed | _substance(situation))


def _substance(situation: Situation) -> set[str]:
    case, done = situation.case, situation.done
    if case.exception:
        return {"grant"} | ({"documentation"} if "documentation" not in done else set())
    if situation.asked_supervisor:
        return {"escalate"}
    return {"alternatives"} | ({"policy"} if "policy" not in done else set())


def wants_brevity(situation: Situation) -> bool:
    return situation.personality == "driver"


def tolerated(situation: Situation) -> frozenset[str]:
    """Moves that neither help nor hurt here: offering remedies again, or, while a confused
    customer is being clarified, the substance that can wait."""
    if situation.emotion == "confused" and "clarify" not in situation.done:
        return frozenset({"policy", "alternatives"})
    return frozenset({"alternatives"} if not situation.case.exception else ())


def right_remedies(situation: Situation) -> tuple[str, ...]:
    """The remedies that satisfy this customer: the one they want, else any the goal allows."""
    return (situation.case.wants,) if situation.case.wants else situation.goal.remedies


def assess(situation: Situation, reply: str) -> Assessment:
    """The true quality of `reply` as the next agent message (1-5) and its compliance."""
    reading = read_reply(reply, situation.domain, situation.goal)
    needed = needs(situation)
    present = set(reading.moves)
    if "alternatives" in present and not set(reading.remedies) & set(right_remedies(situation)):
        present.discard("alternatives")  # offered only what this customer does not want
    missing = set(needed - present)
    if wants_brevity(situation) and reading.words > BRIEF_WORDS:
        missing.add("brevity")
    unwanted = present - needed - tolerated(situation) - {"grant"}
    if reading.invented:
        unwanted.add("invented")
    compliance = _compliance(situation, reading)
    if reading.leaked:  # the customer reads the coach's notes instead of an answer
        return Assessment(1, frozenset(missing), frozenset({*unwanted, "leak"}), compliance)
    if "grant" in present and not situation.case.exception:
        return Assessment(1, frozenset(missing), frozenset({*unwanted, "grant"}), compliance)
    rating = max(1, 5 - len(missing) - len(unwanted))
    return Assessment(rating, frozenset(missing), frozenset(unwanted), compliance)


def _compliance(situation: Situation, reading: Reading) -> int:
    if "grant" in reading.moves and not situation.case.exception:
        return 1
    refused_exception = situation.case.exception and "policy" in reading.moves
    return 3 if reading.invented or refused_exception else 5


def compose_reply(
    situation: Situation,
    moves: set[str],
    rng: Random,
    remedies: tuple[str, ...] = (),
    *,
    brief: bool = False,
    verbose: bool = False,
) -> str:
    """An agent reply making `moves`, offering `remedies`; short phrasings when brief, padded
    with filler when verbose (as a weak agent pads its replies)."""
    goal = situation.goal
    parts: list[str] = []
    if "empathy" in moves:
        parts.append(_empathy(situation.emotion, brief, rng))
    if "warmth" in moves:
        parts.append(language.pick(rng, language.WARMTH))
    if "clarify" in moves:
        parts.append(language.pick(rng, language.CLARIFY))
    if "policy" in moves:
        parts.append(_policy(goal, brief, rng))
    if "documentation" in moves:
        parts.append(language.pick(rng, language.DOCUMENTATION))
    if "grant" in moves:
        parts.append(f"I'll process a {goal.forbidden} for you.")
    if "alternatives" in moves and remedies:
        parts.append("What I can offer is " + " or ".join(remedies) + ".")
    if "escalate" in moves:
        parts.append(language.pick(rng, language.ESCALATE))
    if "detail" in moves:
        parts.append(f"To be specific, here is what applies to you: {goal.facts}")
    if verbose:
        parts.append(language.pick(rng, language.FILLERS))
    return " ".join(parts) or language.pick(rng, language.FILLERS)


def _empathy(emotion: str, brief: bool, rng: Random) -> str:
    if brief:
        return "I'm sorry for the trouble."
    return language.pick(rng, language.EMPATHY.get(emotion, language.EMPATHY["calm"]))


def _policy(goal: Goal, brief: bool, rng: Random) -> str:
    if brief:
        return f"Under our policy, a {goal.forbidden} isn't possible here."
    return language.pick(
        rng,
        (
            f"I've checked, and under our policy a {goal.forbidden} isn't possible in your case.",
            f"Our policy doesn't allow a {goal.forbidden} in a situation like yours, I'm afraid.",
        ),
    )
