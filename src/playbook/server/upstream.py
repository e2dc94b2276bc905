"""The upstream student: any OpenAI-compatible server, reached through a few shared httpx clients.
Transport failures and the upstream's own failures become 502/504 errors in OpenAI's shape."""

from __future__ import annotations

import itertools
import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
from fastapi.responses import Response

from playbook.server.errors import ApiError, upstream_failed, upstream_timed_out

log = logging.getLogger("playbook.server")
_MAX_DETAIL = 200


# httpcore's pool scans every one of its connections for each connection it checks when a
# request is queued or released: quadratic in the connections in flight. With 200 requests in
# flight on one client that scan took about 30% of the proxy's CPU (cProfile), so requests are
# spread over a few clients whose pools stay small. 8 x 125 keeps the 1,000 connections allowed.
POOL_SHARDS = 8
_SHARD = httpx.Limits(max_connections=125, max_keepalive_connections=32)


@asynccontextmanager
async def upstream_clients(
    base_url: str, timeout: float, key: str | None, shards: int = POOL_SHARDS
) -> AsyncIterator[list[httpx.AsyncClient]]:
    """The clients for the app's lifetime: pooled keep-alive connections to the upstream."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    tls = httpx.create_ssl_context()  # one for all: loading the CA bundle takes ~0.2 s each
    async with AsyncExitStack() as stack:
        clients = [
            httpx.AsyncClient(
                base_url=f"{base_url}/",
                headers=headers,
                timeout=httpx.Timeout(timeout),
                limits=_SHARD,
                verify=tls,
            )
            for _ in range(shards)
        ]
        for client in clients:
            await stack.enter_async_context(client)
        yield clients


class Upstream:
    """Chat completions and the model list of the upstream server."""

    def __init__(
        self,
        clients: Sequence[httpx.AsyncClient],
        timeout: float,
        key: str | None,
        secrets: Iterable[str] = (),
    ) -> None:
        """`secrets`: every other key the proxy holds (its clients', the reviewer's); an
        upstream that echoes one in an answer must not hand it to a client."""
        self._clients = itertools.cycle(clients)
        self._timeout = timeout
        self._key = key
        # Longest first, so a key that contains another is masked whole.
        held = {key, *secrets} - {None, ""}
        self._secrets = sorted((s for s in held if s), key=len, reverse=True)

    async def post_chat(self, body: bytes) -> httpx.Response:
        """The upstream's whole answer, or ApiError (502/504) if there is none."""
        return await self._send("POST", "chat/completions", body, stream=False)

    async def open_chat_stream(self, body: bytes) -> httpx.Response:
        """The upstream's answer with the body still to read (the caller closes it)."""
        return await self._send("POST", "chat/completions", body, stream=True)

    async def get_models(self) -> httpx.Response:
        return await self._send("GET", "models", None, stream=False)

    def failure(self, response: httpx.Response) -> ApiError | None:
        """The 502 an answer means for our client, or None if it is the client's to see.

        A 4xx about the request (unknown model, bad parameter, rate limit) is passed through
        (see `passed_through`); a refused key, a redirect or a 5xx is the proxy's problem.
        """
        status = response.status_code
        if 300 <= status < 400:
            where = self.masked(response.headers.get("location", "nowhere"))
            return upstream_failed(
                f"the model server answered {status}, a redirect to {where}; the proxy does not "
                "follow redirects: set serve.upstream_base_url to the final URL"
            )
        if status in (401, 403):
            log.warning("upstream refused the proxy's key (%d)", status)
            return upstream_failed(
                f"the model server refused the proxy's key ({status}); "
                "check serve.upstream_api_key_env"
            )
        if status >= 500:
            detail = f"the model server answered {status}: {self._detail(response)}"
            return upstream_failed(detail, _retry_after(response))
        return None

    def passed_through(self, response: httpx.Response, headers: dict[str, str]) -> Response:
        """The upstream's answer for the client, with every key the proxy holds masked (an
        upstream may echo the request's Authorization in an error) and its Retry-After kept."""
        media_type = response.headers.get("content-type", "application/json")
        content = response.content
        for secret in self._secrets:
            content = content.replace(secret.encode(), b"***")
        headers = {**headers, **_retry_after(response)}
        return Response(content, response.status_code, headers, media_type=media_type)

    def masked(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    async def _send(
        self, method: str, path: str, body: bytes | None, *, stream: bool
    ) -> httpx.Response:
        client = next(self._clients)
        headers = {"Content-Type": "application/json"} if body is not None else {}
        request = client.build_request(method, path, content=body, headers=headers)
        try:
            response = await client.send(request, stream=stream)
        except httpx.TimeoutException:
            log.warning("upstream %s: no answer within %g s", request.url, self._timeout)
            raise upstream_timed_out(self._timeout) from None
        except httpx.TransportError as exc:
            log.warning("upstream %s: %s", request.url, _reason(exc))
            raise upstream_failed(
                f"cannot reach the model server ({_reason(exc)}); "
                "check serve.upstream_base_url and that the server is running"
            ) from None
        if stream and response.status_code >= 300:
            await response.aread()  # an error answer is small; read it whole, then close
            await response.aclose()
        return response

    def _detail(self, response: httpx.Response) -> str:
        """The upstream's own error message, short, with the proxy's key masked if echoed."""
        try:
            error = response.json().get("error", {})
            text = error.get("message") if isinstance(error, dict) else str(error)
        except (ValueError, AttributeError):
            text = response.text
        text = self.masked(" ".join(str(text or response.reason_phrase or "no message").split()))
        return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 3] + "..."


def _retry_after(response: httpx.Response) -> dict[str, str]:
    """The upstream's Retry-After on a 429 or 503, for the client to honour (SDKs do)."""
    value = response.headers.get("retry-after")
    if response.status_code in (429, 503) and value and len(value) <= 64:
        return {"Retry-After": value}
    return {}


def _reason(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.ConnectError):
        return "connection refused" if "refused" in str(exc).lower() else "cannot connect"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the connection closed without an answer"
    return type(exc).__name__
