"""End to end on the simulated world: a chat application's prompt, sent through the proxy, makes
the simulated student answer exactly as learning's prompt with the same guidance does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from playbook.domain import load_domain, persona_grid
from playbook.embed import HashEmbedder
from playbook.roles import Roles, prompt_environment
from playbook.server import ServeSettings, create_app
from playbook.sim.models import SimWorld
from playbook.sim.server import create_openai_app
from playbook.store.core import Store
from playbook.testing import serve_app
from playbook.types import Attempt, Entry, Provenance, Scenario, Turn, Verdict
from playbook.workspace import example_domain

TURNS = (Turn("customer", "I want a full refund for my restricted ticket. I mean it!"),)
GUIDANCE = (
    "When the customer is frustrated, start by acknowledging their feelings in one sentence.",
    "Offer the alternatives the policy allows: travel credit or one paid rebooking.",
)


@pytest.fixture
def roles() -> Roles:
    domain = load_domain(example_domain("airline"))
    student = SimWorld(domain).model("student")
    return Roles(domain, student, student, student, student, prompt_environment())


@pytest.fixture
def simulated_student(roles: Roles) -> Iterator[str]:
    with serve_app(create_openai_app({"student": roles.student})) as url:
        yield f"{url}/v1"


def ask(base_url: str, messages: Any) -> str:
    with openai.OpenAI(base_url=base_url, api_key="unused", max_retries=0) as client:
        reply = client.chat.completions.create(model="student", messages=messages, seed=3)
    return reply.choices[0].message.content or ""


def wire(messages: Any) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in messages]


@pytest.mark.parametrize("inject", ["system", "last_message"])
def test_proxy_coaches_the_student_as_learning_does(
    inject: Any, roles: Roles, simulated_student: str, tmp_path: Path
) -> None:
    persona = persona_grid(roles.domain.goals[0])[0]
    provenance = Provenance("r1", 1, "", Attempt((), "", Verdict(1, "")), ())
    embedder = HashEmbedder()
    app_prompt = wire(roles.agent_messages(TURNS))  # the chat application's own prompt
    learned = wire(roles.agent_messages(TURNS, GUIDANCE, inject))
    with Store.open(tmp_path / "playbook.db") as store:
        entry = Entry(None, Scenario(persona, TURNS), GUIDANCE, provenance)
        store.add_entry(entry, embedder.vector(TURNS[0].text), embedder.id)
        settings = ServeSettings(
            tmp_path / "playbook.db", simulated_student, approved_only=False, inject=inject
        )
        with serve_app(create_app(settings, store, embedder)) as proxy:
            coached = ask(f"{proxy}/v1", app_prompt)
    assert coached == ask(simulated_student, learned)
    assert coached != ask(simulated_student, app_prompt)
