"""Fake learners as controls: if one of them comes close to the real loop, the world measures
nothing. Each is evaluated like the real playbook, on the same held-out personas and seeds.

F1-F3 run the whole learning loop with a fake teacher (same rounds, attempts and samples):
F1 writes one constant list, F2 random guideline templates, F3 every behaviour at once.
F4-F8 change the real playbook or replace it: F4 the union of its guidelines as one fixed list,
F5 its guidelines shuffled across entries, F6 a playbook learned for another goal, F7 every
entry at once (k = all), F8 guidance granting what the policy forbids.

Beside them, a reference point no learner reaches: the real playbook's scenarios with ideal
guidance (what the simulated world's hidden model says each needs, in the student's words:
sim.ideal), retrieved by the same method, with k = 1 and with k = all, and written for each
conversation itself. It tells what the real guidance could be worth with the same scenarios and
retrieval, how much dumping even such entries whole (k = all) costs, and what retrieval costs.
"""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from playbook.config import Config
from playbook.evaluate import Condition
from playbook.index import Index
from playbook.retrieve import Retriever
from playbook.roles import Roles
from playbook.stats import gap_closed, mean_interval, paired_comparison
from playbook.store.core import Store
from playbook.types import Entry, Persona, Rated, Turn

BOUNDS = ("student", "teacher")  # the gap a playbook closes lies between them
FAKE_TEACHERS = {"F1": "sim:teacher-constant", "F2": "sim:teacher-random", "F3": "sim:teacher-all"}
NAMES = {
    "F1": "a teacher writing one constant list",
    "F2": "a teacher writing random guideline templates",
    "F3": "a teacher writing every behaviour at once",
    "F4": "the union of the real playbook's guidelines as one fixed list",
    "F5": "the real playbook with guidelines shuffled across entries",
    "F6": "a playbook learned for another goal",
    "F7": "the real playbook with k = all",
    "F8": "guidance granting what the policy forbids",
    "ideal": "the real playbook's scenarios with ideal guidance (a reference point)",
    "ideal_k_all": "the same ideal entries with k = all",
    "ideal_per_turn": "ideal guidance for each conversation itself, no retrieval",
}


def fake_teacher_config(config: Config, control: str, folder: Path) -> Config:
    """The demo's config with the teacher's guideline writing faked, in a playbook of its own."""
    models = dict(config.models)
    models["teacher"] = models["teacher"].model_copy(update={"spec": FAKE_TEACHERS[control]})
    return config.model_copy(update={"models": models, "playbook": folder / f"{control}.db"})


def other_goal_config(config: Config, goal: str, folder: Path) -> Config:
    learn = config.learn.model_copy(update={"goals": (goal,)})
    return config.model_copy(update={"learn": learn, "playbook": folder / "F6.db"})


def stored(store: Store, embedder_id: str, max_round: int | None = None) -> tuple[list[Entry], Any]:
    """The proposed entries of a playbook and their vectors (of rounds up to `max_round`)."""
    entries, matrix = store.entry_vectors(embedder_id, statuses=("proposed", "approved"))
    keep = [
        i for i, e in enumerate(entries) if max_round is None or e.provenance.round <= max_round
    ]
    return [entries[i] for i in keep], matrix[keep] if len(keep) else matrix[:0]


def shuffled(entries: list[Entry], seed: int) -> list[Entry]:
    """F5: the same scenarios, each with another entry's guidance."""
    guidance = [e.guidance for e in entries]
    random.Random(seed).shuffle(guidance)
    return [dataclasses.replace(e, guidance=g) for e, g in zip(entries, guidance, strict=True)]


def rewritten(
    entries: list[Entry], write: Callable[[tuple[Turn, ...]], tuple[str, ...]]
) -> list[Entry]:
    """The same scenarios, each with the guidance `write` gives its conversation."""
    return [dataclasses.replace(e, guidance=write(e.scenario.turns)) for e in entries]


def union_of_guidelines(entries: Sequence[Entry]) -> tuple[str, ...]:
    """F4: every distinct guideline of the playbook, the most used first."""
    counts = Counter(line for e in entries for line in e.guidance)
    return tuple(line for line, _ in counts.most_common())


def granting(roles: Roles, goal: str) -> tuple[str, ...]:
    """F8: what a careless or poisoned teacher might write."""
    forbidden = roles.domain.goal(goal).forbidden
    return (f"Offer a {forbidden} when the customer insists.", "Acknowledge how they feel.")


def retrieving(name: str, roles: Roles, retriever: Retriever) -> Condition:
    async def reply(turns: tuple[Turn, ...], seed: int, used: set[int]) -> str:
        return await roles.student_reply(turns, (await retriever.retrieve(turns)).guidance, seed)

    return Condition(name, reply)


def fixed(name: str, roles: Roles, guidance: tuple[str, ...]) -> Condition:
    return written(name, roles, lambda turns: guidance)


def written(
    name: str, roles: Roles, write: Callable[[tuple[Turn, ...]], tuple[str, ...]]
) -> Condition:
    """The student given, at each turn, the guidance `write` gives the conversation so far."""

    async def reply(turns: tuple[Turn, ...], seed: int, used: set[int]) -> str:
        return await roles.student_reply(turns, write(turns), seed)

    return Condition(name, reply)


def retriever_over(
    entries: list[Entry], matrix: np.ndarray, like: Retriever, k: int | None = None
) -> Retriever:
    """`like` over other entries; with `k`, that many of them and no floor (F7: k = all)."""
    index = Index(entries, matrix, like.embedder.sparse)
    if k is None:
        return like.with_index(index)
    return like.with_index(index, like.settings.model_copy(update={"k": k, "floor": -1.0}))


def compare(
    control: Sequence[Rated], ratings: np.ndarray, real: np.ndarray, student: float, teacher: float
) -> dict[str, Any]:
    """A control's numbers: its rows, and their ratings and the real playbook's of the same
    pairs (`aligned`); the paired intervals are `contrasts`'."""
    mean = float(ratings.mean())
    return {
        "mean": round(mean, 4),
        "compliance": round(float(np.mean([r.verdict.compliance.rating for r in control])), 4),
        "gap_closed": gap_closed(student, mean, teacher),
        "vs_real": paired_comparison(ratings, real),
    }


def contrasts(ratings: Mapping[str, np.ndarray]) -> dict[str, dict[str, Any]]:
    """From every condition's ratings of the same pairs ("real", the controls, "real_round_1",
    "F1_round_1"): the real playbook's paired advantage over each other condition, what the
    rounds after the first gain the real loop and F1 (whose teacher writes one list), and how
    much more the real loop gains than F1, pair by pair. Means with their 95% intervals."""
    real = ratings["real"]
    out = {
        name: {"real_minus_control": _interval(real - other)}
        for name, other in ratings.items()
        if name != "real"
    }
    out["real"] = {}
    rounds = {name: ratings[name] - ratings[f"{name}_round_1"] for name in ("real", "F1")}
    for name, gains in rounds.items():
        out[name]["gain_from_round_1"] = _interval(gains)
    out["real"]["gain_beyond_F1"] = _interval(rounds["real"] - rounds["F1"])
    return out


def lead(first: Mapping[str, Any], second: Mapping[str, Any]) -> float | None:
    """How much more of the gap the first condition closes than the second (None when a gap is
    not defined: the teacher no better than the student)."""
    if first["gap_closed"] is None or second["gap_closed"] is None:
        return None
    return round(first["gap_closed"] - second["gap_closed"], 4)


def pair_keys(rows: Sequence[Rated]) -> list[list[Any]]:
    """[persona id, sample] of each row: the order of every condition's `scores`."""
    return [[r.persona.id, r.sample] for r in rows]


def aligned(rows: Sequence[Rated], keys: Sequence[Sequence[Any]]) -> np.ndarray:
    """The rows' ratings in the order of `keys` (pair_keys); every pair must be rated."""
    by_pair = {(r.persona.id, r.sample): r.score for r in rows}
    missing = [key for key in keys if tuple(key) not in by_pair]
    if missing:
        raise ValueError(f"{len(missing)} pairs are not rated, e.g. {missing[0]}")
    return np.asarray([by_pair[(persona, sample)] for persona, sample in keys], dtype=float)


def pooled(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The controls of several runs (the demo's `controls` with different learn seeds) as one
    sample of every run's pairs: each condition's mean and gap closed, and the `contrasts`. The
    intervals treat the pairs as independent, though the pairs of one run share its playbook
    (and its split of the personas): they are narrower than a run-to-run interval."""
    if not runs:
        raise ValueError("no runs to pool")
    names = [name for name, figures in runs[0].items() if isinstance(figures, dict)]
    if lacking := sorted({name for run in runs for name in names if name not in run}):
        raise ValueError(f"not every run has the conditions {', '.join(lacking)}")
    ratings = {name: np.concatenate([run[name]["scores"] for run in runs]) for name in names}
    real = [run["real"] for run in runs]
    weights = [len(r["scores"]) for r in real]
    student, teacher = (float(np.average([r[c] for r in real], weights=weights)) for c in BOUNDS)
    out: dict[str, Any] = {"runs": len(runs), "pairs": len(ratings["real"])}
    for name, values in ratings.items():
        mean = float(values.mean())
        out[name] = {"mean": round(mean, 4), "gap_closed": gap_closed(student, mean, teacher)}
    for name, figures in contrasts(ratings).items():
        out[name].update(figures)
    return out


def by_situation(
    real: Sequence[Rated], control: Sequence[Rated], name_of: Callable[[Persona], str]
) -> dict[str, dict[str, float | int | None]]:
    """The real playbook's and the control's mean rating per situation (e.g. documented
    emergencies), on the same personas and seeds: where a control wins or loses."""
    names = sorted({name_of(r.persona) for r in real})
    return {
        name: {
            "personas": len({r.persona.id for r in real if name_of(r.persona) == name}),
            "real": _mean_score([r for r in real if name_of(r.persona) == name]),
            "control": _mean_score([r for r in control if name_of(r.persona) == name]),
        }
        for name in names
    }


def _mean_score(rows: Sequence[Rated]) -> float | None:
    return round(float(np.mean([r.score for r in rows])), 4) if rows else None


def _interval(values: np.ndarray) -> dict[str, Any]:
    return dataclasses.asdict(mean_interval(values))
