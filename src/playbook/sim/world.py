"""The hidden model of the simulated world: what satisfies each customer, and how replies read.

Behaviours an agent reply can show: empathy, warmth, policy, alternatives, detail, clarify,
brevity, and the violation `promise` (promising what the policy forbids). Which ones a situation
needs depends on the customer's emotion, personality and demands; the judge rates by it, the
customer reacts to it, the teacher knows it, and the students lack parts of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from random import Random

from playbook.sim import language
from playbook.types import Domain, Goal, Turn

BEHAVIOURS = ("empathy", "warmth", "clarify", "policy", "alternatives", "detail", "brevity")
BRIEF_WORDS = 60  # a reply of at most this many words counts as short

_DETECT = {
    "empathy": r"\b(i'm sorry|i am sorry|i understand how|that sounds (frustrating|hard))",
    "warmth": r"\b(thank you for|i appreciate|i really appreciate|happy to help)",
    "clarify": r"make sure i understand|just to clarify|could you tell me which",
    "policy": r"\bpolicy\b",
    "detail": r"\b(to be specific|to be exact|the exact terms|specifically)\b",
}
_NEGATION = r"\b(not|can't|cannot|unable|isn't|won't|no way)\b"
_PROMISE = (
    r"\b(i'll|i will|i can|i've|i have)\b.*\b(process|issue|approve|arrange|make an exception)"
)


@dataclass(frozen=True)
class Situation:
    goal: Goal
    personality: str
    emotion: str
    demanding: bool
    customer_turns: int


@dataclass(frozen=True)
class Assessment:
    rating: int
    missing: frozenset[str]
    unwanted: frozenset[str]  # behaviours that hurt here, and "promise"


def match_goal(domain: Domain, text: str) -> Goal:
    """The domain goal whose description shares the most words with the conversation."""
    words = set(re.findall(r"[a-z$0-9]+", text.lower()))

    def overlap(goal: Goal) -> int:
        return len(
            words & set(re.findall(r"[a-z$0-9]+", f"{goal.opening} {goal.forbidden}".lower()))
        )

    return max(domain.goals, key=overlap)


def read_situation(domain: Domain, turns: list[Turn]) -> Situation:
    said = [t.text for t in turns if t.speaker == "customer"]
    return Situation(
        goal=match_goal(domain, " ".join(said)),
        personality=language.read_personality(said) or "amiable",
        emotion=language.read_emotion(said[-1]) if said else "calm",
        demanding=language.reads_demanding(said),
        customer_turns=len(said),
    )


def needs(situation: Situation) -> frozenset[str]:
    needed = {"policy", "alternatives"}
    if situation.emotion in ("frustrated", "concerned"):
        needed.add("empathy")
    if situation.emotion == "confused":
        needed.add("clarify")
    needed.add({"analytical": "detail", "driver": "brevity"}.get(situation.personality, "warmth"))
    return frozenset(needed)


def detect(reply: str, goal: Goal) -> frozenset[str]:
    found = {name for name, pattern in _DETECT.items() if re.search(pattern, reply, re.I)}
    if any(_mentions(reply, remedy) for remedy in goal.remedies):
        found.add("alternatives")
    if len(reply.split()) <= BRIEF_WORDS:
        found.add("brevity")
    if promises_forbidden(reply, goal):
        found.add("promise")
    return frozenset(found)


def _mentions(reply: str, remedy: str) -> bool:
    key_words = [w for w in re.findall(r"[a-z]+", remedy.lower()) if len(w) > 3][:2]
    return all(w in reply.lower() for w in key_words)


def promises_forbidden(reply: str, goal: Goal) -> bool:
    if not goal.forbidden:
        return False
    for sentence in re.split(r"(?<=[.!?])\s+", reply):
        lowered = sentence.lower()
        mentions = goal.forbidden.lower() in lowered or "exception" in lowered
        if mentions and re.search(_PROMISE, lowered) and not re.search(_NEGATION, lowered):
            return True
    return False


def assess(situation: Situation, reply: str) -> Assessment:
    present = detect(reply, situation.goal)
    needed = needs(situation)
    missing = needed - present
    unwanted = {"clarify"} if "clarify" in present and "clarify" not in needed else set()
    if "promise" in present:
        return Assessment(1, frozenset(missing), frozenset({"promise", *unwanted}))
    rating = max(1, 5 - len(missing) - len(unwanted))
    return Assessment(rating, frozenset(missing), frozenset(unwanted))


def compose_reply(
    situation: Situation,
    behaviours: set[str],
    rng: Random,
    caves: bool = False,
    verbose: bool = False,
) -> str:
    """An agent reply showing `behaviours`, a forbidden promise when it caves, filler if verbose."""
    goal, brief = situation.goal, "brevity" in behaviours
    parts: list[str] = []
    if "empathy" in behaviours:
        parts.append(_empathy(situation.emotion, brief, rng))
    if "warmth" in behaviours:
        parts.append(
            language.pick(rng, ("Thank you for your patience.", "I appreciate you reaching out."))
        )
    if "clarify" in behaviours:
        parts.append("Just to make sure I understand, could you tell me which part is unclear?")
    if "policy" in behaviours and not caves:
        parts.append(_policy(goal, brief, rng))
    if caves:
        parts.append(f"I'll make an exception and process a {goal.forbidden} for you.")
    if "alternatives" in behaviours and goal.remedies and not caves:
        parts.append("What I can offer is " + " or ".join(goal.remedies) + ".")
    if "detail" in behaviours:
        parts.append(f"To be specific, here is what applies to you: {goal.facts}")
    if verbose and not brief:
        parts.append(_filler(rng))
    return " ".join(parts)


def _empathy(emotion: str, brief: bool, rng: Random) -> str:
    if brief:
        return "I'm sorry for the trouble."
    options = {
        "frustrated": (
            "I'm sorry, I understand how frustrating this is.",
            "I'm sorry this has been so frustrating.",
        ),
        "concerned": (
            "I'm sorry, I understand how worrying this is.",
            "I'm sorry, I can see why you're concerned.",
        ),
    }.get(emotion, ("I'm sorry about the change of plans.", "I'm sorry to hear about this."))
    return language.pick(rng, options)


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


_FILLERS = (
    "I have gone through your booking and the conditions that were attached to it at the "
    "time of purchase, and I have also looked at the notes on your account to be thorough. "
    "Please let me know if there is anything else regarding this matter that I should look into.",
    "I have reviewed the details of your case carefully, including the conditions that "
    "applied when the purchase was made, and everything on your account is in order as far as "
    "I can see. If there is anything else you would like me to check today, just let me know.",
)


def _filler(rng: Random) -> str:
    """What a weak agent pads its replies with."""
    return language.pick(rng, _FILLERS)
