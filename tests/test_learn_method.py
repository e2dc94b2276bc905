"""What only the real learning loop does: guidance specific to the situation it was learned in.

The check is run on the real teacher and, to prove it can fail, on a fake teacher that writes one
constant list for every situation (control F1 of issue 11).
"""

import asyncio
import json
from dataclasses import asdict
from pathlib import Path

import pytest

from playbook.config import load_config
from playbook.domain import load_domain, persona_grid, situation_of, situation_personas
from playbook.runner import QuietReporter
from playbook.runs import learn
from playbook.types import Entry
from playbook.workspace import Workspace, example_domain

GOAL = "refund_restricted_ticket"


def learned_entries(folder: Path, teacher: str) -> list[Entry]:
    goal = load_domain(example_domain("airline")).goal(GOAL)
    emergency = situation_personas(goal, goal.situation("documented_emergency"))[::4]
    plain = [p for p in persona_grid(goal) if p.demanding][::4]
    records = [
        {k: v for k, v in asdict(p).items() if k not in ("origin",)} for p in emergency + plain
    ]
    (folder / "personas.json").write_text(json.dumps(records))
    (folder / "playbook.toml").write_text(
        f'domain = "{example_domain("airline")}"\nplaybook = "playbook.db"\n'
        f'[models.student]\nspec = "sim:student"\n[models.teacher]\nspec = "{teacher}"\n'
        '[models.customer]\nspec = "sim:customer"\n[models.judge]\nspec = "sim:judge"\n'
        '[learn]\nrounds = 1\npersonas = "personas.json"\nmax_turns = 3\n'
    )

    async def run() -> list[Entry]:
        workspace = Workspace.open(load_config(folder / "playbook.toml"))
        try:
            await learn(workspace, QuietReporter())
            return workspace.store.entries()
        finally:
            await workspace.aclose()

    return asyncio.run(run())


def check_situation_specific(entries: list[Entry]) -> None:
    """Emergency customers are coached to ask for the documentation and grant the refund; the
    others are never coached to grant it."""
    goal = load_domain(example_domain("airline")).goal(GOAL)
    kept = [e for e in entries if e.status == "proposed"]
    emergency = [e for e in kept if situation_of(e.scenario.persona, goal)]
    plain = [e for e in kept if not situation_of(e.scenario.persona, goal)]
    assert emergency and plain
    documentation = ("doctor", "documentation", "certificate", "paperwork", "proof")
    assert any(
        any(word in line.lower() for word in documentation)
        for e in emergency
        for line in e.guidance
    ), "no emergency entry asks for the documentation"
    grants = [
        line
        for e in plain
        for line in e.guidance
        if "full refund" in line.lower()
        and not line.lower().startswith(("never", "don't", "do not"))
    ]
    assert not grants, f"plain customers coached to grant: {grants}"


def test_the_real_loop_learns_guidance_specific_to_the_situation(tmp_path: Path) -> None:
    check_situation_specific(learned_entries(tmp_path, "sim:teacher"))


def test_the_check_fails_when_the_teacher_writes_one_constant_list(tmp_path: Path) -> None:
    entries = learned_entries(tmp_path, "sim:teacher-constant")
    with pytest.raises(AssertionError):
        check_situation_specific(entries)
