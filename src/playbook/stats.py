"""Statistics of an evaluation: means with bootstrap intervals, paired comparisons, consistency.

Everything is seeded, so the same ratings always give the same numbers (the report, the JSON
and a recomputation from the database agree to the digit).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from playbook.evaluate import CONDITIONS
from playbook.types import Rated

Ratings = Sequence[float] | np.ndarray
GOOD = 3.0  # "good" on the 1-5 scale
RESAMPLES = 2000
SIGN_FLIPS = 10_000


@dataclass(frozen=True)
class Interval:
    mean: float
    ci_low: float
    ci_high: float
    n: int


def mean_interval(values: Ratings, seed: int = 0) -> Interval:
    """The mean with a percentile bootstrap 95% interval."""
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return Interval(float("nan"), float("nan"), float("nan"), 0)
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, data.size, (RESAMPLES, data.size))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return Interval(_r(data.mean()), _r(low), _r(high), int(data.size))


def paired_comparison(treated: Ratings, baseline: Ratings, seed: int = 0) -> dict[str, Any]:
    """Win/tie/loss per pair and a two-sided sign-flip permutation test of the mean difference."""
    diffs = np.asarray(treated, dtype=float) - np.asarray(baseline, dtype=float)
    if diffs.size == 0:
        return {"wins": 0, "ties": 0, "losses": 0, "mean_diff": None, "p_value": None}
    observed = abs(diffs.mean())
    signs = np.random.default_rng(seed).choice((-1.0, 1.0), (SIGN_FLIPS, diffs.size))
    extreme = np.count_nonzero(np.abs((signs * diffs).mean(axis=1)) >= observed - 1e-12)
    return {
        "wins": int((diffs > 0).sum()),
        "ties": int((diffs == 0).sum()),
        "losses": int((diffs < 0).sum()),
        "mean_diff": _r(diffs.mean()),
        "p_value": _r((extreme + 1) / (SIGN_FLIPS + 1)),
    }


def gap_closed(student: float, with_playbook: float, teacher: float) -> float | None:
    """(with playbook - student) / (teacher - student); None when the teacher is no better."""
    gap = teacher - student
    return _r((with_playbook - student) / gap) if gap > 0 else None


def consistency(rated: Iterable[Rated]) -> float:
    """Share of personas for which every sample's conversation reaches "good" or better."""
    by_persona: dict[str, list[float]] = defaultdict(list)
    for r in rated:
        by_persona[r.persona.id].append(r.score)
    if not by_persona:
        return float("nan")
    return _r(sum(min(s) >= GOOD for s in by_persona.values()) / len(by_persona))


def summarize(
    rated: Sequence[Rated],
    students: Sequence[str],
    trained_goals: set[str],
    sets: Mapping[str, Collection[str]] | None = None,
) -> dict[str, Any]:
    """The evaluation's numbers, per student and condition; JSON-ready. With named persona
    sets (learning, held out...), each set's numbers too, and "held_out": those of every set
    but "learning" together."""
    summary = {
        "students": {s: _student_summary(rated, s, trained_goals) for s in students},
        "personas": len({r.persona.id for r in rated}),
        "samples": len({r.sample for r in rated}),
        "goals": {
            "trained": sorted(trained_goals),
            "unseen": sorted({r.persona.goal for r in rated} - trained_goals),
        },
        "entries": entry_usage(rated),
    }
    if sets:
        held_out = {i for name, ids in sets.items() if name != "learning" for i in ids}
        named = {**sets, "held_out": held_out}
        summary["sets"] = {
            name: _set_summary(rated, students, trained_goals, set(ids))
            for name, ids in named.items()
            if ids
        }
    return summary


def _set_summary(
    rated: Sequence[Rated], students: Sequence[str], trained: set[str], ids: set[str]
) -> dict[str, Any]:
    subset = [r for r in rated if r.persona.id in ids]
    return {
        "personas": len(ids),
        "students": {s: _student_summary(subset, s, trained) for s in students},
    }


def rows_for(rated: Sequence[Rated], student: str, condition: str) -> list[Rated]:
    """The conversations of a condition for a student; the teacher's are shared by all."""
    if condition == "teacher":
        return [r for r in rated if r.condition == "teacher"]
    return [r for r in rated if r.condition == condition and r.student == student]


def _student_summary(rated: Sequence[Rated], student: str, trained: set[str]) -> dict[str, Any]:
    baseline = _by_key(rows_for(rated, student, "student"))
    summary: dict[str, Any] = {"conditions": {}}
    for condition in CONDITIONS:
        rows = rows_for(rated, student, condition)
        if rows:
            summary["conditions"][condition] = _condition_summary(rows, baseline, trained)
    means = {c: v["overall"]["mean"] for c, v in summary["conditions"].items()}
    summary["gap_closed"] = (
        gap_closed(means["student"], means["playbook"], means["teacher"])
        if {"student", "playbook", "teacher"} <= means.keys()
        else None
    )
    return summary


def _condition_summary(
    rows: list[Rated], baseline: dict[tuple[str, int], Rated], trained: set[str]
) -> dict[str, Any]:
    pairs = [
        (r.score, baseline[k].score) for r in rows if (k := (r.persona.id, r.sample)) in baseline
    ]
    unseen = [r.score for r in rows if r.persona.goal not in trained]
    return {
        "satisfaction": _interval([r.verdict.satisfaction.rating for r in rows]),
        "compliance": _interval([r.verdict.compliance.rating for r in rows]),
        "overall": _interval([r.score for r in rows]),
        "trained_goals": _interval([r.score for r in rows if r.persona.goal in trained]),
        "unseen_goals": _interval(unseen),
        "consistency": consistency(rows),
        "vs_student": paired_comparison([p[0] for p in pairs], [p[1] for p in pairs]),
    }


def _interval(values: Sequence[float]) -> dict[str, Any]:
    """A mean with its interval, JSON-ready: null figures (not NaN) when there is nothing."""
    if not values:
        return {"mean": None, "ci_low": None, "ci_high": None, "n": 0}
    return asdict(mean_interval(values))


def entry_usage(rated: Sequence[Rated]) -> list[dict[str, Any]]:
    """How often each entry was retrieved and how the conversations it took part in were rated."""
    scores: dict[int, list[float]] = defaultdict(list)
    for r in rated:
        for entry_id in r.entry_ids:
            scores[entry_id].append(r.score)
    return [
        {"id": entry_id, "conversations": len(s), "mean_rating": _r(float(np.mean(s)))}
        for entry_id, s in sorted(scores.items())
    ]


def _by_key(rows: list[Rated]) -> dict[tuple[str, int], Rated]:
    return {(r.persona.id, r.sample): r for r in rows}


def _r(value: float) -> float:
    return round(float(value), 4)
