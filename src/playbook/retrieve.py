"""Find the playbook entries for a conversation (exact cosine similarity over an in-memory matrix:
the nearest conversations, or the guidance a conversation is predicted to need) and compose
their guidelines into one deduplicated guidance list."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol

import numpy as np
from typing_extensions import TypeVar

from playbook.config import Match
from playbook.embed import Embedder, default_floor
from playbook.parse import normalise_guideline
from playbook.store import Store
from playbook.types import Entry, Turn, conversation_text
from playbook.vectors import check_embedder

# A query with non-zeros in at most this share of dimensions reads only their rows of the index.
_SPARSE_QUERY_SHARE = 0.25
# The guidance map's ridge penalty on unit-length rows; its results were flat from 0.003 to 0.1.
RIDGE = 0.01


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
        unit = unit_rows(self._weighted(np.asarray(matrix, dtype=np.float32)))
        self._by_dimension = np.ascontiguousarray(unit.T)

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def dim(self) -> int:
        return int(self._by_dimension.shape[0])

    def search(self, query: np.ndarray, k: int, floor: float) -> list[Hit[G]]:
        """The k most similar entries with a score of at least `floor`, best first."""
        if not self.entries or k < 1 or np.size(query) == 0:
            return []
        vector = self.unit_query(query)
        if not vector.any():  # blank text: nothing to be similar to
            return []
        scores = self._scores(vector)
        return [Hit(self.entries[i], float(scores[i])) for i in _best(scores, k, floor)]

    def unit_query(self, query: np.ndarray) -> np.ndarray:
        """The query as the index compares it: weighted like the entries, unit length."""
        vector = np.asarray(query, dtype=np.float32).reshape(-1)
        if vector.size != self.dim:
            raise ValueError(
                f"the query has {vector.size} dimensions but the index {self.dim}; "
                "embed the query with the embedder the index was built with"
            )
        return unit_rows(self._weighted(vector[np.newaxis, :]))[0]

    def unit_vectors(self) -> np.ndarray:
        """The entries' vectors as the index compares them, one row per entry (a view)."""
        return self._by_dimension.T

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


def unit_rows(matrix: np.ndarray) -> np.ndarray:
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


class GuidanceMap(Generic[G]):
    """Retrieval by the guidance a conversation needs, learned from the playbook itself.

    What decides the right guidance (this customer's mood and manner, the case, what was
    already said) is a small part of a conversation's words, so the nearest conversation is
    often about the same thing in another situation. The playbook holds the evidence of what
    matters: each entry pairs a conversation with the guidance verified for it. A ridge
    regression from the entries' conversation vectors to the vectors of their guidance learns
    which directions of the embedding decide the guidance; a conversation's predicted guidance
    is then matched with the entries' guidance. Fitting costs a d x d solve and one embedding
    per entry.
    """

    def __init__(self, weights: np.ndarray, guidance: Index[G]) -> None:
        self.weights = weights
        self.guidance = guidance

    @classmethod
    async def fit(cls, index: Index[G], embedder: Embedder) -> GuidanceMap[G]:
        texts = ["\n".join(entry.guidance) for entry in index.entries]
        targets = unit_rows(np.asarray(await embedder.embed(texts), dtype=np.float64))
        x = np.asarray(index.unit_vectors(), dtype=np.float64)
        gram = x.T @ x + RIDGE * np.eye(x.shape[1])
        weights = np.linalg.solve(gram, x.T @ targets).astype(np.float32)
        return cls(weights, Index(index.entries, targets.astype(np.float32), sparse=False))

    def search(self, unit_query: np.ndarray, k: int) -> list[Hit[G]]:
        """The k entries whose guidance is nearest the query's predicted guidance."""
        return self.guidance.search(unit_query @ self.weights, k, floor=-1.0)


class Retriever(Generic[G]):
    """Guidance for a conversation: embed it, take the nearest entries, compose their guidance.

    k=1 follows the paper (the single nearest entry); the floor keeps an unrelated entry's
    guidance out of a conversation the playbook does not cover. Cosines of different embedders
    are not comparable, so an unset floor is the embedder's calibrated one. With
    match="guidance", a conversation the playbook covers (its nearest entry passes the floor)
    gets the entries whose guidance it is predicted to need (see GuidanceMap).
    """

    def __init__(
        self,
        index: Index[G],
        embedder: Embedder,
        k: int = 1,
        floor: float | None = None,
        match: Match = "conversation",
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.k = k
        self.floor = default_floor(embedder.id) if floor is None else floor
        self.match = match
        self._map: GuidanceMap[G] | None = None
        self._fitting = asyncio.Lock()

    async def prepare(self) -> None:
        """Fit what the match needs now rather than at the first conversation."""
        if self.match == "guidance" and len(self.index):
            await self._guidance_map()

    async def _guidance_map(self) -> GuidanceMap[G]:
        async with self._fitting:  # conversations arriving together share one fit
            if self._map is None:
                self._map = await GuidanceMap.fit(self.index, self.embedder)
            return self._map

    async def retrieve(self, turns: Sequence[Turn]) -> Retrieval[G]:
        text = conversation_text(list(turns))
        if not len(self.index) or not text.strip():
            return Retrieval(hits=[], guidance=())
        hits = await self.hits_for((await self.embedder.embed([text]))[0])
        return Retrieval(hits, compose_guidance(hit.entry.guidance for hit in hits))

    async def hits_for(self, query: np.ndarray) -> list[Hit[G]]:
        """The entries for an embedded conversation; none if even the nearest is under the floor."""
        hits = self.index.search(query, self.k, self.floor)
        if hits and self.match == "guidance":
            guidance_map = await self._guidance_map()
            hits = guidance_map.search(self.index.unit_query(query), self.k)
        return hits

    def with_index(self, index: Index[G]) -> Retriever[G]:
        """The same retriever over a rebuilt index (e.g. after entries were added or approved)."""
        return Retriever(index, self.embedder, self.k, self.floor, self.match)
