"""`playbook demo`: learn a playbook for the airline example offline, then evaluate it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playbook.config import Config, load_config
from playbook.domain import persona_grid
from playbook.evaluate import (
    Rated,
    gap_closed,
    mean_score,
    rate_condition,
    student_alone,
    student_with_playbook,
    teacher,
)
from playbook.retrieve import Retriever, build_index
from playbook.runner import Reporter
from playbook.workspace import Workspace, example_domain, learn


def demo_config(out: Path) -> Config:
    config = load_config(example_domain("airline").with_name("playbook.toml"))
    return config.model_copy(update={"playbook": out.resolve() / "playbook.db"})


async def run_demo(out: Path, reporter: Reporter) -> dict[str, Any]:
    workspace = Workspace.open(demo_config(out))
    try:
        result = await learn(workspace, reporter)
        evaluation = await evaluate_demo(workspace, reporter)
        calls = workspace.store.call_stats(result.run_id)
        return {
            "playbook": str(workspace.config.playbook),
            "run": result.run_id,
            "entries": len(workspace.store.entries()),
            "calls": {role: stats.calls for role, stats in calls.items()},
            "cached_calls": sum(stats.cached for stats in calls.values()),
            "eval": evaluation,
        }
    finally:
        workspace.close()


async def evaluate_demo(workspace: Workspace, reporter: Reporter) -> dict[str, Any]:
    """Student alone, student with the playbook and teacher on the 32 held-out grid personas."""
    config = workspace.config
    run_id = workspace.store.start_run("eval", config.model_dump(mode="json"), workspace.models())
    roles = workspace.roles(workspace.recorder(run_id))
    index = await build_index(workspace.store, workspace.embedder)
    playbook = Retriever(index, workspace.embedder, config.retrieval.k, config.retrieval.floor)
    goal = workspace.domain.goal(config.learn.goals[0])
    personas = persona_grid(goal)
    used: set[int] = set()
    agents = {
        "student": student_alone(roles),
        "student_with_playbook": student_with_playbook(roles, playbook, used),
        "teacher": teacher(roles),
    }
    scores: dict[str, float] = {}
    for condition, agent in agents.items():
        rated: list[Rated] = await rate_condition(
            roles,
            condition,
            agent,
            personas,
            max_turns=config.learn.max_turns,
            concurrency=config.learn.concurrency,
            reporter=reporter,
        )
        scores[condition] = round(mean_score(rated), 3)
    gap = gap_closed(scores["student"], scores["student_with_playbook"], scores["teacher"])
    summary = {
        "personas": len(personas),
        **scores,
        "gap_closed": None if gap is None else round(gap, 3),
        "entries_used": len(used),
    }
    workspace.store.finish_run(run_id, "finished", summary)
    return summary
