"""Every served request is logged in the playbook: entries used, latency, tokens, upstream
status; the conversation and answer only when the server is configured to keep content."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import openai
import pytest

from playbook.embed import HashEmbedder
from playbook.store.core import Store
from playbook.store.records import ServedRecord

KEY = "sk-proxy-test-0123456789"
REPLY = "I understand how frustrating this is. I can offer travel credit for the full fare."
REFUND_TEXT = "I demand a full refund for my restricted ticket, this is outrageous!"
MESSAGES: Any = [{"role": "user", "content": REFUND_TEXT}]


def sdk(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0)


def test_served_requests_are_recorded_without_content(
    client: openai.OpenAI, playbook: Any, eventually: Any
) -> None:
    client.chat.completions.create(model="student", messages=MESSAGES)
    stream = client.chat.completions.create(
        model="student", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == REPLY
    newest, oldest = eventually(lambda: len(rows := playbook.store.served()) == 2 and rows)
    for row in (oldest, newest):
        assert row.entry_ids == (playbook.refund,) and row.upstream_status == 200
        assert row.model == "student" and row.error is None and row.latency_ms > 0
        assert row.input_tokens and row.output_tokens == len(REPLY.split())
        assert row.request is None and row.response is None  # no content by default
    assert (oldest.stream, newest.stream) == (False, True)


def test_content_is_recorded_when_enabled(start_proxy: Any, playbook: Any, eventually: Any) -> None:
    with sdk(start_proxy(record_content=True)) as client:
        client.chat.completions.create(model="student", messages=MESSAGES)
        list(client.chat.completions.create(model="student", messages=MESSAGES, stream=True))
    streamed, plain = eventually(lambda: len(rows := playbook.store.served()) == 2 and rows)
    for row in (plain, streamed):
        assert row.response == REPLY
        assert row.request is not None and "<guidelines>" in str(row.request["messages"])
    assert streamed.input_tokens is None  # the client did not ask for usage in the stream


def test_failures_are_recorded_with_their_reason(
    start_proxy: Any, playbook: Any, eventually: Any
) -> None:
    url = start_proxy(upstream_url="http://127.0.0.1:9/v1")
    with sdk(url) as client, pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="student", messages=MESSAGES)
    (row,) = eventually(playbook.store.served)
    assert row.upstream_status is None and row.error and "cannot reach" in row.error
    stats = playbook.store.served_stats()
    assert (stats.requests, stats.failed, stats.guided) == (1, 1, 1)


def test_served_stats_and_order(tmp_path: Path) -> None:
    def record(status: int | None, ids: tuple[int, ...], tokens: int | None) -> ServedRecord:
        now = datetime.now(UTC)
        return ServedRecord(now, "m", False, ids, 10.0, status, tokens, tokens)

    with Store.open(tmp_path / "p.db") as store:
        store.record_served([record(200, (1, 2), 5), record(502, (), None)])
        store.record_served([record(200, (), 7)])
        rows = store.served()
        stats = store.served_stats()
        assert store.served(limit=1) == rows[:1]
    assert [r.id for r in rows] == [3, 2, 1] and rows[2].entry_ids == (1, 2)
    assert rows[0].created_at.tzinfo is not None
    assert (stats.requests, stats.failed, stats.guided) == (3, 1, 1)
    assert (stats.input_tokens, stats.output_tokens, stats.mean_latency_ms) == (12, 12, 10.0)


def test_lean_vectors_and_the_version_follow_the_store(tmp_path: Path, playbook: Any) -> None:
    store, embedder = playbook.store, HashEmbedder()
    items, matrix = store.entry_guidance_vectors(embedder.id, statuses=("approved",))
    assert items == [] and matrix.shape == (0, 0)
    version = store.playbook_version()
    store.set_status(playbook.baggage, "approved", "reviewer")
    assert store.playbook_version() != version
    items, matrix = store.entry_guidance_vectors(embedder.id, statuses=("approved",))
    (full,), full_matrix = store.entry_vectors(embedder.id, statuses=("approved",))
    assert [(i.id, i.guidance) for i in items] == [(full.id, full.guidance)]
    assert np.array_equal(matrix, full_matrix)
    assert store.embedding_models() == {embedder.id: 2}


def test_a_prefetched_load_serves_once_and_only_while_the_store_is_unchanged(
    playbook: Any,
) -> None:
    # Issue 15: `serve` starts loading its playbook before it imports the web stack.
    store, model, approved = playbook.store, HashEmbedder().id, ("approved",)
    store.set_status(playbook.baggage, "approved", "reviewer")
    items, matrix = store.entry_guidance_vectors(model, statuses=approved)
    store.prefetch_guidance_vectors(model, statuses=approved)
    prefetched, prefetched_matrix = store.entry_guidance_vectors(model, statuses=approved)
    assert prefetched == items and np.array_equal(prefetched_matrix, matrix)
    assert store._prefetched is None  # taken: the next load reads the store again

    store.prefetch_guidance_vectors(model, statuses=approved)
    store.set_status(playbook.refund, "approved", "reviewer")  # after the prefetch
    items, _ = store.entry_guidance_vectors(model, statuses=approved)
    assert [i.id for i in items] == [playbook.refund, playbook.baggage]
    store.prefetch_guidance_vectors(model, statuses=approved)
    assert store.entry_guidance_vectors(model, statuses=None)[0] == items  # other arguments
