"""POST /v1/chat/completions as a plain ASGI handler in front of the FastAPI app: the proxy's hot
path skips FastAPI's middleware stack, route matching and dependency solving (about a fifth of the
server's CPU per request on the loopback benchmark, bench/bench_proxy.py). The FastAPI route of
the same path stays for the published schema (/openapi.json) and answers the same way."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from starlette.types import Receive, Scope, Send

from playbook.server.body import parsed_json
from playbook.server.errors import ApiError, bad_request, internal_error, too_large

if TYPE_CHECKING:
    from fastapi import FastAPI

    from playbook.server.services import Services

CHAT_PATH = "/v1/chat/completions"
log = logging.getLogger("playbook.server")


class ChatRoute:
    """Answers POST CHAT_PATH itself; every other request goes on to `app`.

    `route` is the FastAPI route of the same path: put in the scope, as the router would, so that
    the metrics label the request by it.
    """

    def __init__(self, app: FastAPI, route: Any) -> None:
        self.app = app
        self.route = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != CHAT_PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        scope["route"] = self.route
        try:
            server: Services = self.app.state.services
            response = await answer_chat(server, scope, receive, time.perf_counter())
        except ApiError as exc:
            response = exc.response()
        except Exception:
            log.exception("unexpected error on POST %s", CHAT_PATH)
            response = internal_error().response()
        await response(scope, receive, send)


async def answer_chat(server: Services, scope: Scope, receive: Receive, started: float) -> Any:
    """The proxy's answer to a chat completion: key checked, body read and parsed, then proxied.
    Errors are raised as ApiError."""
    # The raw headers (names lower-case), the first of repeated ones, as Starlette reads them
    headers = dict(reversed(scope["headers"]))
    server.keys.require(headers.get(b"authorization", b"").decode("latin-1") or None)
    limit = server.settings.max_request_bytes
    body = await read_body(receive, headers.get(b"content-length", b"").decode("latin-1"), limit)
    return await server.proxy.chat(parsed_json(body), started)


async def read_body(receive: Receive, declared: str, limit: int) -> bytes:
    """The request body, refused with 413 past `limit` bytes, before or while it is read."""
    if declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            # Nobody is left to answer; not a failure of the proxy's.
            raise bad_request("the client closed the connection before sending the whole body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)
