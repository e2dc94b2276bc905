"""Shared fixtures: the airline example domain and its simulated roles; hypothesis profiles."""

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import settings

from playbook.domain import load_domain
from playbook.roles import Roles, prompt_environment
from playbook.sim.models import SimWorld
from playbook.types import PERSONALITIES, Domain
from playbook.workspace import example_domain

# `make test` and CI draw the same examples on every run (a seed per test, no example database,
# no deadline: a loaded machine is not a failure), so a red build is a real failure that
# reproduces. HYPOTHESIS_PROFILE=explore draws new, and more, examples to look for new bugs.
settings.register_profile("deterministic", derandomize=True, database=None, deadline=None)
settings.register_profile("explore", max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))


@pytest.fixture
def airline() -> Domain:
    return load_domain(example_domain("airline"))


@pytest.fixture
def sim_roles(airline: Domain) -> Roles:
    world = SimWorld(airline)
    return Roles(
        airline,
        student=world.model("student"),
        teacher=world.model("teacher"),
        customer=world.model("customer"),
        judge=world.model("judge"),
        prompts=prompt_environment(),
    )


PERSONAS = [
    {
        "id": f"p-{personality}-{emotion}",
        "goal": "refund_restricted_ticket",
        "personality": personality,
        "emotion": emotion,
        "demanding": emotion == "frustrated",
    }
    for personality in PERSONALITIES
    for emotion in ("frustrated", "confused")
]


def _write_config(folder: Path, *, extra: str = "", models: dict[str, str] | None = None) -> Path:
    (folder / "personas.json").write_text(json.dumps(PERSONAS))
    specs = {
        "student": "sim:student",
        "teacher": "sim:teacher",
        "customer": "sim:customer",
        "judge": "sim:judge",
        **(models or {}),
    }
    text = f'domain = "{example_domain("airline")}"\nplaybook = "playbook.db"\n'
    for role, spec in specs.items():
        text += f'[models.{role}]\nspec = "{spec}"\n'
    text += '[learn]\nrounds = 2\npersonas = "personas.json"\nconcurrency = 4\n' + extra
    path = folder / "playbook.toml"
    path.write_text(text)
    return path


MakeConfig = Callable[..., Path]


@pytest.fixture
def make_config() -> MakeConfig:
    """Writes a config for 8 airline personas on the simulated world; override models/extra."""
    return _write_config
