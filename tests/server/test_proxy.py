"""The proxy driven by the official `openai` client: the guidance for the conversation reaches
the upstream student, and the student's answer comes back unchanged (plain and streamed)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai

from playbook.server import ENTRIES_HEADER

KEY = "sk-proxy-test-0123456789"
REPLY = "I understand how frustrating this is. I can offer travel credit for the full fare."
REFUND_TEXT = "I demand a full refund for my restricted ticket, this is outrageous!"
REFUND_GUIDELINE = "Acknowledge the customer's frustration before anything else."
BAGGAGE_GUIDELINE = "Apologise for the lost bag."
SYSTEM = "You are the airline's support agent. Be polite."


def chat(
    client: openai.OpenAI, text: str = REFUND_TEXT, system: str | None = SYSTEM, **extra: Any
) -> Any:
    messages: list[Any] = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": text})
    return client.chat.completions.with_raw_response.create(
        model="student", messages=messages, **extra
    )


def test_guidance_for_the_conversation_reaches_the_upstream_system_prompt(
    client: openai.OpenAI, upstream: Any, playbook: Any
) -> None:
    raw = chat(client)
    completion = raw.parse()
    assert completion.choices[0].message.content == REPLY
    assert completion.usage is not None and completion.usage.completion_tokens > 0
    assert raw.headers[ENTRIES_HEADER] == str(playbook.refund)
    system = upstream.system_prompt()
    assert system.startswith(SYSTEM)  # the client's own prompt is kept, guidance after it
    assert "<guidelines>" in system and f"- {REFUND_GUIDELINE}" in system
    assert BAGGAGE_GUIDELINE not in system
    assert [m.role for m in upstream.chat.requests[-1].messages] == ["system", "user"]


def test_a_request_without_a_system_message_gets_one(client: openai.OpenAI, upstream: Any) -> None:
    chat(client, system=None)
    messages = upstream.chat.requests[-1].messages
    assert [m.role for m in messages] == ["system", "user"]
    assert (
        messages[0].content.startswith("<guidelines>") and REFUND_GUIDELINE in messages[0].content
    )


def test_an_unrelated_conversation_gets_no_guidance(client: openai.OpenAI, upstream: Any) -> None:
    raw = chat(client, text="What is the weather like on Jupiter today?")
    assert raw.headers[ENTRIES_HEADER] == ""
    assert upstream.system_prompt() == SYSTEM  # forwarded untouched


def test_the_whole_conversation_picks_the_entry(
    client: openai.OpenAI, upstream: Any, playbook: Any
) -> None:
    messages: list[Any] = [
        {"role": "user", "content": "My suitcase never arrived in Boston."},
        {"role": "assistant", "content": "I am sorry to hear that. Let me look."},
        {"role": "user", "content": [{"type": "text", "text": "I need my medication from it."}]},
    ]
    raw = client.chat.completions.with_raw_response.create(model="student", messages=messages)
    assert raw.headers[ENTRIES_HEADER] == str(playbook.baggage)
    assert BAGGAGE_GUIDELINE in upstream.system_prompt()


def test_unknown_fields_pass_through_unchanged(client: openai.OpenAI, upstream: Any) -> None:
    extra = {"top_k": 7, "repetition_penalty": 1.1, "chat_template_kwargs": {"think": False}}
    chat(client, user="customer-42", temperature=0.3, extra_body=extra)
    body = upstream.bodies[-1]
    assert body["top_k"] == 7 and body["repetition_penalty"] == 1.1
    assert body["chat_template_kwargs"] == {"think": False}
    assert body["user"] == "customer-42" and body["temperature"] == 0.3
    assert body["model"] == "student"


def test_the_model_name_can_be_replaced(start_proxy: Any, upstream: Any) -> None:
    url = start_proxy(upstream_model="student")
    with openai.OpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0) as client:
        reply = client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": REFUND_TEXT}]
        )
        listed = [m.id for m in client.models.list()]
    assert reply.choices[0].message.content == REPLY
    assert upstream.bodies[-1]["model"] == "student"
    assert listed == ["student"]


def test_guidance_in_the_last_message_as_in_learning(start_proxy: Any, upstream: Any) -> None:
    url = start_proxy(inject="last_message")
    with openai.OpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0) as client:
        chat(client)
    messages = upstream.chat.requests[-1].messages
    assert messages[0].content == SYSTEM
    assert messages[-1].content.startswith(REFUND_TEXT + "\n\n<guidelines>")
    assert REFUND_GUIDELINE in messages[-1].content


def test_streaming_relays_the_chunks_and_names_the_entries(
    client: openai.OpenAI, upstream: Any, playbook: Any
) -> None:
    messages: Any = [{"role": "user", "content": REFUND_TEXT}]
    with client.chat.completions.with_streaming_response.create(
        model="student", messages=messages, stream=True
    ) as response:
        assert response.headers[ENTRIES_HEADER] == str(playbook.refund)
        assert response.headers["content-type"].startswith("text/event-stream")
        chunks = list(response.parse())
    pieces = [
        c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content
    ]
    assert len(pieces) > 1 and "".join(pieces) == REPLY
    assert REFUND_GUIDELINE in upstream.system_prompt()


def test_streamed_events_are_the_upstreams(proxy: str, upstream: Any) -> None:
    body = {"model": "student", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    headers = {"Authorization": f"Bearer {KEY}"}
    through = httpx.post(f"{proxy}/v1/chat/completions", json=body, headers=headers).text
    direct = httpx.post(f"{upstream.url}/chat/completions", json=body).text
    assert events(through) == events(direct) and len(events(through)) > 3
    assert through.endswith("data: [DONE]\n\n")


def events(stream: str) -> list[Any]:
    """The stream's events without what differs between two answers (id, creation time)."""
    parsed = [json.loads(line[6:]) for line in stream.splitlines() if line.startswith("data: {")]
    return [{k: v for k, v in event.items() if k not in ("id", "created")} for event in parsed]


async def test_async_client_plain_and_streamed(proxy: str, upstream: Any, playbook: Any) -> None:
    messages: Any = [{"role": "user", "content": REFUND_TEXT}]
    async with openai.AsyncOpenAI(base_url=f"{proxy}/v1", api_key=KEY, max_retries=0) as client:
        raw = await client.chat.completions.with_raw_response.create(
            model="student", messages=messages
        )
        stream = await client.chat.completions.create(
            model="student", messages=messages, stream=True
        )
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert raw.headers[ENTRIES_HEADER] == str(playbook.refund)
    assert raw.parse().choices[0].message.content == REPLY and text == REPLY
    assert all(REFUND_GUIDELINE in upstream.system_prompt(i) for i in (-2, -1))
