"""Hashed word and character n-grams: no model, no network, the same vector on every machine."""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from collections.abc import Sequence
from itertools import pairwise

import numpy as np

from playbook.embed.base import LOCAL, unit

_WORD = re.compile(r"\w+")
# Word features carry the meaning; character 4-grams only help match word variants
# (refund / refunds / refunded), so they weigh less.
_WORD_WEIGHT = 1.0
_BIGRAM_WEIGHT = 1.0
_CHAR_WEIGHT = 0.3


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

    @property
    def endpoint(self) -> str:
        return LOCAL

    async def aclose(self) -> None:
        """Nothing to close: it computes in this process."""

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
        return unit(vector).astype(np.float32)

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
