"""The OpenAI-compatible server, driven by the official `openai` client and raw HTTP."""

from __future__ import annotations

import base64
from collections.abc import Iterator, Sequence

import httpx
import numpy as np
import openai
import pytest
from numpy.typing import NDArray

from playbook.chat.base import ChatRequest, Message, ModelError
from playbook.sim.server import create_openai_app
from playbook.testing import FunctionChat, serve_app

REPLY = "Thank you for waiting. I can offer a voucher for the full amount, valid for a year."


class TinyEmbedder:
    """Two numbers per text: its length and its word count."""

    id = "test:tiny"

    async def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        return np.array([[len(t), len(t.split())] for t in texts], dtype=np.float32)


def fail(request: ChatRequest) -> str:
    raise ModelError("sim:broken: the scripted world has no answer")


@pytest.fixture
def agent() -> FunctionChat:
    return FunctionChat(lambda request: REPLY)


@pytest.fixture
def url(agent: FunctionChat) -> Iterator[str]:
    models = {"agent": agent, "broken": FunctionChat(fail)}
    with serve_app(create_openai_app(models, embedder=TinyEmbedder())) as base:
        yield base


@pytest.fixture
def client(url: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0) as sdk:
        yield sdk


def test_lists_every_model_and_the_embedder(client: openai.OpenAI) -> None:
    assert [model.id for model in client.models.list()] == ["agent", "broken", "test:tiny"]


def test_completion_carries_text_usage_and_the_request_fields(
    client: openai.OpenAI, agent: FunctionChat
) -> None:
    response = client.chat.completions.create(
        model="agent",
        messages=[
            {"role": "developer", "content": "Be kind."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "I want"},
                    {"type": "text", "text": "a refund"},
                ],
            },
        ],
        temperature=0.2,
        max_tokens=40,
        seed=3,
    )

    assert response.choices[0].message.content == REPLY
    assert response.choices[0].finish_reason == "stop"
    assert response.usage is not None
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (6, 17)
    assert agent.requests == [
        ChatRequest(
            messages=(Message("system", "Be kind."), Message("user", "I want\na refund")),
            temperature=0.2,
            max_tokens=40,
            seed=3,
        )
    ]


def test_stream_reassembles_to_the_same_text_with_usage_last(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="agent",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)

    with_choices = [chunk for chunk in chunks if chunk.choices]
    assert "".join(c.choices[0].delta.content or "" for c in with_choices) == REPLY
    assert len(with_choices) > 2  # the text really came in pieces
    assert with_choices[0].choices[0].delta.role == "assistant"
    assert with_choices[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 17


async def test_async_stream_without_usage_option_sends_no_usage_chunk(url: str) -> None:
    async with openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="unused") as sdk:
        stream = await sdk.chat.completions.create(
            model="agent", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        chunks = [chunk async for chunk in stream]

    assert all(chunk.choices and chunk.usage is None for chunk in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == REPLY


def test_raw_stream_is_server_sent_events_ending_in_done(url: str) -> None:
    body = {"model": "agent", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    response = httpx.post(f"{url}/v1/chat/completions", json=body)

    assert response.headers["content-type"].startswith("text/event-stream")
    events = response.text.split("\n\n")
    assert all(event.startswith("data: ") for event in events if event)
    assert events[-2:] == ["data: [DONE]", ""]


def test_unknown_model_is_404_in_openai_error_shape(url: str) -> None:
    body = {"model": "gpt-9", "messages": [{"role": "user", "content": "hi"}]}
    response = httpx.post(f"{url}/v1/chat/completions", json=body)

    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "message": "The model `gpt-9` does not exist on this server",
            "type": "invalid_request_error",
            "param": "model",
            "code": "model_not_found",
        }
    }


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b'{"model": "agent"}', "messages: Field required"),
        (b'{"model": "agent", "messages": []}', "messages: List should have at least 1 item"),
        (b'{"model": "agent", "messages": [{"role": "wizard"}]}', "messages.0.role: Input should"),
        (b'{"model": "agent", "messages": ', "the request body is not valid JSON"),
    ],
    ids=["no messages", "empty messages", "unknown role", "broken json"],
)
def test_malformed_request_is_400_in_openai_error_shape(
    url: str, content: bytes, expected: str
) -> None:
    response = httpx.post(
        f"{url}/v1/chat/completions", content=content, headers={"content-type": "application/json"}
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert set(error) == {"message", "type", "param", "code"}
    assert expected in error["message"]


def test_unknown_request_fields_are_ignored(client: openai.OpenAI) -> None:
    response = client.chat.completions.create(
        model="agent",
        messages=[{"role": "user", "content": "hi"}],
        extra_body={"top_k": 5, "repetition_penalty": 1.1},
        n=1,
        logprobs=False,
        user="someone",
    )

    assert response.choices[0].message.content == REPLY


def test_model_error_becomes_a_500_the_client_can_read(client: openai.OpenAI) -> None:
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="broken", messages=[{"role": "user", "content": "hi"}])

    assert "the scripted world has no answer" in caught.value.message


def test_embeddings_in_openai_shape_for_one_text_or_many(client: openai.OpenAI) -> None:
    one = client.embeddings.create(model="test:tiny", input="hello world")
    many = client.embeddings.create(model="test:tiny", input=["a", "bb cc dd"])

    assert one.data[0].embedding == [11.0, 2.0]
    assert [item.embedding for item in many.data] == [[1.0, 1.0], [8.0, 3.0]]
    assert [item.index for item in many.data] == [0, 1]
    assert many.model == "test:tiny"
    assert many.usage.prompt_tokens == 4


async def test_embeddings_in_base64_with_the_async_client(url: str) -> None:
    async with openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="unused") as sdk:
        response = await sdk.embeddings.create(
            model="test:tiny", input=["bb cc dd"], encoding_format="base64"
        )

    raw = response.data[0].embedding
    assert isinstance(raw, str)
    assert np.frombuffer(base64.b64decode(raw), dtype="<f4").tolist() == [8.0, 3.0]


def test_embeddings_without_an_embedder_is_404() -> None:
    with serve_app(create_openai_app({})) as url:
        response = httpx.post(f"{url}/v1/embeddings", json={"model": "x", "input": "hi"})

    assert response.status_code == 404
    assert response.json()["error"]["message"] == "this server has no embedder"
