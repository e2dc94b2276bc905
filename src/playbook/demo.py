"""`playbook demo`: learn a playbook for the airline example offline, then evaluate it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playbook.config import Config, load_config
from playbook.domain import persona_grid
from playbook.report import write_report
from playbook.runner import Reporter
from playbook.workspace import EvalPlan, Workspace, evaluate, example_domain, learn


def demo_config(out: Path) -> Config:
    config = load_config(example_domain("airline").with_name("playbook.toml"))
    return config.model_copy(update={"playbook": out.resolve() / "playbook.db"})


async def run_demo(out: Path, reporter: Reporter) -> dict[str, Any]:
    """Learn, then evaluate on the learned goal's 32 grid personas; write the report."""
    workspace = Workspace.open(demo_config(out))
    try:
        result = await learn(workspace, reporter)
        goal = workspace.domain.goal(workspace.config.learn.goals[0])
        plan = EvalPlan(personas=tuple(persona_grid(goal)))
        summary, rated = await evaluate(workspace, plan, reporter)
        report = write_report(out.resolve() / "report", summary, rated)
        calls = workspace.store.call_stats(result.run_id)
        return {
            "playbook": str(workspace.config.playbook),
            "run": result.run_id,
            "entries": len(workspace.store.entries()),
            "calls": {role: stats.calls for role, stats in calls.items()},
            "cached_calls": sum(stats.cached for stats in calls.values()),
            "eval": _headline(summary),
            "report": str(report),
        }
    finally:
        await workspace.aclose()


def _headline(summary: dict[str, Any]) -> dict[str, Any]:
    """The demo's figures: mean overall rating per condition of the one student."""
    (result,) = summary["students"].values()
    means = {c: n["overall"]["mean"] for c, n in result["conditions"].items()}
    return {
        "personas": summary["personas"],
        "student": means["student"],
        "generic": means["generic"],
        "responses": means["responses"],
        "student_with_playbook": means["playbook"],
        "teacher": means["teacher"],
        "gap_closed": result["gap_closed"],
    }
