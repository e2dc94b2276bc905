"""Reading a request's conversation and giving it guidance, for every shape of message content."""

from __future__ import annotations

from typing import Any

import pytest

from playbook.domain import load_domain
from playbook.roles import Roles, prompt_environment
from playbook.server.errors import ApiError
from playbook.server.messages import GuidanceWriter, checked_body, conversation
from playbook.sim.models import SimWorld
from playbook.types import Turn
from playbook.workspace import example_domain

GUIDANCE = ("Acknowledge the delay.", "Offer travel credit.")


def writer(inject: Any = "system") -> GuidanceWriter:
    return GuidanceWriter(prompt_environment(), inject)


def test_the_conversation_is_the_user_and_assistant_text() -> None:
    messages = [
        {"role": "system", "content": "You are an agent."},
        {"role": "user", "content": [{"type": "text", "text": "Hi"}, {"type": "image_url"}]},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "1"}]},
        {"role": "tool", "content": "42", "tool_call_id": "1"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "My flight was cancelled."},
    ]
    assert conversation(messages) == [
        Turn("customer", "Hi"),
        Turn("agent", "Hello!"),
        Turn("customer", "My flight was cancelled."),
    ]


def test_guidance_joins_the_existing_system_message_without_changing_the_request() -> None:
    messages = [{"role": "developer", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    given = writer().with_guidance(messages, GUIDANCE)
    assert given[0]["content"].startswith("Be brief.\n\n<guidelines>\n")
    assert given[0]["content"].endswith("- Offer travel credit.\n</guidelines>")
    assert given[1] is messages[1] and messages[0]["content"] == "Be brief."
    assert writer().with_guidance(messages, ()) is messages


def test_guidance_is_a_new_part_of_a_system_message_made_of_parts() -> None:
    messages = [{"role": "system", "content": [{"type": "text", "text": "Be brief."}]}]
    (system,) = writer().with_guidance(messages, GUIDANCE)
    assert system["content"][0] == {"type": "text", "text": "Be brief."}
    assert system["content"][1]["text"].startswith("<guidelines>")


def test_guidance_in_the_last_message_is_learnings_exactly() -> None:
    domain = load_domain(example_domain("airline"))
    student = SimWorld(domain).model("student")
    roles = Roles(domain, student, student, student, student, prompt_environment())
    turns = [Turn("customer", "Refund!"), Turn("agent", "Sorry."), Turn("customer", "Now!")]
    learning = roles.agent_messages(turns, GUIDANCE, "last_message")
    wire = [{"role": m.role, "content": m.content} for m in roles.agent_messages(turns)]
    given = writer("last_message").with_guidance(wire, GUIDANCE)
    assert [m["content"] for m in given] == [m.content for m in learning]


def test_guidance_after_the_parts_of_a_last_message_made_of_parts() -> None:
    messages = [{"role": "user", "content": [{"type": "text", "text": "Refund!"}]}]
    (last,) = writer("last_message").with_guidance(messages, GUIDANCE)
    assert [p["text"].split("\n")[0] for p in last["content"]] == ["Refund!", "<guidelines>"]


def test_last_message_falls_back_to_system_without_a_user_message() -> None:
    given = writer("last_message").with_guidance([{"role": "system", "content": "S"}], GUIDANCE)
    assert given[0]["content"].startswith("S\n\n<guidelines>")


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "m", "messages": [{"role": "user", "content": {"a": 1}}]}, "messages.0"),
        ({"model": "m", "messages": [{"role": "user"}, "hi"]}, "messages.1"),
        ({"model": 3, "messages": [{"role": "user", "content": "x"}]}, "model"),
    ],
)
def test_malformed_messages_name_the_field(body: Any, param: str) -> None:
    with pytest.raises(ApiError) as caught:
        checked_body(body, model_required=True)
    assert caught.value.status == 400 and caught.value.param == param
