"""Ideal guidance: the lessons the simulated world's hidden model says a conversation's next reply
needs, in words the demo's weak student (sim:student) understands and within its attention.

The teacher knows what a customer needs too (its reference reply is written from the same
model), but a learner only sees the contrast of two replies through a noisy judge, writes in
phrasings the student may not understand, and serves a new conversation the guidance of a
similar one. Ideal guidance has none of those losses: it maps the situation straight to the
lessons, in the student's own words. The controls give it to the real playbook's scenarios,
retrieved the same way, as a reference point for what the real guidance could be worth. It is
not a proven best: its lessons are ordered by a rule (ORDER), not searched.
"""

from __future__ import annotations

from collections.abc import Sequence

from playbook.sim import world
from playbook.sim.coach import ATTENTION, phrasing
from playbook.sim.models import NATIVE
from playbook.types import Domain, Turn

# The costliest lessons first, as the student follows its first ATTENTION guidelines only:
# granting the forbidden thing rates a reply unacceptable, the case's substance comes next.
ORDER = (
    "firm",
    "grant",
    "documentation",
    "escalate",
    "no_policy",
    "alternatives",
    "clarify",
    "empathy",
    "warmth",
    "detail",
    "brevity",
)
# The phrasing of a lesson the student reads as that lesson alone is the first of each; for the
# grant the first also asks for the doctor's note, so it serves when both are needed.
GRANT_ALONE, GRANT_ON_DOCUMENTATION = 1, 0


def ideal_guidance(domain: Domain, turns: Sequence[Turn]) -> tuple[str, ...]:
    """What sim:student should be told for its reply to `turns`."""
    return guidance_for(world.read_situation(domain, list(turns)))


def guidance_for(situation: world.Situation) -> tuple[str, ...]:
    """What sim:student should be told in `situation`, as the hidden model reads it."""
    lessons, grant = _lessons(situation), GRANT_ALONE
    if {"grant", "documentation"} <= lessons:  # one line asks for the note and grants on it
        lessons.discard("documentation")
        grant = GRANT_ON_DOCUMENTATION
    remedies = world.right_remedies(situation)
    lines = [
        phrasing(lesson, grant if lesson == "grant" else 0, situation.goal, remedies)
        for lesson in ORDER
        if lesson in lessons
    ]
    return tuple(lines[:ATTENTION])


def _lessons(situation: world.Situation) -> set[str]:
    needed, native = world.needs(situation), NATIVE["student"]
    lessons = set(needed - native)
    lessons |= {f"no_{move}" for move in native - needed - world.tolerated(situation)}
    if situation.demanding and not situation.case.exception:
        lessons.add("firm")  # the demanding customer's pressure makes the student give in
    if world.wants_brevity(situation):
        lessons.add("brevity")
    return lessons
