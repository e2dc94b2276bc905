"""The log of served requests: what an answer used and cost, written to the store in batches by
one background task, so that no request waits for the database."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from playbook.store.core import Store
from playbook.store.records import ServedRecord

log = logging.getLogger("playbook.server")
MAX_QUEUED = 10_000  # records waiting for the database before new ones are dropped
# After the first record of a batch, wait this long for more: one transaction for all of them
# costs the server less CPU than one per request.
BATCH_SECONDS = 0.05


class ServedLog:
    """`add` is instant; `run` (a task for the app's lifetime) writes what was added."""

    def __init__(self, store: Store, batch_seconds: float = BATCH_SECONDS) -> None:
        self._store = store
        self._batch_seconds = batch_seconds
        self._queue: asyncio.Queue[ServedRecord | None] = asyncio.Queue(MAX_QUEUED)
        self.dropped = 0

    def add(self, record: ServedRecord) -> None:
        try:
            self._queue.put_nowait(record)
        except asyncio.QueueFull:
            self.dropped += 1
            log.warning("served-request log is %d records behind; dropped one", MAX_QUEUED)

    async def run(self) -> None:
        """Write records as they come, many per transaction under load, until `stop`."""
        while True:
            batch = [await self._queue.get()]
            if batch[0] is not None:
                await asyncio.sleep(self._batch_seconds)
            while not self._queue.empty():
                batch.append(self._queue.get_nowait())
            records = [r for r in batch if r is not None]
            await self._write(records)
            if None in batch:
                return

    async def stop(self) -> None:
        """Ask `run` to write what is queued and return (await the task afterwards)."""
        await self._queue.put(None)

    async def _write(self, records: list[ServedRecord]) -> None:
        try:
            await asyncio.to_thread(self._store.record_served, records)
        except Exception:
            # Losing a log line must not take serving down; the failure is in the server log.
            log.exception("could not record %d served requests", len(records))


class StreamWatcher:
    """Reads an SSE stream as it passes through, for its token usage (and text, if recorded).

    Only the unfinished last event is kept, never the whole stream.
    """

    def __init__(self, keep_text: bool) -> None:
        self._keep_text = keep_text
        self._pending = b""
        self._text: list[str] = []
        self.usage: dict[str, Any] | None = None
        self.done = False  # the stream's final "data: [DONE]" arrived

    @property
    def text(self) -> str | None:
        return "".join(self._text) if self._keep_text else None

    def feed(self, chunk: bytes) -> bytes:
        """Take a chunk; give back the complete events in it (and before it) to pass on, so a
        client never gets half an event if the stream breaks off."""
        self._pending += chunk
        *events, self._pending = self._pending.replace(b"\r\n", b"\n").split(b"\n\n")
        for event in events:
            if event.strip() == b"data: [DONE]":
                self.done = True
            if self._keep_text or b'"usage"' in event:
                self._read(event)
        return b"".join(event + b"\n\n" for event in events)

    def _read(self, event: bytes) -> None:
        for line in event.split(b"\n"):
            if not line.startswith(b"data:") or line[5:].strip() == b"[DONE]":
                continue
            try:
                chunk = json.loads(line[5:])
            except ValueError:
                continue  # not ours to judge: the client gets the stream as it is
            if isinstance(chunk, dict):
                self._take(chunk)

    def _take(self, chunk: dict[str, Any]) -> None:
        if isinstance(chunk.get("usage"), dict):
            self.usage = chunk["usage"]
        if self._keep_text:
            for choice in chunk.get("choices") or ():
                content = (choice.get("delta") or {}).get("content")
                if isinstance(content, str) and choice.get("index", 0) == 0:
                    self._text.append(content)


def usage_tokens(usage: object) -> tuple[int | None, int | None]:
    """(input, output) tokens from an OpenAI `usage` object, None where it says nothing."""
    if not isinstance(usage, dict):
        return None, None
    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
    return (
        prompt if isinstance(prompt, int) else None,
        completion if isinstance(completion, int) else None,
    )
