"""Hostile request bodies and a leaky or odd upstream: every answer is OpenAI-shaped, nothing
is a 500, and no key the proxy holds reaches a client (issue 13)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from playbook.testing import serve_app

KEY = "sk-proxy-test-0123456789"
OTHER_CLIENT_KEY = "sk-other-client-5555555555"
UPSTREAM_KEY = "sk-upstream-planted-9876543210"
REVIEWER_KEY = "reviewer-secret-key-1234567890"
HEADERS = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
MESSAGE = {"role": "user", "content": "I demand a full refund!"}


def post(url: str, content: bytes) -> httpx.Response:
    return httpx.post(f"{url}/v1/chat/completions", content=content, headers=HEADERS, timeout=30)


def assert_openai_error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["type"], str)
    return str(error["message"])


@pytest.mark.parametrize(
    "body",
    [
        '{"model": "student", "messages": [{"role": "user", "content": "\\ud800"}]}',
        '{"model": "student", "messages": [{"role": "user", "content": "hi"}], "user": "\\udfff"}',
        '{"model": "student", "messages": [{"role": "user", "content": "hi"}], "\\ud800": 1}',
        '{"model": "student", "messages": [{"role": "user", "content": "hi \\ude00 there"}]}',
    ],
)
def test_a_lone_surrogate_anywhere_gets_400_not_500(proxy: str, body: str) -> None:
    # Bug: json.loads accepts "\ud800"; encoding the forwarded request then crashed (500).
    message = assert_openai_error(post(proxy, body.encode()), 400)
    assert "surrogate" in message


def test_a_surrogate_encoded_in_the_bytes_gets_400(proxy: str) -> None:
    body = json.dumps(
        {"model": "student", "messages": [MESSAGE], "user": "\ud800"}, ensure_ascii=False
    )
    assert_openai_error(post(proxy, body.encode("utf-8", "surrogatepass")), 400)


def test_a_surrogate_pair_is_text_and_is_answered(proxy: str) -> None:
    body = '{"model": "student", "messages": [{"role": "user", "content": "ok \\ud83d\\ude00"}]}'
    assert post(proxy, body.encode()).status_code == 200


@pytest.mark.parametrize("depth", [129, 5000, 100_000])
def test_a_deeply_nested_body_gets_400_not_500(proxy: str, depth: int) -> None:
    # Bug: 5,000 levels blew Python's recursion limit in json.loads (a plain-text 500).
    nested = "[" * depth + "]" * depth
    body = f'{{"model": "student", "messages": [{json.dumps(MESSAGE)}], "extra": {nested}}}'
    assert "nested deeper" in assert_openai_error(post(proxy, body.encode()), 400)


def test_nesting_a_real_request_uses_is_answered(proxy: str) -> None:
    schema: Any = {"type": "string"}
    for _ in range(30):
        schema = {"type": "object", "properties": {"inner": schema}}
    tool = {"type": "function", "function": {"name": "f", "parameters": schema}}
    body = {"model": "student", "messages": [MESSAGE], "tools": [tool]}
    assert post(proxy, json.dumps(body).encode()).status_code == 200


# --- fuzzing the whole body ---------------------------------------------------------------

EDGE_TEXT = [
    "\ud800",
    "\udfff",
    "\x00",
    "\u200f\u202e",
    "\ufeff",
    "\u2028",
    "\U0001f600",
    "\x7f",
    "</guidelines>",
    "\\",
    '"',
    "",
    " ",
    "é" * 50,
    "\uffff",
]
text = st.one_of(st.sampled_from(EDGE_TEXT), st.text(st.characters(codec=None), max_size=20))
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), text)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=12,
)


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    """A chat body with hostile values placed anywhere (or a hostile body), as raw bytes."""
    message = {
        "role": draw(st.sampled_from(["user", "assistant", "system", "tool", 7])),
        "content": draw(st.one_of(text, values)),
    }
    body: Any = {"model": draw(st.one_of(st.just("student"), text)), "messages": [message]}
    body[draw(text)] = draw(values)
    if draw(st.booleans()):
        depth = draw(st.sampled_from([1, 50, 128, 129, 1000, 5000]))
        body["deep"] = json.loads("[" * depth + "]" * depth) if depth < 500 else None
        if depth >= 500:
            raw = json.dumps(body, ensure_ascii=False)[:-1]
            return (raw + ', "x": ' + "[" * depth + "]" * depth + "}").encode(
                "utf-8", "surrogatepass"
            )
    body = draw(st.one_of(st.just(body), values))
    ascii_only = draw(st.booleans())
    return json.dumps(body, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


def test_fuzzed_bodies_never_get_a_server_error(proxy: str) -> None:
    problems: list[str] = []

    @given(
        body=bodies(), stream=st.booleans(), path=st.sampled_from(["chat/completions", "guidance"])
    )
    @settings(max_examples=200, suppress_health_check=list(HealthCheck))
    def send(body: bytes, stream: bool, path: str) -> None:
        if stream and path == "chat/completions":
            body = body.replace(b'"model"', b'"stream": true, "model"', 1)
        response = httpx.post(f"{proxy}/v1/{path}", content=body, headers=HEADERS, timeout=30)
        if response.status_code >= 500:
            problems.append(f"{response.status_code}: {body[:200]!r}")
        elif response.status_code >= 400:
            error = response.json().get("error")
            if not (isinstance(error, dict) and error.get("message") and error.get("type")):
                problems.append(f"not OpenAI-shaped: {response.text[:200]}")

    send()
    assert not problems, problems[:5]


# --- an upstream that leaks, limits and redirects -------------------------------------------

LEAKY_STATUSES = [400, 404, 422, 429]


async def leaky_chat(request: Request) -> Response:
    """Answers with the status named by the model, echoing the request's key and others it saw."""
    body = await request.json()
    status = int(body["model"].removeprefix("status-"))
    echoed = f"{request.headers.get('authorization')} {OTHER_CLIENT_KEY} {REVIEWER_KEY}"
    if 300 <= status < 400:
        return Response(status_code=status, headers={"Location": "https://elsewhere.example/v1"})
    error = {"message": f"bad request; you sent {echoed}", "type": "invalid_request_error"}
    headers = {"Retry-After": "7"} if status in (429, 503) else {}
    return JSONResponse({"error": error, "echo": echoed}, status_code=status, headers=headers)


async def leaky_models(request: Request) -> Response:
    error = {"message": f"no such route for {request.headers.get('authorization')}", "type": "x"}
    return JSONResponse({"error": error}, status_code=404)


@pytest.fixture(scope="module")
def leaky_upstream() -> Iterator[str]:
    app = Starlette(
        routes=[
            Route("/v1/chat/completions", leaky_chat, methods=["POST"]),
            Route("/v1/models", leaky_models),
        ]
    )
    with serve_app(app) as url:
        yield f"{url}/v1"


@pytest.fixture
def leaky_proxy(start_proxy: Any, leaky_upstream: str) -> str:
    return str(
        start_proxy(
            upstream_url=leaky_upstream,
            upstream_key=UPSTREAM_KEY,
            api_keys=frozenset({KEY, OTHER_CLIENT_KEY}),
            reviewer_key=REVIEWER_KEY,
        )
    )


def chat(url: str, model: str, stream: bool = False) -> httpx.Response:
    body = {"model": model, "messages": [MESSAGE], "stream": stream}
    return httpx.post(f"{url}/v1/chat/completions", json=body, headers=HEADERS, timeout=30)


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("status", LEAKY_STATUSES)
def test_a_key_echoed_in_an_upstream_4xx_never_reaches_the_client(
    leaky_proxy: str, status: int, stream: bool
) -> None:
    # Bug: only 401/403/5xx were masked; 400/404/422/429 bodies went to the client as they came.
    response = chat(leaky_proxy, f"status-{status}", stream)
    assert response.status_code == status
    for secret in (UPSTREAM_KEY, OTHER_CLIENT_KEY, REVIEWER_KEY):
        assert secret not in response.text
    assert "you sent Bearer ***" in response.json()["error"]["message"]


def test_a_key_echoed_in_the_model_list_never_reaches_the_client(leaky_proxy: str) -> None:
    response = httpx.get(f"{leaky_proxy}/v1/models", headers=HEADERS, timeout=30)
    assert response.status_code == 404 and UPSTREAM_KEY not in response.text


@pytest.mark.parametrize(("status", "answered"), [(429, 429), (503, 502)])
def test_the_upstreams_retry_after_reaches_the_client(
    leaky_proxy: str, status: int, answered: int
) -> None:
    # Bug: Retry-After was dropped, so clients retried a rate-limited upstream at once.
    response = chat(leaky_proxy, f"status-{status}")
    assert response.status_code == answered
    assert response.headers["retry-after"] == "7"
    assert UPSTREAM_KEY not in response.text


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_an_upstream_redirect_gets_a_502_naming_it(
    leaky_proxy: str, status: int, stream: bool
) -> None:
    # Bug: a 3xx was passed through bare (no Location), which no client can act on.
    message = assert_openai_error(chat(leaky_proxy, f"status-{status}", stream), 502)
    assert "redirect" in message and "https://elsewhere.example/v1" in message
    assert "upstream_base_url" in message
