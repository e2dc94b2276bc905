"""A fault-injecting wrapper for any ASGI app: the misbehaving endpoint that reliability tests need.

A configurable share of chat-completion requests gets a 429 (with Retry-After), a 500, a reply
slower than any sane timeout, a garbage body, or a stream cut off before it ends. Faults are
drawn from a seeded generator, so a test sees the same sequence every time.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

FAULTS = ("rate_limit", "server_error", "slow", "garbage", "cut")


@dataclass
class FaultPlan:
    """Share (0..1) of chat requests that get each fault; the rest pass through unharmed."""

    rate_limit: float = 0.0
    server_error: float = 0.0
    slow: float = 0.0
    garbage: float = 0.0
    cut: float = 0.0
    slow_seconds: float = 30.0
    seed: int = 0
    injected: Counter[str] = field(default_factory=Counter)  # what was done, for assertions

    def draw(self, rng: random.Random) -> str | None:
        roll = rng.random()
        for name in FAULTS:
            share = getattr(self, name)
            if roll < share:
                return name
            roll -= share
        return None


def with_faults(app: ASGIApp, plan: FaultPlan) -> ASGIApp:
    """Wrap `app`; only POST /v1/chat/completions is disturbed."""
    rng = random.Random(plan.seed)

    async def faulty(scope: Scope, receive: Receive, send: Send) -> None:
        is_chat = scope["type"] == "http" and scope["path"].endswith("/chat/completions")
        fault = plan.draw(rng) if is_chat else None
        if fault is None:
            await app(scope, receive, send)
            return
        plan.injected[fault] += 1
        if fault == "cut":
            await app(scope, receive, _cut_after_first_chunk(send))
            return
        if fault == "slow":
            await asyncio.sleep(plan.slow_seconds)
        await _FAULT_RESPONSES[fault](send)

    return faulty


async def _respond(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _error(status: int, message: str, extra: list[tuple[bytes, bytes]] = []) -> Any:  # noqa: B006
    body = json.dumps({"error": {"message": message, "type": "fault", "code": None}}).encode()
    headers = [(b"content-type", b"application/json"), *extra]
    return lambda send: _respond(send, status, body, headers)


_FAULT_RESPONSES: dict[str, Callable[[Send], Awaitable[None]]] = {
    "rate_limit": _error(
        429, "injected rate limit", [(b"retry-after", b"0.01"), (b"retry-after-ms", b"10")]
    ),
    "server_error": _error(500, "injected server error"),
    "slow": _error(503, "injected slow answer"),
    "garbage": lambda send: _respond(
        send, 200, b'{"id": "x", "choices": [{"mess', [(b"content-type", b"application/json")]
    ),
}


def _cut_after_first_chunk(send: Send) -> Send:
    """Pass the response start and its first body chunk, then end the body early."""
    sent = 0

    async def cut(message: Message) -> None:
        nonlocal sent
        if message["type"] != "http.response.body":
            await send(message)
            return
        if sent == 0:
            chunk = message.get("body", b"")
            await send(
                {
                    "type": "http.response.body",
                    "body": chunk[: max(1, len(chunk) // 2)],
                    "more_body": False,
                }
            )
        sent += 1

    return cut
