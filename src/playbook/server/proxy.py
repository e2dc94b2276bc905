"""The proxy's one job, top to bottom: take the conversation from a chat-completion request,
retrieve the playbook's guidance for it, put the guidance into the request, forward it to the
upstream student, and return the upstream's answer as it came (streams chunk by chunk)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi.responses import JSONResponse, Response, StreamingResponse

from playbook.server.errors import ApiError, upstream_failed
from playbook.server.live import LivePlaybook
from playbook.server.messages import GuidanceWriter, WireMessage, checked_body, conversation
from playbook.server.metrics import Metrics
from playbook.server.recording import ServedLog, StreamWatcher, usage_tokens
from playbook.server.settings import ServeSettings
from playbook.server.upstream import StreamCut, Upstream, UpstreamAnswer
from playbook.store.records import ServedRecord

ENTRIES_HEADER = "X-Playbook-Entries"  # ids of the entries whose guidance was used, "3,17"


@dataclass
class _Served:
    """What is known about a request before the upstream answers, for its log record."""

    started: float
    created_at: datetime
    model: str
    stream: bool
    entry_ids: tuple[int, ...]
    request: dict[str, Any] | None


@dataclass
class ChatProxy:
    settings: ServeSettings
    playbook: LivePlaybook
    writer: GuidanceWriter
    upstream: Upstream
    served: ServedLog
    metrics: Metrics

    async def chat(self, body: object, started: float) -> Response:
        """POST /v1/chat/completions."""
        request = checked_body(body, model_required=self.settings.upstream_model is None)
        messages = request["messages"]
        found = await self.playbook.retrieve(conversation(messages))
        ids = tuple(hit.entry.id for hit in found.hits)
        forwarded = self._forwarded(request, self.writer.with_guidance(messages, found.guidance))
        self._count_guidance(ids)
        served = _Served(
            started=started,
            created_at=datetime.now(UTC),
            model=str(forwarded.get("model", "")),
            stream=bool(request.get("stream", False)),
            entry_ids=ids,
            request=forwarded if self.settings.record_content else None,
        )
        data = json.dumps(forwarded, ensure_ascii=False).encode()
        if served.stream:
            return await self._stream(data, served)
        return await self._once(data, served)

    async def models(self) -> Response:
        """GET /v1/models: the upstream's list, or the one model every request is sent to."""
        if self.settings.upstream_model is not None:
            card = {"id": self.settings.upstream_model, "object": "model", "created": 0}
            return JSONResponse({"object": "list", "data": [{**card, "owned_by": "upstream"}]})
        response = await self.upstream.get_models()
        failure = self.upstream.failure(response)
        if failure is not None:
            raise failure
        return self.upstream.passed_through(response, {})

    def _forwarded(self, body: dict[str, Any], messages: list[WireMessage]) -> dict[str, Any]:
        # Every field the client sent goes upstream unchanged (tools, top_k, response_format...).
        forwarded = {**body, "messages": messages}
        if self.settings.upstream_model is not None:
            forwarded["model"] = self.settings.upstream_model
        return forwarded

    async def _once(self, data: bytes, served: _Served) -> Response:
        response = await self._answered(self.upstream.post_chat(data), served)
        answer = _json_object(response.content)
        if response.status_code == 200 and not isinstance(answer.get("choices"), list):
            # Garbage or a cut-off body must not reach a client as if it were an answer.
            failure = upstream_failed("the model server's answer is not a chat completion")
            self._fail(served, response.status_code, failure)
            raise failure
        tokens = usage_tokens(answer.get("usage"))
        text = _message_text(answer) if self.settings.record_content else None
        self._record(served, response.status_code, tokens, None, text)
        return self.upstream.passed_through(response, self._headers(served))

    async def _stream(self, data: bytes, served: _Served) -> Response:
        response = await self._answered(self.upstream.open_chat_stream(data), served)
        if response.status_code != 200:  # a 4xx for the client, already read whole
            self._record(served, response.status_code, (None, None), None, None)
            return self.upstream.passed_through(response, self._headers(served))
        watcher = StreamWatcher(keep_text=self.settings.record_content)
        media_type = response.headers.get("content-type", "text/event-stream")
        relay = self._relay(response, watcher, served)
        return StreamingResponse(relay, media_type=media_type, headers=self._headers(served))

    async def _answered(
        self, sending: Awaitable[UpstreamAnswer], served: _Served
    ) -> UpstreamAnswer:
        """The upstream's answer; a failure is recorded and counted, then raised as 502/504."""
        try:
            response = await sending
        except ApiError as exc:
            self._fail(served, None, exc)
            raise
        failure = self.upstream.failure(response)
        if failure is not None:
            self._fail(served, response.status_code, failure)
            raise failure
        return response

    async def _relay(
        self, response: UpstreamAnswer, watcher: StreamWatcher, served: _Served
    ) -> AsyncIterator[bytes]:
        """The upstream's bytes as they arrive. Headers are sent by now, so a failure midway
        ends the stream with an OpenAI error event, which SDK clients raise as an APIError."""
        error = None
        try:
            async for chunk in response.chunks():
                if events := watcher.feed(chunk):
                    yield events
            if not watcher.done:
                error = "upstream: the model server ended the stream before its end"
                yield _error_event(error)
        except StreamCut as cut:
            if cut.timed_out:
                error = f"upstream: no data within {self.settings.timeout:g} s; the stream was cut"
            else:
                error = "upstream: the model server closed the stream before its end"
            yield _error_event(error)
        except (asyncio.CancelledError, GeneratorExit):
            error = "the client went away before the end of the stream"
            raise
        finally:
            self._record(served, 200, usage_tokens(watcher.usage), error, watcher.text)
            if error is not None and error.startswith("upstream"):
                self.metrics.upstream_errors.labels("stream").inc()
            # Not awaited, so it happens even when the client went away and the request's
            # scope is cancelled: the upstream connection is never left open.
            response.close()

    def _fail(self, served: _Served, status: int | None, error: ApiError) -> None:
        kind = "timeout" if error.status == 504 else "status" if status else "connection"
        self.metrics.upstream_errors.labels(kind).inc()
        self._record(served, status, (None, None), error.message, None)

    def _record(
        self,
        served: _Served,
        status: int | None,
        tokens: tuple[int | None, int | None],
        error: str | None,
        text: str | None,
    ) -> None:
        latency_ms = (time.perf_counter() - served.started) * 1000
        self.served.add(
            ServedRecord(
                created_at=served.created_at,
                model=served.model,
                stream=served.stream,
                entry_ids=served.entry_ids,
                latency_ms=latency_ms,
                upstream_status=status,
                input_tokens=tokens[0],
                output_tokens=tokens[1],
                error=error,
                request=served.request,
                response=text,
            )
        )

    def _count_guidance(self, ids: tuple[int, ...]) -> None:
        if ids:
            self.metrics.entries_served.inc(len(ids))
            self.metrics.guided_requests.inc()

    def _headers(self, served: _Served) -> dict[str, str]:
        return {ENTRIES_HEADER: ",".join(str(i) for i in served.entry_ids)}


def _json_object(content: bytes) -> dict[str, Any]:
    try:
        value = json.loads(content)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _message_text(answer: dict[str, Any]) -> str | None:
    choices = answer.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return None
    content = (choices[0].get("message") or {}).get("content")
    return content if isinstance(content, str) else None


def _error_event(message: str) -> bytes:
    error = {"message": message, "type": "server_error", "param": None, "code": "upstream_error"}
    return f"data: {json.dumps({'error': error})}\n\n".encode()
