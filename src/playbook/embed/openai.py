"""Embeddings from any OpenAI-compatible /v1/embeddings endpoint (imported only when used)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import openai
from openai import AsyncOpenAI

from playbook.chat.base import ModelError
from playbook.chat.connection import timed_out
from playbook.embed.base import embed_nonempty

OPENAI_BATCH = 256  # inputs per /v1/embeddings request; servers cap it (OpenAI at 2048)


class OpenAIEmbedder:
    """Any OpenAI-compatible /v1/embeddings endpoint (OpenAI, vLLM, Ollama, TEI, ...)."""

    def __init__(self, model: str, client: AsyncOpenAI) -> None:
        self.model = model
        self._client = client

    @property
    def id(self) -> str:
        return f"openai:{self.model}"

    @property
    def sparse(self) -> bool:
        return False

    @property
    def endpoint(self) -> str:
        return str(self._client.base_url).rstrip("/")

    async def aclose(self) -> None:
        """Close the SDK client's connection pool."""
        await self._client.close()

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        return await embed_nonempty(texts, self._embed_all)

    async def _embed_all(self, texts: list[str]) -> np.ndarray:
        batches = [texts[i : i + OPENAI_BATCH] for i in range(0, len(texts), OPENAI_BATCH)]
        return np.vstack([await self._embed_batch(batch) for batch in batches])

    async def _embed_batch(self, batch: list[str]) -> np.ndarray:
        try:
            # "float" rather than the SDK's default base64: not every compatible server has it.
            response = await self._client.embeddings.create(
                model=self.model, input=batch, encoding_format="float"
            )
        except openai.OpenAIError as exc:
            raise ModelError(f"{self._where()}: {_problem(exc)}") from exc
        data = sorted(response.data, key=lambda item: item.index)
        if len(data) != len(batch):
            raise ModelError(
                f"{self._where()}: asked for {len(batch)} embeddings, got {len(data)}; "
                "check base_url points at an OpenAI-compatible API"
            )
        return np.asarray([item.embedding for item in data], dtype=np.float32)

    def _where(self) -> str:
        return f"embedder {self.id} at {self.endpoint}"


def _problem(exc: openai.OpenAIError) -> str:
    # Only status codes and fixed words: a server's error text may echo the API key back.
    if isinstance(exc, openai.APIConnectionError) and timed_out(exc):
        return "no answer in time; raise embedder.timeout"
    if isinstance(exc, openai.APIConnectionError):
        return "cannot connect; check embedder.base_url and that the server is running"
    if isinstance(exc, openai.APIStatusError) and exc.status_code in (401, 403):
        return f"the server refused the API key ({exc.status_code}); check embedder.api_key_env"
    if isinstance(exc, openai.APIStatusError) and exc.status_code == 404:
        return "not found (404); check the model name in embedder.spec and embedder.base_url"
    if isinstance(exc, openai.APIStatusError):
        return f"the server answered {exc.status_code}"
    return type(exc).__name__
