"""Streams that do not end well: the upstream breaks off midway, stalls, or the client leaves.
The chunks already sent stay sent, the client learns of the failure, and the log says why."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from typing import Any

import openai
import pytest
from fastapi import FastAPI
from fastapi.responses import StreamingResponse

from playbook.testing import serve_app

KEY = "sk-proxy-test-0123456789"
MESSAGES: Any = [{"role": "user", "content": "I demand a full refund for my ticket!"}]


def chunk(text: str) -> bytes:
    body = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "student"}
    choices = [{"index": 0, "delta": {"content": text}, "finish_reason": None}]
    return f"data: {json.dumps({**body, 'choices': choices})}\n\n".encode()


def streaming_upstream(words: int, pause: float, then: str) -> FastAPI:
    """Streams `words` chunks `pause` seconds apart, then: "break" (drop the connection) or
    "stall" (send nothing more for a long time)."""
    app = FastAPI()

    async def events() -> AsyncIterator[bytes]:
        for i in range(words):
            yield chunk(f"w{i} ")
            await asyncio.sleep(pause)
        if then == "break":
            raise RuntimeError("the model server crashed midway")
        await asyncio.sleep(1.0)

    @app.post("/v1/chat/completions")
    async def completions() -> StreamingResponse:
        return StreamingResponse(events(), media_type="text/event-stream")

    return app


@pytest.fixture
def proxied(start_proxy: Any) -> Iterator[Any]:
    """proxied(upstream_app, **settings): an SDK client of a proxy in front of that upstream."""
    with ExitStack() as stack:

        def start(upstream: FastAPI, **settings: Any) -> openai.OpenAI:
            base = stack.enter_context(serve_app(upstream))
            url = start_proxy(upstream_url=f"{base}/v1", **settings)
            return openai.OpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0)

        yield start


def test_an_upstream_that_breaks_off_ends_the_stream_with_an_error(
    proxied: Any, playbook: Any, eventually: Any
) -> None:
    client = proxied(streaming_upstream(3, 0.0, then="break"))
    received: list[str] = []
    with client, pytest.raises(openai.APIError, match="closed the stream"):
        for part in client.chat.completions.create(model="m", messages=MESSAGES, stream=True):
            received.append(part.choices[0].delta.content or "")
    assert received == ["w0 ", "w1 ", "w2 "]
    (row,) = eventually(playbook.store.served)
    assert row.upstream_status == 200 and "closed the stream" in (row.error or "")


def test_an_upstream_that_stalls_is_cut_after_the_timeout(
    proxied: Any, playbook: Any, eventually: Any
) -> None:
    client = proxied(streaming_upstream(2, 0.0, then="stall"), timeout=0.2)
    with client, pytest.raises(openai.APIError, match=r"no data within 0\.2 s"):
        list(client.chat.completions.create(model="m", messages=MESSAGES, stream=True))
    (row,) = eventually(playbook.store.served)
    assert "no data within" in (row.error or "")


def test_a_client_that_leaves_midway_is_logged(
    proxied: Any, playbook: Any, eventually: Any
) -> None:
    client = proxied(streaming_upstream(50, 0.02, then="stall"))
    with client, client.chat.completions.create(model="m", messages=MESSAGES, stream=True) as s:
        first = next(iter(s))
    assert first.choices[0].delta.content == "w0 "
    (row,) = eventually(playbook.store.served)
    assert row.error == "the client went away before the end of the stream"
