"""Every failure in OpenAI's error shape, with the status an SDK client expects: 400 malformed,
401 key, 413 too large, 502 upstream failure, 504 upstream timeout."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import openai
import pytest

from playbook.chat.base import ChatRequest, ModelError
from playbook.sim.server import create_openai_app
from playbook.testing import FunctionChat, serve_app

KEY = "sk-proxy-test-0123456789"
MESSAGES: Any = [{"role": "user", "content": "I demand a full refund!"}]


def sdk(url: str, key: str = KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)


def post(
    url: str, body: Any = None, content: bytes | None = None, **headers: str
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {KEY}", **headers}
    path = f"{url}/v1/chat/completions"
    if content is not None:
        return httpx.post(path, content=content, headers=headers)
    return httpx.post(path, json=body, headers=headers)


def assert_openai_error(response: httpx.Response, status: int, kind: str) -> dict[str, Any]:
    assert response.status_code == status
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["type"] == kind
    assert error["message"]
    return dict(error)


@pytest.fixture(scope="module")
def other_upstreams() -> Iterator[dict[str, str]]:
    """A server whose model fails (500), a slow one, and a port with nothing listening."""

    def fail(request: ChatRequest) -> str:
        raise ModelError("the student crashed")

    with ExitStack() as stack:
        broken = stack.enter_context(serve_app(create_openai_app({"student": FunctionChat(fail)})))
        slow_app = create_openai_app({"student": FunctionChat(lambda r: "late")}, delay=1.0)
        slow = stack.enter_context(serve_app(slow_app))
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
        yield {"broken": f"{broken}/v1", "slow": f"{slow}/v1", "closed": f"{closed}/v1"}


MALFORMED: list[Any] = [
    {"model": "student"},
    {"model": "student", "messages": []},
    {"model": "student", "messages": "hello"},
    {"model": "student", "messages": [{"content": "no role"}]},
    {"model": "student", "messages": [{"role": "user", "content": 5}]},
    {"messages": MESSAGES},
    {"model": "student", "messages": MESSAGES, "stream": "yes"},
    ["not", "an", "object"],
]


def test_malformed_requests_get_400(proxy: str, upstream: Any) -> None:
    asked = len(upstream.chat.requests)
    for body in MALFORMED:
        assert_openai_error(post(proxy, body), 400, "invalid_request_error")
    assert len(upstream.chat.requests) == asked


def test_invalid_json_gets_400(proxy: str) -> None:
    error = assert_openai_error(post(proxy, content=b"{not json"), 400, "invalid_request_error")
    assert "JSON" in error["message"]


def test_the_sdk_raises_bad_request_for_a_malformed_request(proxy: str) -> None:
    with sdk(proxy) as client, pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="student", messages=[])
    assert caught.value.body["param"] == "messages"  # type: ignore[index]


@pytest.mark.parametrize("key", ["", "sk-wrong-key-000000000"])
def test_a_missing_or_wrong_key_gets_401_that_never_shows_a_key(proxy: str, key: str) -> None:
    with sdk(proxy, key or "unset") as client, pytest.raises(openai.AuthenticationError) as caught:
        client.chat.completions.create(model="student", messages=MESSAGES)
    assert caught.value.body["code"] == "invalid_api_key"  # type: ignore[index]
    response = httpx.post(f"{proxy}/v1/chat/completions", json={})
    assert_openai_error(response, 401, "invalid_request_error")
    assert KEY not in response.text and (not key or key not in response.text)
    assert response.headers["www-authenticate"] == "Bearer"


def test_every_api_route_needs_the_key(proxy: str) -> None:
    assert httpx.get(f"{proxy}/v1/models").status_code == 401
    assert httpx.post(f"{proxy}/v1/guidance", json={"messages": MESSAGES}).status_code == 401
    assert httpx.post(f"{proxy}/v1/playbook/reload").status_code == 401
    assert httpx.get(f"{proxy}/healthz").status_code == 200  # monitoring needs no key


def test_a_request_too_large_gets_413(start_proxy: Any) -> None:
    url = start_proxy(max_request_bytes=2048)
    big = [{"role": "user", "content": "refund " * 1000}]
    with sdk(url) as client, pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="student", messages=big)
    assert caught.value.status_code == 413
    assert caught.value.body["code"] == "request_too_large"  # type: ignore[index]
    chunked = post(url, content=iter([b'{"messages": "', b"x" * 4096, b'"}']))  # type: ignore[arg-type]
    assert_openai_error(chunked, 413, "invalid_request_error")


@pytest.mark.parametrize("upstream_name", ["broken", "closed"])
def test_an_upstream_failure_gets_502(
    start_proxy: Any, other_upstreams: dict[str, str], upstream_name: str
) -> None:
    url = start_proxy(upstream_url=other_upstreams[upstream_name])
    with sdk(url) as client, pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="student", messages=MESSAGES)
    assert caught.value.status_code == 502
    assert caught.value.body["code"] == "upstream_error"  # type: ignore[index]
    with sdk(url) as client, pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="student", messages=MESSAGES, stream=True)


def test_an_upstream_timeout_gets_504(start_proxy: Any, other_upstreams: dict[str, str]) -> None:
    url = start_proxy(upstream_url=other_upstreams["slow"], timeout=0.2)
    with sdk(url) as client, pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="student", messages=MESSAGES)
    assert caught.value.status_code == 504
    assert caught.value.body["code"] == "upstream_timeout"  # type: ignore[index]


def test_an_upstream_4xx_about_the_request_is_passed_through(proxy: str) -> None:
    with sdk(proxy) as client, pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="no-such-model", messages=MESSAGES)
    assert caught.value.body["code"] == "model_not_found"  # type: ignore[index]


def test_unknown_routes_answer_in_openai_shape(proxy: str) -> None:
    assert_openai_error(httpx.get(f"{proxy}/v1/nothing-here"), 404, "invalid_request_error")
