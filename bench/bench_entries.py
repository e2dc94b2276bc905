"""How good is the guidance the loop learns, on the scenario it was learned for? Measured on the
simulated world, whose hidden model rates a reply truly (no judge noise).

It learns the airline example on its learning personas (as `playbook demo` does) once per
acceptance level (`[learn] accept`: the loop stops refining a scenario's guidance at that
rating), then replies to every kept entry's own scenario several times with the student alone,
with the entry's guidance, and with ideal guidance written from the hidden model
(playbook.sim.ideal: the lessons the scenario needs, in wordings the simulated student
understands, within the four lines it attends to; a reference point, not a proven best).
Also: the share of entries kept while the judge still rated the student below the teacher (their
best attempt's mean under "excellent"), and the calls learning made.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from bench_cost import FewPersonas, example_config, learning_main
from common import progress

from playbook.roles import Roles
from playbook.runner import QuietReporter
from playbook.runs import learn
from playbook.sim import world
from playbook.sim.ideal import ideal_guidance
from playbook.types import Entry, Turn

LEVELS = ("very good", "excellent")
SAMPLES = 8


async def true_rating(
    roles: Roles, read: world.Situation, turns: tuple[Turn, ...], guidance: Sequence[str]
) -> float:
    replies = [await roles.student_reply(turns, guidance, 1000 + s) for s in range(SAMPLES)]
    return float(np.mean([world.assess(read, reply).rating for reply in replies]))


async def measure(roles: Roles, entries: Sequence[Entry]) -> dict[str, Any]:
    rows = []
    for entry in entries:
        turns = tuple(entry.scenario.turns)
        read = world.read_situation(roles.domain, list(turns))
        rows.append(
            [
                await true_rating(roles, read, turns, ()),
                await true_rating(roles, read, turns, entry.guidance),
                await true_rating(roles, read, turns, ideal_guidance(roles.domain, turns)),
            ]
        )
    alone, learned, reference = np.mean(rows, axis=0) if rows else (0.0, 0.0, 0.0)
    below = [max(a.mean for a in e.provenance.attempts) < 5 for e in entries]
    return {
        "entries": len(entries),
        "student_alone": round(float(alone), 3),
        "learned_guidance": round(float(learned), 3),
        "ideal_guidance": round(float(reference), 3),
        "share_kept_below_excellent": round(float(np.mean(below)), 3) if below else 0.0,
    }


async def learned_at(accept: str, personas: int | None, rounds: int | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        config = example_config(Path(tmp) / "playbook.db", rounds)
        config = config.model_copy(
            update={"learn": config.learn.model_copy(update={"accept": accept})}
        )
        workspace = FewPersonas.open(config)
        workspace.limit = personas
        try:
            progress(f"entries: learning at accept = {accept!r}")
            result = await learn(workspace, QuietReporter())
            calls = workspace.store.call_stats(result.run_id)
            entries = workspace.store.entries(run_id=result.run_id, statuses=("proposed",))
            run_id = workspace.store.start_run("eval", {"bench": "entries"}, workspace.models())
            figures = await measure(workspace.roles(workspace.recorder(run_id)), entries)
            figures["learning_calls"] = {role: s.calls for role, s in sorted(calls.items())}
            return figures
        finally:
            workspace.close()


async def run(personas: int | None = None, rounds: int | None = None) -> dict[str, Any]:
    return {level: await learned_at(level, personas, rounds) for level in LEVELS}


def main() -> None:
    learning_main(__doc__, run)


if __name__ == "__main__":
    main()
