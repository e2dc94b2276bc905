"""The simulated upstream keeps its answers per Idempotency-Key, and the openai backend sends a
key that is the same for every sending of the same request (so a resumed run is not charged
again for the calls an interrupted one had in flight)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from openai import AsyncOpenAI

from playbook.chat.base import ChatRequest, Message
from playbook.chat.openai_backend import OpenAIChat
from playbook.recorder import Recorder
from playbook.sim.server import create_openai_app
from playbook.store.core import Store
from playbook.testing import FunctionChat, serve_app

BODY = {"model": "agent", "messages": [{"role": "user", "content": "Where is my bag?"}]}


@pytest.fixture
def upstream() -> Iterator[tuple[str, FunctionChat]]:
    agent = FunctionChat(lambda request: f"answer {len(agent.requests)}")
    with serve_app(create_openai_app({"agent": agent})) as url:
        yield url, agent


def test_a_repeated_key_is_answered_from_the_record_and_not_paid_again(
    upstream: tuple[str, FunctionChat],
) -> None:
    url, agent = upstream
    key = {"Idempotency-Key": "k-1"}
    first = httpx.post(f"{url}/v1/chat/completions", json=BODY, headers=key).json()
    again = httpx.post(f"{url}/v1/chat/completions", json=BODY, headers=key).json()
    unkeyed = httpx.post(f"{url}/v1/chat/completions", json=BODY).json()
    text = [r["choices"][0]["message"]["content"] for r in (first, again, unkeyed)]
    assert text == ["answer 1", "answer 1", "answer 2"]
    assert len(agent.requests) == 2
    paid = httpx.get(f"{url}/v1/paid").json()
    assert (paid["paid"], paid["replayed"], paid["distinct"], paid["paid_twice"]) == (2, 1, 1, 1)


def test_a_key_reused_for_another_request_is_refused(upstream: tuple[str, FunctionChat]) -> None:
    url, _ = upstream
    key = {"Idempotency-Key": "k-2"}
    httpx.post(f"{url}/v1/chat/completions", json=BODY, headers=key)
    other = {**BODY, "messages": [{"role": "user", "content": "Something else"}]}
    response = httpx.post(f"{url}/v1/chat/completions", json=other, headers=key)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"


def test_the_recorder_sends_one_stable_key_per_request_and_writes_it_down_first(
    tmp_path: Path, upstream: tuple[str, FunctionChat]
) -> None:
    url, agent = upstream
    request = ChatRequest((Message("user", "Where is my bag?"),), seed=3)

    async def ask_in_two_runs() -> list[str]:
        client = AsyncOpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        model = OpenAIChat("agent", client)
        answers = []
        with Store.open(tmp_path / "a.db") as a, Store.open(tmp_path / "b.db") as b:
            for store in (a, b):  # two playbooks: no cache between them
                run = store.start_run("learn", {}, {})
                answers.append((await Recorder(store, run).complete("judge", model, request)).text)
                assert store.calls_in_flight(run) == []  # settled with its answer
        await client.close()
        return answers

    assert asyncio.run(ask_in_two_runs()) == ["answer 1", "answer 1"]
    assert len(agent.requests) == 1  # the upstream computed it once
