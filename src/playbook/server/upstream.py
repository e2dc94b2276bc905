"""The upstream student: any OpenAI-compatible server, reached through one pooled aiohttp session
(keep-alive connections for the app's lifetime). Transport failures and the upstream's own
failures become 502/504 errors in OpenAI's shape."""

from __future__ import annotations

import itertools
import json
import logging
import os
import ssl
import urllib.request
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import certifi
from fastapi.responses import Response
from yarl import URL

from playbook.server.errors import ApiError, upstream_failed, upstream_timed_out

log = logging.getLogger("playbook.server")
_MAX_DETAIL = 200
MAX_CONNECTIONS = 1000
# Idle connections are dropped before the upstream drops them: uvicorn-based servers (vLLM,
# llama.cpp's, LiteLLM) close theirs after 5 s, and a POST sent on a connection the server has
# just closed fails (aiohttp, rightly, does not resend one).
KEEPALIVE_S = 4.0
_JSON = {"Content-Type": "application/json"}

# aiohttp rather than httpx on the request path: on the proxy's loopback benchmark httpx took
# about 1 ms of CPU per forwarded request and sent the request line and the body in separate
# writes (the upstream woke twice); aiohttp took a quarter of that CPU and one write.


@dataclass(frozen=True)
class UpstreamClient:
    """One pooled session and the upstream's base URL (ending in /v1)."""

    session: aiohttp.ClientSession
    base_url: str
    proxy: str | None = None  # HTTP(S)_PROXY for the upstream, as the environment says
    _urls: dict[str, URL] = field(default_factory=dict, compare=False)

    def url(self, path: str) -> URL:
        # Parsed once per path: yarl's parsing was a visible share of a forwarded request's CPU.
        found = self._urls.get(path)
        if found is None:
            found = self._urls[path] = URL(f"{self.base_url}/{path}")
        return found


@asynccontextmanager
async def upstream_clients(
    base_url: str, timeout: float, key: str | None
) -> AsyncIterator[list[UpstreamClient]]:
    """The client for the app's lifetime (a list of one: `Upstream` takes turns over what it is
    given, and aiohttp's pool, unlike httpcore's, costs no more with more connections)."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    tls = _tls_context()
    connector = aiohttp.TCPConnector(
        limit=MAX_CONNECTIONS, limit_per_host=0, ssl=tls, keepalive_timeout=KEEPALIVE_S
    )
    # Per read, not per answer: a long stream is fine as long as its chunks keep coming.
    timeouts = aiohttp.ClientTimeout(total=None, connect=timeout, sock_read=timeout)
    async with aiohttp.ClientSession(
        connector=connector, headers=headers, timeout=timeouts, auto_decompress=True
    ) as session:
        yield [UpstreamClient(session, base_url.rstrip("/"), _environment_proxy(base_url))]


class StreamCut(Exception):
    """The upstream's stream broke off (`timed_out`: no data within the timeout)."""

    def __init__(self, timed_out: bool) -> None:
        super().__init__("timed out" if timed_out else "broken")
        self.timed_out = timed_out


@dataclass
class UpstreamAnswer:
    """An upstream answer: whole (`content`), or with the body still to read (`chunks`)."""

    status_code: int
    headers: Mapping[str, str]  # case-insensitive
    content: bytes
    reason_phrase: str
    _open: aiohttp.ClientResponse | None = None

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)

    async def chunks(self) -> AsyncIterator[bytes]:
        """The streamed body as it arrives; StreamCut if it breaks off."""
        if self._open is None:
            yield self.content
            return
        try:
            async for chunk in self._open.content.iter_any():
                yield chunk
        except TimeoutError:
            raise StreamCut(timed_out=True) from None
        except aiohttp.ClientError:
            raise StreamCut(timed_out=False) from None

    def close(self) -> None:
        """Give the connection back to the pool, or close it if the body was not read whole."""
        if self._open is None:
            return
        if self._open.content.at_eof():
            self._open.release()
        else:
            self._open.close()


class Upstream:
    """Chat completions and the model list of the upstream server."""

    def __init__(
        self,
        clients: Sequence[UpstreamClient],
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

    async def post_chat(self, body: bytes) -> UpstreamAnswer:
        """The upstream's whole answer, or ApiError (502/504) if there is none."""
        return await self._send("POST", "chat/completions", body, stream=False)

    async def open_chat_stream(self, body: bytes) -> UpstreamAnswer:
        """The upstream's answer with the body still to read (the caller closes it)."""
        return await self._send("POST", "chat/completions", body, stream=True)

    async def get_models(self) -> UpstreamAnswer:
        return await self._send("GET", "models", None, stream=False)

    def failure(self, response: UpstreamAnswer) -> ApiError | None:
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

    def passed_through(self, response: UpstreamAnswer, headers: dict[str, str]) -> Response:
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
    ) -> UpstreamAnswer:
        client = next(self._clients)
        url = client.url(path)
        try:
            return await _answer(client, method, url, body, stream=stream)
        except TimeoutError:
            log.warning("upstream %s: no answer within %g s", url, self._timeout)
            raise upstream_timed_out(self._timeout) from None
        except aiohttp.ClientError as exc:
            log.warning("upstream %s: %s", url, _reason(exc))
            raise upstream_failed(
                f"cannot reach the model server ({_reason(exc)}); "
                "check serve.upstream_base_url and that the server is running"
            ) from None

    def _detail(self, response: UpstreamAnswer) -> str:
        """The upstream's own error message, short, with the proxy's key masked if echoed."""
        try:
            error = response.json().get("error", {})
            text = error.get("message") if isinstance(error, dict) else str(error)
        except (ValueError, AttributeError):
            text = response.text
        text = self.masked(" ".join(str(text or response.reason_phrase or "no message").split()))
        return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 3] + "..."


async def _answer(
    client: UpstreamClient, method: str, url: URL, body: bytes | None, *, stream: bool
) -> UpstreamAnswer:
    """Send one request; the body is read whole unless a stream was asked for and the answer is
    a 200 (an error answer is small; the proxy relays only a 200 as a stream)."""
    response = await client.session.request(
        method,
        url,
        data=body,
        headers=_JSON if body is not None else None,
        allow_redirects=False,  # a redirect is reported, as the failure above says
        proxy=client.proxy,
    )
    answer = UpstreamAnswer(response.status, response.headers, b"", response.reason or "")
    if stream and response.status == 200:
        answer._open = response
        return answer
    try:
        answer.content = await response.read()
    except BaseException:
        response.close()  # the connection is in an unknown state: not back into the pool
        raise
    response.release()
    return answer


def _tls_context() -> ssl.SSLContext:
    """certifi's CA bundle, or the one SSL_CERT_FILE or SSL_CERT_DIR names, as httpx and the
    openai SDK choose it (made here: importing httpx cost `serve` a few tenths of a second)."""
    if os.environ.get("SSL_CERT_FILE"):
        return ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    if os.environ.get("SSL_CERT_DIR"):
        return ssl.create_default_context(capath=os.environ["SSL_CERT_DIR"])
    return ssl.create_default_context(cafile=certifi.where())


def _environment_proxy(base_url: str) -> str | None:
    """The HTTP(S)_PROXY the environment sets for the upstream (NO_PROXY honoured), read once."""
    parts = urlsplit(base_url)
    if not parts.hostname or urllib.request.proxy_bypass(parts.hostname):
        return None
    return urllib.request.getproxies().get(parts.scheme)


def _retry_after(response: UpstreamAnswer) -> dict[str, str]:
    """The upstream's Retry-After on a 429 or 503, for the client to honour (SDKs do)."""
    value = response.headers.get("retry-after")
    if response.status_code in (429, 503) and value and len(value) <= 64:
        return {"Retry-After": value}
    return {}


def _reason(exc: aiohttp.ClientError) -> str:
    if isinstance(exc, aiohttp.ClientConnectorError):
        refused = isinstance(exc.os_error, ConnectionRefusedError) or "refused" in str(exc).lower()
        return "connection refused" if refused else "cannot connect"
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return "the connection closed without an answer"
    if isinstance(exc, aiohttp.ClientOSError):
        return f"the connection failed ({exc.strerror or exc})"
    return type(exc).__name__
