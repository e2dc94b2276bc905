"""An OpenAI-compatible HTTP server for any ChatModels (and optionally an embedder).

It serves the offline simulated world, one model name per role, and is the fake upstream that
tests and benchmarks drive through the real `openai` SDK.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Protocol

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from playbook.chat.base import ChatModel, ChatRequest, Completion, Message, ModelError
from playbook.wire import error_response

STREAM_PIECES = 4  # a few chunks are enough to exercise a client's reassembly


class Embedder(Protocol):
    """What this server needs from an embedder."""

    @property
    def id(self) -> str: ...

    async def embed(self, texts: Sequence[str]) -> NDArray[np.float32]: ...


class _Body(BaseModel):
    # Clients send many fields we have no use for (tools, n, logprobs...); they are ignored.
    model_config = ConfigDict(extra="ignore")


class _TextPart(_Body):
    type: Literal["text"]
    text: str


class _WireMessage(_Body):
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[_TextPart] | None = None

    def to_message(self) -> Message:
        content = self.content or ""
        if not isinstance(content, str):
            content = "\n".join(part.text for part in content)
        # "developer" is OpenAI's newer name for the system message.
        role = "system" if self.role == "developer" else self.role
        return Message(role=role, content=content)


class _StreamOptions(_Body):
    include_usage: bool = False


class _ChatBody(_Body):
    model: str
    messages: Annotated[list[_WireMessage], Field(min_length=1)]
    temperature: float | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None  # newer clients send this instead of max_tokens
    seed: int | None = None
    stream: bool = False
    stream_options: _StreamOptions | None = None

    def chat_request(self) -> ChatRequest:
        return ChatRequest(
            messages=tuple(m.to_message() for m in self.messages),
            temperature=self.temperature,
            max_tokens=self.max_tokens
            if self.max_tokens is not None
            else self.max_completion_tokens,
            seed=self.seed,
        )


@dataclass
class PaidCalls:
    """What the server computed ("paid" calls) and what it answered from its idempotency record,
    so tests count calls at the upstream rather than in the client's own log. Like OpenAI's and
    Stripe's Idempotency-Key: a repeat of a key answers the first computation (waiting for it if
    it is still running); an error is not recorded, so a retry computes again."""

    paid: int = 0
    replayed: int = 0
    by_request: Counter[str] = field(default_factory=Counter)  # computations per distinct body
    by_model: Counter[str] = field(default_factory=Counter)
    _answers: dict[str, tuple[str, asyncio.Future[Completion]]] = field(default_factory=dict)

    @property
    def paid_twice(self) -> int:
        """Computations of a request already computed before (what an idempotent client saves)."""
        return sum(n - 1 for n in self.by_request.values())

    def summary(self) -> dict[str, Any]:
        distinct = len(self.by_request)
        counts = dict(paid=self.paid, replayed=self.replayed, distinct=distinct)
        return {**counts, "paid_twice": self.paid_twice, "by_model": dict(self.by_model)}

    async def answer(
        self, model: ChatModel, body: _ChatBody, key: str | None, delay: float
    ) -> Completion:
        fingerprint = _fingerprint(body)
        if key is not None and key in self._answers:
            first, answer = self._answers[key]
            if first != fingerprint:
                raise _KeyReused(key)
            self.replayed += 1
            return await asyncio.shield(answer)
        answer = asyncio.get_running_loop().create_future()
        if key is not None:
            self._answers[key] = (fingerprint, answer)
        try:
            await asyncio.sleep(delay)
            self.paid += 1
            self.by_request[fingerprint] += 1
            self.by_model[body.model] += 1
            completion = await model.complete(body.chat_request())
        except asyncio.CancelledError:
            self._answers.pop(key or "", None)
            answer.cancel()
            raise
        except Exception as exc:
            self._answers.pop(key or "", None)
            answer.set_exception(exc)
            answer.exception()  # marks it seen; a repeat waiting on it raises it too
            raise
        answer.set_result(completion)
        return completion


class _KeyReused(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(f"Idempotency-Key {key!r} was already used with another request")


def _fingerprint(body: _ChatBody) -> str:
    asked = body.model_dump(include={"model", "messages", "temperature", "max_tokens", "seed"})
    return hashlib.sha256(json.dumps(asked, sort_keys=True).encode()).hexdigest()


class _EmbeddingsBody(_Body):
    model: str
    input: str | Annotated[list[str], Field(min_length=1)]
    encoding_format: Literal["float", "base64"] = "float"


def create_openai_app(
    models: Mapping[str, ChatModel], embedder: Embedder | None = None, delay: float = 0.0
) -> FastAPI:
    """Serve `models` by name; `delay` seconds are awaited before each chat/embedding answer."""
    app = FastAPI(title="llm-playbook OpenAI-compatible server")
    paid = app.state.paid = PaidCalls()

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _invalid_request(exc)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail), "invalid_request_error")

    @app.get("/v1/models")
    async def list_models() -> dict[str, Any]:
        names = [*models, *([embedder.id] if embedder is not None else [])]
        return {"object": "list", "data": [_model_card(name) for name in names]}

    @app.get("/v1/paid")
    async def paid_calls() -> dict[str, Any]:
        """Not OpenAI's: what this server computed and replayed (see PaidCalls)."""
        return paid.summary()

    @app.post("/v1/chat/completions")
    async def chat_completions(body: _ChatBody, request: Request) -> Response:
        model = models.get(body.model)
        if model is None:
            await asyncio.sleep(delay)
            return _model_not_found(body.model)
        key = request.headers.get("idempotency-key")
        return await _answer_chat(paid.answer(model, body, key, delay), body)

    @app.post("/v1/embeddings")
    async def embeddings(body: _EmbeddingsBody) -> Response:
        await asyncio.sleep(delay)
        if embedder is None:
            return error_response(404, "this server has no embedder", "invalid_request_error")
        return JSONResponse(await _embed(embedder, body))

    return app


def _invalid_request(exc: RequestValidationError) -> JSONResponse:
    # OpenAI answers malformed requests with 400, not FastAPI's 422.
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "malformed request"}
    if first.get("type") == "json_invalid":
        return error_response(400, "the request body is not valid JSON", "invalid_request_error")
    param = ".".join(str(part) for part in first["loc"] if part != "body") or None
    message = f"{param}: {first['msg']}" if param else str(first["msg"])
    return error_response(400, message, "invalid_request_error", param=param)


def _model_not_found(name: str) -> JSONResponse:
    return error_response(
        404,
        f"The model `{name}` does not exist on this server",
        "invalid_request_error",
        param="model",
        code="model_not_found",
    )


def _model_card(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 0, "owned_by": "llm-playbook"}


async def _answer_chat(answering: Awaitable[Completion], body: _ChatBody) -> Response:
    try:
        completion = await answering
    except ModelError as exc:
        return error_response(500, str(exc), "server_error")
    except _KeyReused as exc:
        return error_response(422, str(exc), "invalid_request_error", code="idempotency_key_reused")
    head = {"id": f"chatcmpl-{uuid.uuid4().hex}", "created": int(time.time()), "model": body.model}
    if not body.stream:
        return JSONResponse(_completion_json(head, completion))
    usage = bool(body.stream_options and body.stream_options.include_usage)
    return StreamingResponse(_sse(head, completion, usage), media_type="text/event-stream")


def _usage_json(completion: Completion) -> dict[str, int]:
    usage = completion.usage
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total,
    }


def _completion_json(head: dict[str, Any], completion: Completion) -> dict[str, Any]:
    message = {"role": "assistant", "content": completion.text}
    choice = {"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}
    usage = _usage_json(completion)
    return {**head, "object": "chat.completion", "choices": [choice], "usage": usage}


async def _sse(
    head: dict[str, Any], completion: Completion, include_usage: bool
) -> AsyncIterator[str]:
    """OpenAI's stream: role with the first piece, then pieces, a stop chunk, usage, [DONE]."""

    def event(choices: list[dict[str, Any]], **extra: Any) -> str:
        chunk = {**head, "object": "chat.completion.chunk", "choices": choices, **extra}
        return f"data: {json.dumps(chunk)}\n\n"

    for i, piece in enumerate(_pieces(completion.text)):
        delta = {"role": "assistant", "content": piece} if i == 0 else {"content": piece}
        yield event([{"index": 0, "delta": delta, "finish_reason": None}])
    yield event([{"index": 0, "delta": {}, "finish_reason": "stop"}])
    if include_usage:
        yield event([], usage=_usage_json(completion))
    yield "data: [DONE]\n\n"


def _pieces(text: str, count: int = STREAM_PIECES) -> list[str]:
    """Split at word starts into at most `count` pieces that join back to exactly `text`."""
    words = re.split(r"(?<=\s)(?=\S)", text)
    size = -(-len(words) // count)  # ceiling division
    return ["".join(words[i : i + size]) for i in range(0, len(words), size)]


async def _embed(embedder: Embedder, body: _EmbeddingsBody) -> dict[str, Any]:
    texts = [body.input] if isinstance(body.input, str) else body.input
    vectors = np.asarray(await embedder.embed(texts), dtype=np.float32)
    data = [
        {"object": "embedding", "index": i, "embedding": _encode(vector, body.encoding_format)}
        for i, vector in enumerate(vectors)
    ]
    tokens = sum(len(text.split()) for text in texts)  # rough, like the test doubles
    usage = {"prompt_tokens": tokens, "total_tokens": tokens}
    # One embedder answers for any model name, so clients configured with any name work.
    return {"object": "list", "data": data, "model": body.model, "usage": usage}


def _encode(vector: NDArray[np.float32], encoding: str) -> list[float] | str:
    if encoding == "base64":  # little-endian float32 bytes, as OpenAI sends them
        return base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
    return [float(x) for x in vector]
