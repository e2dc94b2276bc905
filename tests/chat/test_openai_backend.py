"""OpenAIChat against a real loopback HTTP server: round trips, retries and the errors users see."""

from __future__ import annotations

import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from playbook.chat.base import ChatModel, ChatRequest, Message, ModelError
from playbook.chat.factory import build_chat_model
from playbook.chat.openai_backend import OpenAIChat, make_openai_client
from playbook.config import ConfigError, ModelConfig
from playbook.sim.server import create_openai_app
from playbook.testing import FunctionChat, serve_app
from playbook.types import Usage

SECRET = "sk-test-0123456789abcdef"
HELLO = ChatRequest(messages=(Message("user", "hello there"),))

Connect = Callable[..., OpenAIChat]


def echo_chat() -> FunctionChat:
    return FunctionChat(lambda request: f"you said: {request.messages[-1].content}")


def no_sim(name: str) -> ChatModel:
    raise AssertionError(f"sim:{name} should not be built here")


@pytest.fixture
async def connect() -> AsyncIterator[Connect]:
    """Builds OpenAIChat models the way the CLI does (config -> factory) and closes them after."""
    made: list[OpenAIChat] = []

    def build(
        base_url: str, model: str = "echo", env: dict[str, str] | None = None, **fields: Any
    ) -> OpenAIChat:
        fields.setdefault("max_retries", 0)
        cfg = ModelConfig(spec=f"openai:{model}", base_url=f"{base_url}/v1", **fields)
        chat = build_chat_model("student", cfg, env or {}, no_sim)
        assert isinstance(chat, OpenAIChat)
        made.append(chat)
        return chat

    yield build
    for chat in made:
        await chat.aclose()


@pytest.fixture
def echo_server() -> Iterator[tuple[str, FunctionChat]]:
    chat = echo_chat()
    with serve_app(create_openai_app({"echo": chat})) as url:
        yield url, chat


def fail_first(app: FastAPI, statuses: list[int], headers: dict[str, str]) -> list[Request]:
    """Make `app` answer the given error statuses first; returns the requests it sees."""
    seen: list[Request] = []

    @app.middleware("http")
    async def fail(request: Request, call_next: Callable[[Request], Any]) -> Response:
        seen.append(request)
        if len(seen) <= len(statuses):
            error = {"error": {"message": "try again later", "type": "server_error"}}
            return JSONResponse(error, status_code=statuses[len(seen) - 1], headers=headers)
        response: Response = await call_next(request)
        return response

    return seen


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_round_trip_sends_request_fields_and_returns_text_and_usage(
    echo_server: tuple[str, FunctionChat], connect: Connect
) -> None:
    url, server_model = echo_server
    request = ChatRequest(
        messages=(Message("system", "Be brief."), Message("user", "where is my refund")),
        temperature=0.3,
        max_tokens=50,
        seed=7,
    )

    completion = await connect(url).complete(request)

    assert completion.text == "you said: where is my refund"
    assert completion.usage == Usage(input_tokens=6, output_tokens=6)
    assert completion.finish_reason == "stop"
    assert server_model.requests == [request]


async def test_config_defaults_apply_and_unset_fields_are_omitted(
    echo_server: tuple[str, FunctionChat], connect: Connect
) -> None:
    url, server_model = echo_server

    await connect(url, temperature=0.5, max_tokens=20).complete(HELLO)
    await connect(url, temperature=0.5).complete(
        ChatRequest(messages=HELLO.messages, temperature=0.0)
    )

    first, second = server_model.requests
    assert (first.temperature, first.max_tokens, first.seed) == (0.5, 20, None)
    assert (second.temperature, second.max_tokens) == (0.0, None)


async def test_unknown_model_names_the_model_and_endpoint(
    echo_server: tuple[str, FunctionChat], connect: Connect
) -> None:
    url, _ = echo_server

    with pytest.raises(ModelError) as caught:
        await connect(url, model="llama3").complete(HELLO)

    message = str(caught.value)
    assert message.startswith(f"openai:llama3 at {url}/v1: model 'llama3' not found")
    assert "\n" not in message


async def test_a_base_url_without_v1_is_named_not_reported_as_an_unknown_model(
    echo_server: tuple[str, FunctionChat],
) -> None:
    # Bug (issue 16): http://host:port without /v1 was reported as "model 'echo' not found".
    url, _ = echo_server
    cfg = ModelConfig(spec="openai:echo", base_url=url, max_retries=0)
    chat = build_chat_model("student", cfg, {}, no_sim)
    try:
        with pytest.raises(ModelError) as caught:
            await chat.complete(HELLO)
    finally:
        await chat.aclose()  # type: ignore[attr-defined]

    message = str(caught.value)
    assert f"try {url}/v1" in message and "not found" not in message.split("(")[0]
    assert caught.value.fatal


async def test_unreachable_endpoint_says_cannot_connect_and_names_base_url(
    connect: Connect,
) -> None:
    url = f"http://127.0.0.1:{closed_port()}"

    with pytest.raises(ModelError) as caught:
        await connect(url, model="llama3").complete(HELLO)

    assert str(caught.value) == (
        f"openai:llama3 at {url}/v1: cannot connect (connection refused); "
        "check base_url and that the server is running"
    )


async def test_server_errors_are_retried_until_success(connect: Connect) -> None:
    app = create_openai_app({"echo": echo_chat()})
    # retry-after-ms keeps the test fast; without it the SDK backs off for about 1.5 s.
    seen = fail_first(app, [500, 503], headers={"retry-after-ms": "10"})
    with serve_app(app) as url:
        completion = await connect(url, max_retries=2).complete(HELLO)

    assert completion.text == "you said: hello there"
    assert len(seen) == 3


async def test_gives_up_after_max_retries_with_the_status_and_server_message(
    connect: Connect,
) -> None:
    app = create_openai_app({"echo": echo_chat()})
    seen = fail_first(app, [500, 500, 500], headers={"retry-after-ms": "10"})
    with serve_app(app) as url, pytest.raises(ModelError) as caught:
        await connect(url, max_retries=1).complete(HELLO)

    assert str(caught.value) == f"openai:echo at {url}/v1: the server answered 500: try again later"
    assert len(seen) == 2


async def test_rate_limit_with_retry_after_zero_is_retried(connect: Connect) -> None:
    app = create_openai_app({"echo": echo_chat()})
    seen = fail_first(app, [429], headers={"retry-after": "0"})
    with serve_app(app) as url:
        completion = await connect(url, max_retries=1).complete(HELLO)

    assert completion.text == "you said: hello there"
    assert len(seen) == 2


async def test_timeout_names_the_seconds_and_the_config_field(connect: Connect) -> None:
    app = create_openai_app({"echo": echo_chat()}, delay=1.0)
    with serve_app(app) as url, pytest.raises(ModelError) as caught:
        await connect(url, timeout=0.1).complete(HELLO)

    message = str(caught.value)
    assert message.startswith(f"openai:echo at {url}/v1: no answer within 0.1 s")
    assert "`timeout`" in message


@pytest.fixture
def hanging_up_server() -> Iterator[tuple[str, list[bytes]]]:
    """A TCP server that reads each request (kept in the list) and hangs up without an answer."""
    received: list[bytes] = []
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        stop = threading.Event()

        def hang_up() -> None:
            while not stop.is_set():
                connection, _ = listener.accept()
                with connection:
                    received.append(connection.recv(65536))

        threading.Thread(target=hang_up, daemon=True).start()
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", received
        stop.set()
        socket.create_connection(listener.getsockname()).close()


async def test_a_dropped_connection_is_reported_as_lost_not_as_a_timeout(
    connect: Connect, hanging_up_server: tuple[str, list[bytes]]
) -> None:
    url, _ = hanging_up_server
    with pytest.raises(ModelError) as caught:
        await connect(url, timeout=30).complete(HELLO)

    assert str(caught.value).startswith(f"openai:echo at {url}/v1: connection lost (")
    assert caught.value.cause == "connection" and not caught.value.fatal


async def test_https_goes_through_the_proxy_the_environment_names(
    connect: Connect, hanging_up_server: tuple[str, list[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy, received = hanging_up_server
    monkeypatch.setenv("HTTPS_PROXY", proxy)
    for name in ("NO_PROXY", "no_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)

    with pytest.raises(ModelError):
        await connect("https://model.invalid").complete(HELLO)

    assert received[0].startswith(b"CONNECT model.invalid:443 HTTP/1.1\r\n")


def test_api_key_env_that_is_not_set_is_a_config_error() -> None:
    cfg = ModelConfig(spec="openai:gpt-4o", api_key_env="TEACHER_KEY")

    with pytest.raises(ConfigError) as caught:
        make_openai_client(cfg, {"OTHER": "x"}, "models.teacher")

    assert str(caught.value) == (
        "config: models.teacher.api_key_env names TEACHER_KEY, which is not set; export it"
    )


def record_authorization(app: FastAPI) -> list[str]:
    seen: list[str] = []

    @app.middleware("http")
    async def record(request: Request, call_next: Callable[[Request], Any]) -> Response:
        seen.append(request.headers.get("authorization", ""))
        response: Response = await call_next(request)
        return response

    return seen


async def test_key_from_the_named_env_var_is_sent_as_bearer(connect: Connect) -> None:
    app = create_openai_app({"echo": echo_chat()})
    seen = record_authorization(app)
    with serve_app(app) as url:
        await connect(url, api_key_env="STUDENT_KEY", env={"STUDENT_KEY": SECRET}).complete(HELLO)
        await connect(url).complete(HELLO)

    assert seen == [f"Bearer {SECRET}", "Bearer not-needed"]


async def test_rejected_key_names_the_env_var_and_never_shows_the_key(connect: Connect) -> None:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def refuse(request: Request) -> JSONResponse:
        # Like OpenAI, echo the key back in the error, which must not reach the user's logs.
        key = request.headers["authorization"].removeprefix("Bearer ")
        error = {"message": f"Incorrect API key provided: {key}", "type": "invalid_request_error"}
        return JSONResponse({"error": error}, status_code=401)

    with serve_app(app) as url, pytest.raises(ModelError) as caught:
        chat = connect(url, api_key_env="STUDENT_KEY", env={"STUDENT_KEY": SECRET})
        await chat.complete(HELLO)

    message = str(caught.value)
    assert "STUDENT_KEY" in message
    assert "401" in message
    assert SECRET not in message
    assert SECRET not in repr(caught.value)


async def test_a_non_openai_answer_points_at_base_url(connect: Connect) -> None:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def html() -> Response:
        return Response("<html>a web page</html>", media_type="text/html")

    with serve_app(app) as url, pytest.raises(ModelError) as caught:
        await connect(url).complete(HELLO)

    assert "check base_url" in str(caught.value)


def record_requests(app: FastAPI) -> list[tuple[str, str, dict[str, str], bytes]]:
    """What reaches `app`: method, path, headers and body of every request."""
    seen: list[tuple[str, str, dict[str, str], bytes]] = []

    @app.middleware("http")
    async def record(request: Request, call_next: Callable[[Request], Any]) -> Response:
        headers = dict(request.headers)
        seen.append((request.method, request.url.path, headers, await request.body()))
        response: Response = await call_next(request)
        return response

    return seen


async def test_the_request_sent_is_the_one_chat_completions_create_sends(
    connect: Connect,
) -> None:
    """OpenAIChat posts its body through the SDK client without `create`'s type walk (0.7 ms of
    CPU a call); the SDK must see no difference: same path, headers and body bytes."""
    app = create_openai_app({"echo": echo_chat()})
    seen = record_requests(app)
    messages = (Message("system", "Be brief, ünïcode."), Message("user", "where is my refund"))
    with serve_app(app) as url:
        chat = connect(url, api_key_env="STUDENT_KEY", env={"STUDENT_KEY": SECRET}, max_tokens=9)
        await chat.complete(ChatRequest(messages, temperature=0.3, seed=7, idempotency_key="k-1"))
        await chat.complete(ChatRequest(messages))
        client = chat._client
        wire: list[Any] = [{"role": m.role, "content": m.content} for m in messages]
        await client.chat.completions.create(
            model="echo",
            messages=wire,
            temperature=0.3,
            max_tokens=9,
            seed=7,
            extra_headers={"Idempotency-Key": "k-1"},
        )
        await client.chat.completions.create(model="echo", messages=wire, max_tokens=9)

    ours, theirs = seen[:2], seen[2:]
    assert ours == theirs
    assert ours[0][2]["idempotency-key"] == "k-1" and "idempotency-key" not in ours[1][2]
