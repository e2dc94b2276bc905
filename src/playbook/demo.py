"""`playbook demo`: learn a playbook for the airline example offline, then evaluate it on
personas learning never saw (and, with controls, against fake learners)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from playbook import controls as fake
from playbook.config import Config, load_config
from playbook.controls import (
    aligned,
    by_situation,
    compare,
    contrasts,
    lead,
    pair_keys,
    retriever_over,
    stored,
)
from playbook.domain import example_domain, situation_of
from playbook.errors import UserError
from playbook.evaluate import Condition, rate_condition
from playbook.index import Index
from playbook.report import write_report
from playbook.retrieve import Retriever
from playbook.roles import Roles
from playbook.runner import Reporter
from playbook.runs import EvalPlan, evaluate, learn, report_context, retriever_for, run_life
from playbook.sim.ideal import ideal_guidance
from playbook.split import SETS
from playbook.stats import gap_closed
from playbook.store.core import Store
from playbook.types import ROLES, Persona, Rated, Turn
from playbook.workspace import Workspace

# Conversations per persona in every evaluation (the controls' too): one conversation is a noisy
# draw of a stochastic student, customer and judge, and paired intervals narrow with more.
CONVERSATIONS = 3


def demo_config(out: Path, seed: int | None = None) -> Config:
    """The airline example's config, its playbook in `out`; learning seeded with `seed` if given."""
    config = load_config(example_domain("airline").with_name("playbook.toml"))
    update: dict[str, Any] = {"playbook": out.resolve() / "playbook.db"}
    if seed is not None:
        update["learn"] = config.learn.model_copy(update={"seed": seed})
    return config.model_copy(update=update)


async def run_demo(
    out: Path, reporter: Reporter, with_controls: bool = False, seed: int | None = None
) -> dict[str, Any]:
    """Learn on the learning personas, evaluate on every set; the headline is the held-out one.
    `seed` is learning's (the example's own when None): another seed splits the personas into
    learning and held-out ones anew and learns another playbook."""
    workspace = Workspace.open(demo_config(out, seed))
    try:
        _refuse_another_seed(workspace)
        result = await learn(workspace, reporter)
        summary, rated = await evaluate(workspace, EvalPlan(samples=CONVERSATIONS), reporter)
        # The calls of both runs: the demo is learning and evaluation.
        calls = [workspace.store.call_stats(run) for run in (result.run_id, summary["run"])]
        demo = {
            "playbook": str(workspace.config.playbook),
            "run": result.run_id,
            "learn_seed": workspace.config.learn.seed,
            "entries": len(workspace.store.entries()),
            "calls": {role: sum(c[role].calls for c in calls if role in c) for role in ROLES},
            "cached_calls": sum(stats.cached for c in calls for stats in c.values()),
            "eval": headline(summary),
        }
        if with_controls:
            demo["controls"] = await run_controls(workspace, rated, out.resolve(), reporter)
            summary["controls"] = demo["controls"]
        context = report_context(workspace, rated)
        demo["report"] = str(write_report(out.resolve() / "report", summary, rated, context))
        return demo
    finally:
        await workspace.aclose()


def _refuse_another_seed(workspace: Workspace) -> None:
    """A demo folder holds one learn seed's playbook: another seed's entries would coach (and
    their learning personas be evaluated as held out) beside this one's."""
    seed = workspace.config.learn.seed
    earlier = {
        run.config.get("learn", {}).get("seed", seed)
        for run in workspace.store.runs()
        if run.kind == "learn"
    }
    if earlier - {seed}:
        raise UserError(
            f"{workspace.config.playbook} was learned with learn seed "
            f"{', '.join(map(str, sorted(earlier)))}; run seed {seed} with another --out folder"
        )


def headline(summary: dict[str, Any]) -> dict[str, Any]:
    """Mean rating per condition on the held-out personas, and the same per persona set."""
    sets = summary["sets"]
    figures = {"held_out": _figures(sets["held_out"])}
    figures["sets"] = {name: _figures(sets[name]) for name in SETS if name in sets}
    return {**figures["held_out"], "sets": figures["sets"]}


def _figures(part: dict[str, Any]) -> dict[str, Any]:
    (result,) = part["students"].values()
    conditions = result["conditions"]
    return {
        "personas": part["personas"],
        **{c: n["overall"]["mean"] for c, n in conditions.items()},
        "satisfaction": {c: n["satisfaction"]["mean"] for c, n in conditions.items()},
        "compliance": {c: n["compliance"]["mean"] for c, n in conditions.items()},
        "gap_closed": result["gap_closed"],
    }


async def run_controls(
    workspace: Workspace, rated: list[Rated], folder: Path, reporter: Reporter
) -> dict[str, Any]:
    """F1-F8 on the learned goal's held-out cells and situations, paired with the real playbook
    (same personas, same seeds), plus the playbook after round 1 and F1's after round 1, and the
    reference point of ideal guidance for the real playbook's scenarios (controls.py)."""
    run_id = workspace.store.start_run("eval", {"controls": True}, workspace.models())
    with run_life(workspace.store, run_id):
        out = await _rate_controls(workspace, rated, folder, reporter, run_id)
    workspace.store.finish_run(run_id, "finished", {"controls": out})
    return out


async def _rate_controls(
    workspace: Workspace, rated: list[Rated], folder: Path, reporter: Reporter, run_id: str
) -> dict[str, Any]:
    split = workspace.split()
    personas = split.held_out_cells + split.held_out_situations
    ids = {p.id for p in personas}
    mine = [r for r in rated if r.persona.id in ids]
    means = {c: _mean([r for r in mine if r.condition == c]) for c in fake.BOUNDS}
    real_rows = [r for r in mine if r.condition == "playbook"]
    goal = workspace.domain.goal(workspace.config.learn.goals[0])

    def situation(persona: Persona) -> str:
        return situation_of(persona, goal) or "plain"

    roles = workspace.roles(workspace.recorder(run_id))
    real = await _retriever(workspace)
    conditions = await _control_conditions(workspace, roles, real, folder, reporter)
    keys = pair_keys(real_rows)
    ratings = {"real": aligned(real_rows, keys)}
    out: dict[str, Any] = {"personas": len(personas), "real": _real(ratings["real"], means, keys)}
    for condition in conditions:
        # the evaluation's own seeds, so that rows pair with the real playbook's
        rows = await rate_condition(
            roles,
            condition,
            personas,
            samples=CONVERSATIONS,
            max_turns=workspace.config.learn.max_turns,
            concurrency=workspace.config.learn.concurrency,
            reporter=reporter,
        )
        ratings[condition.name] = aligned(rows, keys)
        out[condition.name] = {
            **compare(rows, ratings[condition.name], ratings["real"], **means),
            "by_situation": by_situation(real_rows, rows, situation),
            "scores": ratings[condition.name].tolist(),
        }
    for name, figures in contrasts(ratings).items():
        out[name].update(figures)
    # What precise retrieval is worth over dumping every entry, for the real and ideal guidance.
    out["real"]["lead_over_F7"] = lead(out["real"], out["F7"])
    out["ideal"]["lead_over_k_all"] = lead(out["ideal"], out["ideal_k_all"])
    return out


def _real(ratings: np.ndarray, means: dict[str, float], keys: list[list[Any]]) -> dict[str, Any]:
    """The real playbook's figures, with the student alone's and the teacher's means (between
    which the gap is closed) and the pairs every condition's `scores` follow."""
    mean = round(float(ratings.mean()), 4)
    closed = gap_closed(means["student"], mean, means["teacher"])
    return {"mean": mean, "gap_closed": closed, **means, "pairs": keys, "scores": ratings.tolist()}


async def _control_conditions(
    workspace: Workspace, roles: Roles, real: Retriever, folder: Path, reporter: Reporter
) -> list[Condition]:
    entries, matrix = stored(workspace.store, workspace.embedder.id)
    goal = workspace.config.learn.goals[0]
    other = next(g.name for g in workspace.domain.goals if g.name != goal)
    configs = {
        name: fake.fake_teacher_config(workspace.config, name, folder)
        for name in fake.FAKE_TEACHERS
    }
    configs["F6"] = fake.other_goal_config(workspace.config, other, folder)
    learned = {name: await _learned(config, real, reporter) for name, config in configs.items()}
    conditions = [fake.retrieving(name, roles, r) for name, r in learned.items()]
    conditions += [
        fake.fixed("F4", roles, fake.union_of_guidelines(entries)),
        fake.retrieving("F5", roles, retriever_over(fake.shuffled(entries, 0), matrix, real)),
        fake.retrieving("F7", roles, retriever_over(entries, matrix, real, k=len(entries))),
        fake.fixed("F8", roles, fake.granting(roles, goal)),
    ]

    def write(turns: tuple[Turn, ...]) -> tuple[str, ...]:
        return ideal_guidance(workspace.domain, turns)

    ideal = fake.rewritten(entries, write)
    conditions += [
        fake.retrieving("ideal", roles, retriever_over(ideal, matrix, real)),
        fake.retrieving("ideal_k_all", roles, retriever_over(ideal, matrix, real, k=len(ideal))),
        fake.written("ideal_per_turn", roles, write),
    ]
    first, first_matrix = stored(workspace.store, workspace.embedder.id, max_round=1)
    conditions.append(
        fake.retrieving("real_round_1", roles, retriever_over(first, first_matrix, real))
    )
    with Store.open(configs["F1"].playbook) as f1:
        f1_first, f1_matrix = stored(f1, real.embedder.id, max_round=1)
    conditions.append(
        fake.retrieving("F1_round_1", roles, retriever_over(f1_first, f1_matrix, real))
    )
    return sorted(conditions, key=lambda c: c.name)


async def _learned(config: Config, like: Retriever, reporter: Reporter) -> Retriever:
    """Learn with `config` (a control), and `like` over what it learned: the control's own
    workspace, embedder included, is closed here."""
    control = Workspace.open(config)
    try:
        await learn(control, reporter)
        entries, matrix = stored(control.store, like.embedder.id)
    finally:
        await control.aclose()
    return retriever_over(entries, matrix, like)


async def _retriever(workspace: Workspace) -> Retriever:
    """The retriever over the workspace's playbook, fitted (the controls' copies share its fits)."""
    entries, matrix = stored(workspace.store, workspace.embedder.id)
    retriever = retriever_for(Index(entries, matrix, workspace.embedder.sparse), workspace)
    await retriever.prepare()
    return retriever


def _mean(rows: list[Rated]) -> float:
    return round(sum(r.score for r in rows) / len(rows), 4) if rows else float("nan")


__all__ = ["demo_config", "headline", "run_demo"]
