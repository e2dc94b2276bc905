"""Shared fixtures for the serving proxy: a real playbook file, a fake upstream student over
loopback HTTP that records what it receives, and proxies started on loopback in front of it."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import openai
import pytest

from playbook.chat.base import ChatModel
from playbook.embed import HashEmbedder
from playbook.server import ServeSettings, create_app
from playbook.sim.server import create_openai_app
from playbook.store.core import Store
from playbook.testing import FunctionChat, serve_app
from playbook.types import Attempt, Entry, Persona, Provenance, Scenario, Turn, Verdict

KEY = "sk-proxy-test-0123456789"
REPLY = "I understand how frustrating this is. I can offer travel credit for the full fare."
REFUND_TEXT = "I demand a full refund for my restricted ticket, this is outrageous!"
REFUND_GUIDANCE = (
    "Acknowledge the customer's frustration before anything else.",
    "Offer travel credit or one paid rebooking; never promise a refund.",
)
BAGGAGE_TEXT = "My suitcase never arrived in Boston and I need my medication from it."
BAGGAGE_GUIDANCE = ("Apologise for the lost bag.", "Give the baggage claim reference number.")
PERSONA = Persona("p1", "refund_restricted_ticket", "driver", "frustrated", demanding=True)


def make_entry(text: str, guidance: tuple[str, ...], status: str = "proposed") -> Entry:
    baseline = Attempt((), "No.", Verdict(1, "Unhelpful."))
    provenance = Provenance(
        "r1", 1, "reference", baseline, (Attempt(guidance, "ok", Verdict(4, "ok")),)
    )
    scenario = Scenario(PERSONA, (Turn("customer", text),))
    return Entry(None, scenario, guidance, provenance, status)


def add_entry(store: Store, text: str, guidance: tuple[str, ...], status: str = "proposed") -> int:
    embedder = HashEmbedder()
    return store.add_entry(make_entry(text, guidance, status), embedder.vector(text), embedder.id)


@dataclass
class Playbook:
    path: Path | str  # a SQLite file or a PostgreSQL URL
    store: Store
    refund: int
    baggage: int


@pytest.fixture
def playbook(playbook_location: Path | str) -> Iterator[Playbook]:
    """Two proposed entries: a refund demand and a lost bag; on SQLite, then on PostgreSQL."""
    with Store.open(playbook_location) as store:
        refund = add_entry(store, REFUND_TEXT, REFUND_GUIDANCE)
        baggage = add_entry(store, BAGGAGE_TEXT, BAGGAGE_GUIDANCE)
        yield Playbook(playbook_location, store, refund, baggage)


class RecordingApp:
    """ASGI wrapper that keeps the JSON body of every POST, to see exactly what arrived."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.bodies: list[dict[str, Any]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []

        async def recording_receive() -> Any:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                self.bodies.append(json.loads(b"".join(chunks)))
            return message

        await self.app(scope, receive=recording_receive, send=send)


@dataclass
class Upstream:
    url: str  # base URL of the OpenAI-compatible API, ending in /v1
    chat: FunctionChat
    bodies: list[dict[str, Any]] = field(default_factory=list)

    def system_prompt(self, index: int = -1) -> str:
        """The system message of a request the upstream model received."""
        return next(m.content for m in self.chat.requests[index].messages if m.role == "system")


def start_upstream(
    stack: ExitStack, models: dict[str, ChatModel], delay: float = 0.0
) -> tuple[str, RecordingApp]:
    recording = RecordingApp(create_openai_app(models, delay=delay))
    return stack.enter_context(serve_app(recording)) + "/v1", recording


@pytest.fixture(scope="session")
def upstream() -> Iterator[Upstream]:
    """A student model server answering REPLY to any request for model "student".

    One for the session (a uvicorn server takes 0.2 s to stop); tests look at its latest
    requests, or count them before and after.
    """
    chat = FunctionChat(lambda request: REPLY, name="student")
    with ExitStack() as stack:
        url, recording = start_upstream(stack, {"student": chat})
        yield Upstream(url, chat, recording.bodies)


StartProxy = Callable[..., str]


@pytest.fixture
def start_proxy(playbook: Playbook, upstream: Upstream) -> Iterator[StartProxy]:
    """start_proxy(**settings) runs a proxy over the playbook in front of the upstream; its URL."""
    defaults = ServeSettings(
        playbook=playbook.path,
        upstream_url=upstream.url,
        api_keys=frozenset({KEY}),
        approved_only=False,
        reload_interval=0.05,
    )
    with ExitStack() as stack:

        def start(**changes: Any) -> str:
            app = create_app(replace(defaults, **changes), playbook.store, HashEmbedder())
            return stack.enter_context(serve_app(app))

        yield start


@pytest.fixture
def proxy(start_proxy: StartProxy) -> str:
    return start_proxy()


@pytest.fixture
def client(proxy: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{proxy}/v1", api_key=KEY, max_retries=0) as sdk:
        yield sdk


Eventually = Callable[[Callable[[], Any]], Any]


@pytest.fixture
def eventually() -> Eventually:
    """Polls a condition the server meets in the background (a log write, a reload).

    The limit only stops a broken test from hanging; it asserts nothing about speed.
    """

    def wait(condition: Callable[[], Any]) -> Any:
        deadline = time.monotonic() + 10
        while not (result := condition()):
            if time.monotonic() > deadline:
                raise AssertionError("the server never got there")
            time.sleep(0.01)
        return result

    return wait
