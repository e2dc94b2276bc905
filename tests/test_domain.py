"""Domains and personas load from files, and bad files are named with the field at fault."""

import json
from pathlib import Path

import pytest

from playbook.domain import DomainError, load_domain, load_personas, persona_grid
from playbook.workspace import example_domain


def test_examples_load_with_their_goals() -> None:
    airline = load_domain(example_domain("airline"))
    assert airline.goal("refund_restricted_ticket").remedies
    electronics = load_domain(example_domain("electronics"))
    assert electronics.company == "VoltMart Electronics"


def test_grid_has_32_distinct_personas_per_goal() -> None:
    goal = load_domain(example_domain("airline")).goals[0]
    grid = persona_grid(goal)
    assert len(grid) == 32
    assert len({(p.personality, p.emotion, p.demanding) for p in grid}) == 32


def test_missing_field_is_named(tmp_path: Path) -> None:
    path = tmp_path / "domain.toml"
    path.write_text('name = "x"\ncompany = "Y"\nagent_role = "agent"\ngeneric_guidance = []\n')
    with pytest.raises(DomainError, match=r"policy: Field required"):
        load_domain(path)


def test_personas_file_names_the_bad_record(tmp_path: Path) -> None:
    domain = load_domain(example_domain("airline"))
    good = {
        "id": "a",
        "goal": "refund_restricted_ticket",
        "personality": "driver",
        "emotion": "calm",
        "demanding": True,
    }
    path = tmp_path / "personas.json"
    path.write_text(json.dumps([good, {**good, "id": "b", "emotion": "sleepy"}]))
    with pytest.raises(DomainError, match="record 2: emotion must be one of"):
        load_personas(path, domain)
    path.write_text(json.dumps([good]))
    (persona,) = load_personas(path, domain)
    assert persona.source == "file" and persona.facts  # facts default to the goal's
