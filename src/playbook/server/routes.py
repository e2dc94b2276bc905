"""The HTTP routes: the OpenAI-compatible API under /v1 (bearer key required) and the
operational ones (/healthz, /metrics) that monitoring reaches without a key."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from playbook.server.body import parsed_json
from playbook.server.chat_route import answer_chat, read_body
from playbook.server.messages import checked_body, conversation
from playbook.server.metrics import CONTENT_TYPE
from playbook.server.services import services


async def require_key(request: Request) -> None:
    # async, though it awaits nothing: FastAPI would run a plain function in a worker thread.
    services(request).keys.require(request.headers.get("authorization"))


api = APIRouter(prefix="/v1", dependencies=[Depends(require_key)])

# The bodies are read as raw JSON (unknown fields pass through to the upstream), so FastAPI
# cannot infer them; they are declared here for the published schema (and for fuzzing it).
_MESSAGE = {
    "type": "object",
    "required": ["role", "content"],
    "properties": {
        "role": {"type": "string", "enum": ["system", "developer", "user", "assistant", "tool"]},
        "content": {"type": "string"},
    },
}
_CHAT = {
    "type": "object",
    "required": ["model", "messages"],
    "properties": {
        "model": {"type": "string"},
        "messages": {"type": "array", "items": _MESSAGE, "minItems": 1},
        "stream": {"type": "boolean"},
        "temperature": {"type": "number", "minimum": 0, "maximum": 2},
        "max_tokens": {"type": "integer", "minimum": 1},
    },
}
_GUIDANCE = {"type": "object", "required": ["messages"], "properties": _CHAT["properties"]}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    content = {"application/json": {"schema": schema}}
    return {"requestBody": {"required": True, "content": content}}


ops = APIRouter()


@api.post("/chat/completions", openapi_extra=_body(_CHAT))
async def chat_completions(request: Request) -> Response:
    # Requests reach chat_route.ChatRoute first, which answers them the same way; this route is
    # what the published schema describes.
    answer: Response = await answer_chat(
        services(request), request.scope, request.receive, time.perf_counter()
    )
    return answer


@api.get("/models")
async def models(request: Request) -> Response:
    return await services(request).proxy.models()


@api.post("/guidance", openapi_extra=_body(_GUIDANCE))
async def guidance(request: Request) -> dict[str, Any]:
    """The guidance for a conversation, without calling any model: for coaching a person, or
    for a framework that builds its own prompt. Body: {"messages": [...]} as for chat."""
    server = services(request)
    body = checked_body(
        await read_json(request, server.settings.max_request_bytes), model_required=False
    )
    found = await server.playbook.retrieve(conversation(body["messages"]))
    entries = [
        {"id": hit.entry.id, "score": round(hit.score, 4), "guidance": list(hit.entry.guidance)}
        for hit in found.hits
    ]
    block = server.proxy.writer.system_block(found.guidance)
    return {"guidance": list(found.guidance), "entries": entries, "system_prompt_block": block}


@api.post("/playbook/reload")
async def reload(request: Request) -> dict[str, Any]:
    """Bring the index up to date now (it also does by itself within serve.reload_interval)."""
    server = services(request)
    entries = await server.playbook.reload()
    return {"entries": entries, "approved_only": server.settings.approved_only}


@ops.get("/healthz")
async def healthz(request: Request) -> dict[str, Any]:
    """Alive and serving; the upstream is not contacted (it is checked per request)."""
    server = services(request)
    return {
        "status": "ok",
        "entries": len(server.playbook),
        "search": "approximate" if server.playbook.retriever.index.approximate else "exact",
        "approved_only": server.settings.approved_only,
    }


@ops.get("/metrics")
async def metrics(request: Request) -> Response:
    return Response(services(request).metrics.render(), media_type=CONTENT_TYPE)


async def read_json(request: Request, limit: int) -> Any:
    """The JSON body, refused with 413 past `limit` bytes, before or while it is read."""
    declared = request.headers.get("content-length", "")
    return parsed_json(await read_body(request.receive, declared, limit))
