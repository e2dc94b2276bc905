"""Find the playbook entries nearest to a conversation (exact cosine similarity over an in-memory
matrix) and compose their guidelines into one deduplicated guidance list."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol

import numpy as np
from typing_extensions import TypeVar

from playbook.embed import Embedder, default_floor
from playbook.parse import normalise_guideline
from playbook.store import Store
from playbook.types import Entry, Turn, conversation_text
from playbook.vectors import check_embedder

# A query with non-zeros in at most this share of dimensions reads only their rows of the index.
_SPARSE_QUERY_SHARE = 0.25


class Guided(Protocol):
    """What retrieval needs of an entry: a full `Entry`, or a lean `records.EntryGuidance`."""

    @property
    def id(self) -> int | None: ...

    @property
    def guidance(self) -> Sequence[str]: ...


# The default keeps `Index([], ...)` and a bare `Retriever` meaning what they did: full entries.
G = TypeVar("G", bound=Guided, default=Entry)


@dataclass(frozen=True)
class Hit(Generic[G]):
    entry: G
    score: float  # cosine similarity, after IDF weighting for sparse embeddings


class Index(Generic[G]):
    """Entries and their vectors, searched by one matrix-vector product.

    For sparse (hashed term) vectors, columns are weighted by their inverse document frequency
    over the index itself, so words every scenario shares ("customer", "refund") count less
    than the rare words that tell situations apart.

    The unit vectors are kept one row per dimension (the transpose), so that a sparse query,
    as a hashed embedding is (about a tenth of its dimensions are non-zero), reads only the rows
    of its own dimensions: at 10,000 entries several times faster than reading the whole matrix.
    """

    def __init__(self, entries: Sequence[G], matrix: np.ndarray, sparse: bool) -> None:
        if len(entries) != matrix.shape[0]:
            raise ValueError(f"{len(entries)} entries but {matrix.shape[0]} vectors")
        self.entries = list(entries)
        self.sparse = sparse
        self._idf = _idf(matrix) if sparse and self.entries else None
        unit = _unit_rows(self._weighted(np.asarray(matrix, dtype=np.float32)))
        self._by_dimension = np.ascontiguousarray(unit.T)

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def dim(self) -> int:
        return int(self._by_dimension.shape[0])

    def search(self, query: np.ndarray, k: int, floor: float) -> list[Hit[G]]:
        """The k most similar entries with a score of at least `floor`, best first."""
        vector = np.asarray(query, dtype=np.float32).reshape(-1)
        if not self.entries or k < 1 or vector.size == 0:
            return []
        if vector.size != self.dim:
            raise ValueError(
                f"the query has {vector.size} dimensions but the index {self.dim}; "
                "embed the query with the embedder the index was built with"
            )
        vector = _unit_rows(self._weighted(vector[np.newaxis, :]))[0]
        if not vector.any():  # blank text: nothing to be similar to
            return []
        scores = self._scores(vector)
        return [Hit(self.entries[i], float(scores[i])) for i in _best(scores, k, floor)]

    def _scores(self, unit_query: np.ndarray) -> np.ndarray:
        """Cosine similarity of every entry with the query (already weighted and unit length).

        einsum, not `@`: it runs in the calling thread. `@` goes to BLAS, which hands a product
        this size to worker threads; a server on a busy machine then waits for those threads
        to be scheduled, milliseconds per query where the product itself takes a fraction of one.
        """
        dimensions = np.flatnonzero(unit_query)
        if len(dimensions) <= _SPARSE_QUERY_SHARE * len(unit_query):
            rows = self._by_dimension[dimensions]
            return np.einsum("d,dn->n", unit_query[dimensions], rows)
        return np.einsum("d,dn->n", unit_query, self._by_dimension)

    def _weighted(self, matrix: np.ndarray) -> np.ndarray:
        return matrix if self._idf is None else matrix * self._idf


def _idf(matrix: np.ndarray) -> np.ndarray:
    """Smoothed inverse document frequency per column, as scikit-learn computes it."""
    documents = np.count_nonzero(matrix, axis=0)
    n = matrix.shape[0]
    return (np.log((1 + n) / (1 + documents)) + 1).astype(np.float32)


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)


def _best(scores: np.ndarray, k: int, floor: float) -> np.ndarray:
    """Indices of the top k scores at or above floor, best first."""
    candidates = np.flatnonzero(scores >= floor)
    if len(candidates) > k:
        # argpartition finds the top k in linear time; only those k are then sorted.
        top = np.argpartition(-scores[candidates], k - 1)[:k]
        candidates = candidates[top]
    return candidates[np.argsort(-scores[candidates], kind="stable")]


async def build_index(
    store: Store,
    embedder: Embedder,
    *,
    run_id: str | None = None,
    statuses: Sequence[str] | None = None,
) -> Index[Entry]:
    """An index over the stored entries; every one must have been embedded by `embedder`."""
    check_embedder(store, embedder)
    entries, matrix = store.entry_vectors(embedder.id, run_id=run_id, statuses=statuses)
    return Index(entries, matrix, embedder.sparse)


def compose_guidance(lists: Iterable[Sequence[str]], limit: int | None = None) -> tuple[str, ...]:
    """The guidelines of several lists in order, without repeats, at most `limit` of them.

    Two guidelines are the same when they differ only in case, spacing, list markers or
    final punctuation ("1. Acknowledge the delay." and "- acknowledge the delay").
    """
    seen: set[str] = set()
    composed: list[str] = []
    for guidelines in lists:
        for guideline in guidelines:
            key = normalise_guideline(guideline)
            if not key or key in seen:
                continue
            seen.add(key)
            composed.append(guideline.strip())
            if limit is not None and len(composed) >= limit:
                return tuple(composed)
    return tuple(composed)


@dataclass(frozen=True)
class Retrieval(Generic[G]):
    hits: list[Hit[G]]
    guidance: tuple[str, ...]


class Retriever(Generic[G]):
    """Guidance for a conversation: embed it, take the nearest entries, compose their guidance.

    k=1 follows the paper (the single nearest entry); the floor keeps an unrelated entry's
    guidance out of a conversation the playbook does not cover. Cosines of different embedders
    are not comparable, so an unset floor is the embedder's calibrated one.
    """

    def __init__(
        self, index: Index[G], embedder: Embedder, k: int = 1, floor: float | None = None
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.k = k
        self.floor = default_floor(embedder.id) if floor is None else floor

    async def retrieve(self, turns: Sequence[Turn]) -> Retrieval[G]:
        text = conversation_text(list(turns))
        if not len(self.index) or not text.strip():
            return Retrieval(hits=[], guidance=())
        query = (await self.embedder.embed([text]))[0]
        hits = self.index.search(query, self.k, self.floor)
        return Retrieval(hits, compose_guidance(hit.entry.guidance for hit in hits))

    def with_index(self, index: Index[G]) -> Retriever[G]:
        """The same retriever over a rebuilt index (e.g. after entries were added or approved)."""
        return Retriever(index, self.embedder, self.k, self.floor)
