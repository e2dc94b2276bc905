"""Teacher-generated personas aimed at the student's weak spots, proposed between rounds.

The teacher is shown the scenarios on which the student, without guidance, was rated lowest, and
proposes new customers like them. A proposal whose description is too similar (cosine
similarity of embeddings) to a persona already in use, or to an earlier proposal, is dropped as
a near-duplicate. Every kept persona's `origin` records the teacher's reason and the scenarios it
was aimed at.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from playbook.dialogue import stable_seed
from playbook.embed import Embedder
from playbook.parse import ProposedPersona
from playbook.roles import Roles
from playbook.types import Persona, Scenario, Verdict

WEAK_SPOTS_SHOWN = 4  # enough variety for the teacher, short enough for its prompt


def weakest(rated: Sequence[tuple[Scenario, Verdict]]) -> list[tuple[Scenario, Verdict]]:
    """The lowest-rated scenarios, at most one per persona, so one customer does not fill them.

    Ties are broken by a stable hash of the persona id rather than alphabetically, so that equal
    ratings do not always favour the same kind of customer.
    """
    ordered = sorted(
        rated, key=lambda pair: (pair[1].rating, stable_seed(pair[0].persona.id), pair[0].text())
    )
    chosen: dict[str, tuple[Scenario, Verdict]] = {}
    for scenario, verdict in ordered:
        chosen.setdefault(scenario.persona.id, (scenario, verdict))
    return list(chosen.values())[:WEAK_SPOTS_SHOWN]


async def aimed_personas(
    roles: Roles,
    embedder: Embedder,
    rated: Sequence[tuple[Scenario, Verdict]],
    existing: Sequence[Persona],
    *,
    count: int,
    max_similarity: float,
    round_number: int,
) -> list[Persona]:
    """Up to `count` new personas aimed at the weakest of `rated`, none a near-duplicate."""
    weak = weakest(rated)
    if count < 1 or not weak:
        return []
    proposals = await roles.teacher_personas(weak, count)
    aimed_at = ", ".join(f"{s.persona.id} ({v.word})" for s, v in weak)
    candidates = [
        _persona(proposal, f"generated/r{round_number}-{number}", round_number, aimed_at)
        for number, proposal in enumerate(proposals[:count], 1)
    ]
    return await drop_near_duplicates(candidates, existing, embedder, max_similarity)


def _persona(proposal: ProposedPersona, persona_id: str, round_number: int, aimed: str) -> Persona:
    reason = proposal.reason or "no reason given"
    return Persona(
        id=persona_id,
        goal=proposal.goal,
        personality=proposal.personality,
        emotion=proposal.emotion,
        demanding=proposal.demanding,
        facts=proposal.facts,
        hidden_intentions=proposal.hidden_intentions,
        source="generated",
        situation=proposal.situation,
        origin=f"teacher, after round {round_number}, aimed at the lowest-rated scenarios of "
        f"{aimed}: {reason}",
    )


def describe(persona: Persona) -> str:
    """What makes two customers the same, as text to embed (facts are mostly the goal's)."""
    demanding = "demanding" if persona.demanding else "open to alternatives"
    return (
        f"goal {persona.goal}; {persona.personality}; {persona.emotion}; {demanding}. "
        f"{persona.situation} {persona.hidden_intentions}"
    )


async def drop_near_duplicates(
    candidates: Sequence[Persona],
    existing: Sequence[Persona],
    embedder: Embedder,
    max_similarity: float,
) -> list[Persona]:
    """The candidates, in order, less those at least `max_similarity` like an earlier persona."""
    if not candidates:
        return []
    vectors = await embedder.embed([describe(p) for p in [*existing, *candidates]])
    known = list(range(len(existing)))
    kept: list[Persona] = []
    for offset, candidate in enumerate(candidates):
        row = len(existing) + offset
        similarity = vectors[known] @ vectors[row] if known else np.zeros(0)
        if similarity.size and float(similarity.max()) >= max_similarity:
            continue
        known.append(row)
        kept.append(candidate)
    return kept
