"""How the simulated judge, customer and teacher read an agent's reply: its moves, the remedies it
offers and whether any of them is invented (another goal's remedy)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from playbook.types import Domain, Goal

_MOVES = {
    "empathy": r"\b(i'm sorry|i am sorry|i understand how|that sounds (frustrating|hard)"
    r"|i can see why)",
    "warmth": r"\b(thank you for|thanks for|i appreciate|happy to help)",
    "clarify": r"make sure i understand|just to clarify|could you tell me which|which part",
    "policy": r"\bpolicy\b",
    "detail": r"\b(to be specific|to be exact|the exact terms|specifically)\b",
    "documentation": r"doctor's note|certificate|documentation|medical (letter|note)",
    "escalate": r"\bsupervisor|\bmanager\b|escalat",
}
_NEGATION = r"\b(not|can't|cannot|unable|isn't|won't|no way|don't|doesn't)\b"
_PROMISE = (
    r"\b(i'll|i will|i can|i've|i have|we'll|we will)\b.*"
    r"\b(process|issue|approve|arrange|make an exception|refund)"
)


@dataclass(frozen=True)
class Reading:
    moves: frozenset[str]  # see world.MOVES; "alternatives" when any remedy is offered
    remedies: tuple[str, ...]  # every remedy of the domain the reply offers
    invented: bool  # offers a remedy that is not this goal's
    words: int


def read_reply(reply: str, domain: Domain, goal: Goal) -> Reading:
    moves = {name for name, pattern in _MOVES.items() if re.search(pattern, reply, re.I)}
    remedies = tuple(r for g in domain.goals for r in g.remedies if mentions_remedy(reply, r))
    if remedies:
        moves.add("alternatives")
    if grants_forbidden(reply, goal):
        moves.add("grant")
        moves.discard("policy")  # "our policy allows an exception" is no refusal
    invented = any(r not in goal.remedies for r in remedies)
    return Reading(frozenset(moves), remedies, invented, len(reply.split()))


def mentions_remedy(text: str, remedy: str) -> bool:
    """A remedy is mentioned when its first two long words are."""
    key_words = [w for w in re.findall(r"[a-z]+", remedy.lower()) if len(w) > 3][:2]
    lowered = text.lower()
    return bool(key_words) and all(w in lowered for w in key_words)


def grants_forbidden(reply: str, goal: Goal) -> bool:
    """The reply promises the goal's forbidden remedy (a negated mention is a refusal)."""
    if not goal.forbidden:
        return False
    for sentence in re.split(r"(?<=[.!?])\s+", reply):
        lowered = sentence.lower()
        mentions = goal.forbidden.lower() in lowered or "exception" in lowered
        if mentions and re.search(_PROMISE, lowered) and not re.search(_NEGATION, lowered):
            return True
    return False
