"""Which grid personas learning sees, and which evaluation holds out: held-out means unseen.

Of each learned goal's grid (and of each of its situations' personas) a seeded share of cells
is held out; whole situations can be held out too; goals learning never used are unseen goals.
Evaluation reports each set apart, and its headline is the held-out one.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from playbook.domain import persona_grid, situation_personas
from playbook.types import Domain, Goal, Persona

SETS = ("learning", "held_out_cells", "held_out_situations", "unseen_goals")
HELD_OUT = SETS[1:]


@dataclass(frozen=True)
class PersonaSplit:
    learning: tuple[Persona, ...]
    held_out_cells: tuple[Persona, ...]
    held_out_situations: tuple[Persona, ...]
    unseen_goals: tuple[Persona, ...]

    def sets(self) -> dict[str, tuple[Persona, ...]]:
        return {name: getattr(self, name) for name in SETS}

    def held_out(self) -> tuple[Persona, ...]:
        return self.held_out_cells + self.held_out_situations + self.unseen_goals

    def all(self) -> tuple[Persona, ...]:
        return self.learning + self.held_out()


def split_personas(
    domain: Domain,
    goals: Sequence[str],
    held_out: float,
    held_out_situations: Sequence[str] = (),
    seed: int = 0,
) -> PersonaSplit:
    """The split for learning on `goals` (all goals when empty)."""
    named = {g.name: g for g in domain.goals}
    # A config used with another domain (transfer) names goals that domain lacks: all goals.
    learned = [named[name] for name in goals if name in named] or list(domain.goals)
    # A situation name the domain lacks holds nothing out (a config used with another domain).
    learning: list[Persona] = []
    cells: list[Persona] = []
    situations: list[Persona] = []
    for goal in learned:
        for group, whole in _groups(goal, held_out_situations):
            if whole:
                situations += group
                continue
            kept, held = _hold_out(group, held_out, random.Random(f"{seed}|{group[0].id}"))
            learning += kept
            cells += held
    unseen = [p for g in domain.goals if g not in learned for p in _every_persona(g)]
    return PersonaSplit(tuple(learning), tuple(cells), tuple(situations), tuple(unseen))


def _groups(goal: Goal, held: Sequence[str]) -> list[tuple[list[Persona], bool]]:
    groups = [(persona_grid(goal), False)]
    groups += [(situation_personas(goal, s), s.name in held) for s in goal.situations]
    return groups


def _every_persona(goal: Goal) -> list[Persona]:
    return [p for group, _ in _groups(goal, ()) for p in group]


def _hold_out(
    group: list[Persona], share: float, rng: random.Random
) -> tuple[list[Persona], list[Persona]]:
    held_ids = {p.id for p in rng.sample(group, round(len(group) * share))}
    return [p for p in group if p.id not in held_ids], [p for p in group if p.id in held_ids]
