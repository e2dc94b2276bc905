"""What every embedder is: texts in, unit vectors out, and its calibrated similarity floor."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

import numpy as np

LOCAL = "local"  # the endpoint of an embedder that calls no server


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

    @property
    def endpoint(self) -> str:
        """The server it calls, or LOCAL when it computes in this process."""
        ...

    async def embed(self, texts: Sequence[str]) -> np.ndarray: ...

    async def aclose(self) -> None:
        """Close the connections it holds (an endpoint's client); local ones hold none."""
        ...


async def embed_nonempty(
    texts: Sequence[str], embed: Callable[[list[str]], Awaitable[np.ndarray]]
) -> np.ndarray:
    """Embed the non-blank texts and give blank ones a zero row (endpoints reject "")."""
    wanted = [i for i, text in enumerate(texts) if text.strip()]
    if not wanted:
        return np.zeros((len(texts), 0), dtype=np.float32)
    vectors = unit_rows(await embed([texts[i] for i in wanted]))
    matrix = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
    matrix[wanted] = vectors
    return matrix


def unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def unit_rows(matrix: np.ndarray, in_place: bool = False) -> np.ndarray:
    """Each row divided by its length (a zero row stays zero); `in_place` overwrites `matrix`,
    which saves a second matrix of its size (and, fresh from the system, its page faults)."""
    # einsum sums the squares row by row without the squared copy `np.linalg.norm` makes.
    norms = np.sqrt(np.einsum("nd,nd->n", matrix, matrix))[:, np.newaxis]
    if in_place:
        return np.divide(matrix, norms, out=matrix, where=norms > 0)
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
