"""Public test doubles: use them to test code built on llm-playbook without any model server."""

from __future__ import annotations

import socket
import threading
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from playbook.chat.base import ChatRequest, Completion, InProcess
from playbook.embed import HashEmbedder
from playbook.types import Usage

__all__ = ["FunctionChat", "HashEmbedder", "ScriptedChat", "serve_app"]


def _usage_for(request: ChatRequest, text: str) -> Usage:
    """A rough whitespace token count, so budgets and reports have numbers to work with."""
    prompt = sum(len(m.content.split()) for m in request.messages)
    return Usage(input_tokens=prompt, output_tokens=len(text.split()))


class ScriptedChat(InProcess):
    """Answers with the given outputs in order and records every request it receives."""

    def __init__(self, outputs: Sequence[str], name: str = "test:scripted") -> None:
        self._outputs = list(outputs)
        self._name = name
        self.requests: list[ChatRequest] = []

    async def complete(self, request: ChatRequest) -> Completion:
        self.requests.append(request)
        if len(self.requests) > len(self._outputs):
            raise AssertionError(
                f"{self._name} got request {len(self.requests)} but has only "
                f"{len(self._outputs)} scripted outputs"
            )
        text = self._outputs[len(self.requests) - 1]
        return Completion(text=text, usage=_usage_for(request, text))

    def assert_all_used(self) -> None:
        unused = len(self._outputs) - len(self.requests)
        if unused:
            raise AssertionError(f"{self._name}: {unused} scripted outputs were never requested")


Responder = Callable[[ChatRequest], str | Awaitable[str]]


class FunctionChat(InProcess):
    """Answers each request with `fn(request)` (sync or async); records every request."""

    def __init__(self, fn: Responder, name: str = "test:function") -> None:
        self._fn = fn
        self._name = name
        self.requests: list[ChatRequest] = []

    async def complete(self, request: ChatRequest) -> Completion:
        self.requests.append(request)
        result = self._fn(request)
        text = result if isinstance(result, str) else await result
        return Completion(text=text, usage=_usage_for(request, text))


@contextmanager
def serve_app(app: Any, host: str = "127.0.0.1") -> Iterator[str]:
    """Run an ASGI app with uvicorn on a free loopback port in a thread; yields its base URL."""
    import uvicorn

    with socket.socket() as probe:
        probe.bind((host, 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError(f"test server on {host}:{port} failed to start")
            threading.Event().wait(0.01)
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
