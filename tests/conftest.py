"""Shared fixtures: the airline example domain and its simulated roles."""

import pytest

from playbook.domain import load_domain
from playbook.roles import Roles, prompt_environment
from playbook.sim.models import SimWorld
from playbook.types import Domain
from playbook.workspace import example_domain


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
