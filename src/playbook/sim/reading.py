"""How the simulated judge, customer and teacher read an agent's reply: its moves, the remedies it
offers and whether any of them is invented (another goal's remedy).

One reader for every reply, the simulated students' and a real model's alike: the moves are the
behaviours the judge's rubric (sim/rubric.py, checked against labelled real SmolLM2 replies)
finds, with its "promise" of the forbidden thing read as the move "grant".
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from playbook.sim import rubric
from playbook.types import Domain, Goal


@dataclass(frozen=True)
class Reading:
    moves: frozenset[str]  # see world.MOVES; "alternatives" when any remedy is offered
    remedies: tuple[str, ...]  # every remedy of the domain the reply offers
    invented: bool  # offers a remedy that is not this goal's
    leaked: bool  # shows the customer the coach's guidelines (a small model echoes them)
    words: int


# The world reads every agent turn again at each later turn, and the customer and judge read it too.
@functools.lru_cache(maxsize=8192)
def read_reply(reply: str, domain: Domain, goal: Goal) -> Reading:
    others = [g for g in domain.goals if g != goal]
    found = rubric.detect(reply, goal, others)
    moves = set(found) - {"promise", "alternatives", "leak"}
    remedies = tuple(
        g.remedies[index]
        for g in domain.goals
        for index in sorted(rubric.offered_remedies(reply, g))
    )
    if remedies:
        moves.add("alternatives")
    if "promise" in found:
        moves.add("grant")
        moves.discard("policy")  # "our policy allows an exception" is no refusal
    invented = any(r not in goal.remedies for r in remedies)
    return Reading(frozenset(moves), remedies, invented, "leak" in found, len(reply.split()))


def mentions_remedy(text: str, remedy: str) -> bool:
    """A remedy is mentioned when its first two long words are (how the simulated student reads a
    guideline for the remedies it names)."""
    key_words = [w for w in re.findall(r"[a-z]+", remedy.lower()) if len(w) > 3][:2]
    lowered = text.lower()
    return bool(key_words) and all(w in lowered for w in key_words)
