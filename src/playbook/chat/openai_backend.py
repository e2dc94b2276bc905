"""ChatModel over any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp...) via the SDK.

Retries (429, 5xx, timeouts, connection errors; backoff with jitter; Retry-After) are the SDK's.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from typing import TypeVar, cast

import httpx
import openai
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam
from openai.types.chat.completion_create_params import CompletionCreateParamsNonStreaming

from playbook.chat.base import ChatRequest, Completion, ModelError
from playbook.chat.connection import UNREACHABLE, connection_reason, timed_out
from playbook.config import ConfigError, EmbedderConfig, ModelConfig
from playbook.types import Usage

# Local servers (Ollama, vLLM, llama.cpp) ignore the key, but the SDK refuses to start without one.
PLACEHOLDER_API_KEY = "not-needed"

_MAX_SERVER_MESSAGE = 200
_MIN_SECRET_LENGTH = 8

T = TypeVar("T")


def make_openai_client(
    cfg: ModelConfig | EmbedderConfig, env: Mapping[str, str], where: str
) -> AsyncOpenAI:
    """An SDK client for one configured endpoint; `where` names the config section for errors.

    It sends through the SDK's aiohttp transport (proxies from the environment, as httpx): with
    32 calls in flight httpx's connection pool scans every connection for each request, and
    learning at concurrency 32 spent 0.3 ms more CPU per call on it (bench/bench_learn.py)."""
    # EmbedderConfig has no max_retries field; the SDK's own default then applies.
    retries = cfg.max_retries if isinstance(cfg, ModelConfig) else openai.DEFAULT_MAX_RETRIES
    return AsyncOpenAI(
        api_key=_api_key(cfg, env, where),
        base_url=cfg.base_url,
        timeout=cfg.timeout,
        max_retries=retries,
        http_client=openai.DefaultAioHttpClient(),
    )


def _api_key(cfg: ModelConfig | EmbedderConfig, env: Mapping[str, str], where: str) -> str:
    var = cfg.api_key_env
    if var is None:
        return PLACEHOLDER_API_KEY
    key = env.get(var, "")
    if not key:
        raise ConfigError(f"config: {where}.api_key_env names {var}, which is not set; export it")
    return key


class OpenAIChat:
    """A ChatModel answering through the SDK's chat completions endpoint for one model name."""

    def __init__(
        self,
        model: str,
        client: AsyncOpenAI,
        *,
        name: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        api_key_env: str | None = None,
    ) -> None:
        self._model = model
        self._client = client
        self._name = name or f"openai:{model}"
        self._temperature = temperature
        self._max_tokens = max_tokens
        self._api_key_env = api_key_env  # only to tell the user where the key comes from

    @property
    def name(self) -> str:
        return self._name

    @property
    def identity(self) -> str:
        return f"{self._name}|{self.endpoint}|t={self._temperature}|max={self._max_tokens}"

    @property
    def endpoint(self) -> str:
        return str(self._client.base_url).rstrip("/")

    async def complete(self, request: ChatRequest) -> Completion:
        """One completion. The SDK retries 429, 5xx, timeouts and lost connections itself; an
        answer that is not a chat completion (garbage, an empty choice list) is retried here,
        with the same bounded backoff and jitter, before it is reported."""
        for attempt in range(self._client.max_retries + 1):
            try:
                return self._completion(await self._create(request))
            except ModelError as exc:
                if exc.cause != "bad answer" or attempt == self._client.max_retries:
                    raise
            await asyncio.sleep(_BACKOFF_S * 2**attempt * random.uniform(0.75, 1.0))
        raise AssertionError("unreachable")

    async def _create(self, request: ChatRequest) -> ChatCompletion:
        # What `client.chat.completions.create` sends, through the client method it calls:
        # `create` first walks the body against the SDK's parameter types (every message against
        # each of its six message types), which changes nothing in plain text messages and cost
        # 0.7 ms of CPU a call, more than the HTTP round trip. A test checks that the two send
        # the same request.
        try:
            return await self._client.post(
                "/chat/completions",
                body=self._body(request),
                options=_options(request),
                cast_to=ChatCompletion,
            )
        except openai.OpenAIError as exc:
            problem, cause, fatal = self._problem(exc)
            raise ModelError(self._describe(problem), cause=cause, fatal=fatal) from exc
        except ValueError as exc:  # the SDK lets a body that is not JSON through as-is
            problem = f"the answer is not JSON ({exc}); check base_url"
            raise ModelError(self._describe(problem), cause="bad answer") from exc

    def _body(self, request: ChatRequest) -> CompletionCreateParamsNonStreaming:
        """The request body, its fields in the order `create` puts them; unset ones left out
        (not sent as null)."""
        body: CompletionCreateParamsNonStreaming = {
            "model": self._model,
            "messages": _wire_messages(request),
        }
        max_tokens = _first(request.max_tokens, self._max_tokens)
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        if request.seed is not None:
            body["seed"] = request.seed
        temperature = _first(request.temperature, self._temperature)
        if temperature is not None:
            body["temperature"] = temperature
        return body

    async def aclose(self) -> None:
        """Close the SDK client's connection pool."""
        await self._client.close()

    def _completion(self, response: ChatCompletion) -> Completion:
        # A wrong base_url can reach a server that answers 200 with something else entirely.
        if not isinstance(response, ChatCompletion) or not response.choices:
            raise ModelError(
                f"{self._where()}: the answer has no chat completion choices; "
                "check base_url points at an OpenAI-compatible API (often ending in /v1)",
                cause="bad answer",
            )
        choice = response.choices[0]
        usage = response.usage
        return Completion(
            text=choice.message.content or "",
            usage=Usage(usage.prompt_tokens, usage.completion_tokens) if usage else Usage(),
            finish_reason=choice.finish_reason,
        )

    def _where(self) -> str:
        return f"{self._name} at {self.endpoint}"

    def _describe(self, problem: str) -> str:
        """One line that says what failed and what to change; never contains the API key."""
        message = f"{self._where()}: {problem}"
        message = " ".join(message.split())
        # Servers may echo the key back ("Incorrect API key provided: sk-..."). Very short
        # "keys" are placeholders for local servers; hiding them would garble ordinary words.
        key = self._client.api_key
        if key != PLACEHOLDER_API_KEY and len(key) >= _MIN_SECRET_LENGTH:
            message = message.replace(key, "***")
        return message

    def _problem(self, exc: openai.OpenAIError) -> tuple[str, str, bool]:
        """What went wrong, its kind, and whether it is a misconfiguration (fatal)."""
        # APITimeoutError subclasses APIConnectionError, and the transport reports every
        # connection failure as a timeout: the cause decides.
        if isinstance(exc, openai.APIConnectionError):
            reason = connection_reason(exc)
            if reason in UNREACHABLE:
                text = f"cannot connect ({reason}); check base_url and that the server is running"
                return text, "connection", True
            if timed_out(exc):
                text = (
                    f"no answer within {_timeout_seconds(self._client):g} s "
                    f"(max_retries={self._client.max_retries}); "
                    "raise `timeout` in the model's config"
                )
                return text, "timeout", False
            return f"connection lost ({reason})", "connection", False
        if isinstance(exc, openai.APIStatusError):
            return self._status_problem(exc)
        if isinstance(exc, openai.APIResponseValidationError):
            text = "the answer is not an OpenAI chat completion; check base_url"
            return text, "bad answer", False
        return str(exc), "error", False

    def _status_problem(self, exc: openai.APIStatusError) -> tuple[str, str, bool]:
        status, detail = exc.status_code, _server_message(exc)
        if status in (401, 403):
            text = f"the server refused the API key ({status}: {detail}); {self._key_hint()}"
            return text, "auth", True
        if status == 404 and not _has_version_path(self.endpoint):
            # Ollama, vLLM and llama.cpp serve the OpenAI API under /v1: without it every path
            # is unknown, which says nothing about the model.
            text = (
                f"no OpenAI-compatible API at this address (404: {detail}); base_url usually "
                f"ends in /v1: try {self.endpoint}/v1"
            )
            return text, "not found", True
        if status == 404:
            text = (
                f"model {self._model!r} not found at this endpoint (404: {detail}); "
                "check the model name in the spec and base_url"
            )
            return text, "not found", True
        if status == 429:
            text = (
                f"rate limited (429: {detail}; max_retries={self._client.max_retries}); "
                "lower concurrency or raise `max_retries`"
            )
            return text, "rate limited", False
        kind = "server error" if status >= 500 else f"http {status}"
        return f"the server answered {status}: {detail}", kind, False

    def _key_hint(self) -> str:
        if self._api_key_env is None:
            return "no key is configured; set `api_key_env` to the environment variable holding it"
        return f"check the key in the environment variable {self._api_key_env}"


def _has_version_path(base_url: str) -> bool:
    """True when the URL's path names an API version (/v1, /v1beta, /openai/v1...)."""
    path = httpx.URL(base_url).path
    return any(part[:1] == "v" and part[1:2].isdigit() for part in path.split("/"))


def _wire_messages(request: ChatRequest) -> list[ChatCompletionMessageParam]:
    # Our roles are a subset of the SDK's; mypy cannot narrow the TypedDict union from a Literal.
    return [
        cast(ChatCompletionMessageParam, {"role": m.role, "content": m.content})
        for m in request.messages
    ]


def _options(request: ChatRequest) -> openai.RequestOptions:
    """The options `create` gives: bearer auth, and the idempotency key if there is one (the
    SDK sends the same headers on its own retries, so they are idempotent too)."""
    options: openai.RequestOptions = {"security": {"bearer_auth": True}}
    if request.idempotency_key is not None:
        options["headers"] = {"Idempotency-Key": request.idempotency_key}
    return options


def _first(value: T | None, default: T | None) -> T | None:
    return value if value is not None else default


def _timeout_seconds(client: AsyncOpenAI) -> float:
    timeout = client.timeout
    if isinstance(timeout, int | float):
        return float(timeout)
    read = getattr(timeout, "read", None)
    return float(read) if isinstance(read, int | float) else float("inf")


_BACKOFF_S = 0.25  # first wait before asking again after an answer that is not a completion


def _server_message(exc: openai.APIStatusError) -> str:
    """The server's own words: OpenAI-style `error.message` (the SDK unwraps `error`) or text."""
    body = exc.body
    if isinstance(body, Mapping) and isinstance(body.get("message"), str):
        text = body["message"]
    elif isinstance(body, str) and body:
        text = body
    else:
        text = exc.response.reason_phrase or "no message"
    text = " ".join(text.split())
    if len(text) > _MAX_SERVER_MESSAGE:
        text = text[: _MAX_SERVER_MESSAGE - 3] + "..."
    return text
