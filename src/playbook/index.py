"""The playbook's entries as a searchable index: cosine similarity, exact for small playbooks and
approximate for large ones (see `playbook.neighbours`), updated in place as entries change."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol

import numpy as np
from typing_extensions import TypeVar

from playbook.embed.base import Embedder, unit_rows
from playbook.neighbours import (
    APPROXIMATE_FROM,
    RETRAIN_GROWTH,
    ExactScan,
    InvertedFile,
    Neighbours,
)
from playbook.store.core import Store
from playbook.types import Entry
from playbook.vectors import check_embedder


class Guided(Protocol):
    """What retrieval needs of an entry: a full `Entry`, or a lean `records.EntryGuidance`."""

    @property
    def id(self) -> int | None: ...

    @property
    def guidance(self) -> Sequence[str]: ...

    @property
    def goal(self) -> str: ...  # the goal of the persona it was learned from; "": none stated


# The default keeps `Index([], ...)` and a bare `Retriever` meaning what they did: full entries.
G = TypeVar("G", bound=Guided, default=Entry)


@dataclass(frozen=True)
class Hit(Generic[G]):
    entry: G
    score: float  # cosine similarity, after IDF weighting for sparse embeddings


class Index(Generic[G]):
    """Entries and their unit vectors, searched exactly below `approximate_from` entries and
    through an inverted-file index (faiss) from there on (see `playbook.neighbours`).

    For sparse (hashed term) vectors, columns are weighted by their inverse document frequency
    over the index itself, so words every scenario shares ("customer", "refund") count less
    than the rare words that tell situations apart.

    Entries can be added and removed in place (a reload after a few changes rebuilds nothing);
    a lock keeps a search from seeing half an update, which faiss needs. Built `deferred`, a large
    index searches exactly until `settle()` has trained its approximate one (seconds at 100k).
    """

    def __init__(
        self,
        entries: Sequence[G],
        matrix: np.ndarray,
        sparse: bool,
        approximate_from: int = APPROXIMATE_FROM,
        deferred: bool = False,
        owned: bool = False,
    ) -> None:
        """`owned`: the caller gives `matrix` up, and the index normalises it in place (a
        server's load at 100,000 entries: a tenth of a second and 100 MB less)."""
        if len(entries) != matrix.shape[0]:
            raise ValueError(f"{len(entries)} entries but {matrix.shape[0]} vectors")
        self.sparse = sparse
        self.approximate_from = approximate_from
        self._entries = list(entries)
        self._removed: set[int] = set()
        self._positions = {e.id: i for i, e in enumerate(self._entries) if e.id is not None}
        self._idf = _idf(matrix) if sparse and self._entries else None
        self._dim = int(matrix.shape[1])
        rows = self._unit(matrix, in_place=owned)
        self._neighbours = ExactScan(rows, sparse) if deferred else self._search_structure(rows)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries) - len(self._removed)

    @property
    def entries(self) -> list[G]:
        """The entries searched, in the order they were added."""
        return [e for i, e in enumerate(self._entries) if i not in self._removed]

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def approximate(self) -> bool:
        return isinstance(self._neighbours, InvertedFile)

    def search(self, query: np.ndarray, k: int, floor: float) -> list[Hit[G]]:
        """The k most similar entries with a score of at least `floor`, best first."""
        if not len(self) or k < 1 or np.size(query) == 0:
            return []
        vector = self.unit_query(query)
        if not vector.any():  # blank text: nothing to be similar to
            return []
        with self._lock:
            positions, scores = self._neighbours.top(vector, k, floor)
            return [Hit(self._entries[p], float(s)) for p, s in zip(positions, scores, strict=True)]

    def unit_query(self, query: np.ndarray) -> np.ndarray:
        """The query as the index compares it: weighted like the entries, unit length."""
        vector = np.asarray(query, dtype=np.float32).reshape(-1)
        if vector.size != self.dim:
            raise ValueError(
                f"the query has {vector.size} dimensions but the index {self.dim}; "
                "embed the query with the embedder the index was built with"
            )
        return self._unit(vector[np.newaxis, :])[0]

    def unit_vectors(self) -> np.ndarray:
        """The vectors of `entries` as the index compares them, one row per entry."""
        with self._lock:
            rows = self._neighbours.rows()
            return np.delete(rows, sorted(self._removed), axis=0) if self._removed else rows

    def add(self, entries: Sequence[G], matrix: np.ndarray) -> None:
        """Search these entries too, without rebuilding what is there (dense vectors only: the
        IDF weights of sparse ones depend on every entry, so a sparse index is rebuilt)."""
        if self.sparse:
            raise ValueError("a sparse index weighs by IDF over all its entries: rebuild it")
        if len(entries) != len(matrix):
            raise ValueError(f"{len(entries)} entries but {len(matrix)} vectors")
        if not len(entries):
            return
        if self._entries and matrix.shape[1] != self.dim:
            raise ValueError(f"{matrix.shape[1]} dimensions added to an index of {self.dim}")
        rows = self._unit(matrix)
        grown = self._grown(rows)  # built outside the lock: searches go on meanwhile
        with self._lock:
            first = len(self._entries)
            self._entries.extend(entries)
            self._positions.update(
                (e.id, first + i) for i, e in enumerate(entries) if e.id is not None
            )
            self._dim = int(matrix.shape[1])
            if grown is None:
                self._neighbours.add(rows)
            else:
                self._neighbours = grown

    def settle(self) -> None:
        """Switch to the search structure the index's size calls for, if it does not use it yet:
        built `deferred`, an index answers exactly at once and turns approximate here."""
        grown = self._grown(np.zeros((0, self.dim), dtype=np.float32))
        if grown is not None:
            with self._lock:
                self._neighbours = grown

    def remove(self, ids: Iterable[int]) -> None:
        """Stop finding the entries with these ids (ids the index does not hold are ignored)."""
        with self._lock:
            positions = [self._positions.pop(i) for i in ids if i in self._positions]
            if positions:
                self._neighbours.remove(positions)
                self._removed.update(positions)

    def _grown(self, rows: np.ndarray) -> Neighbours | None:
        """A new search structure for the index with `rows` added when its size calls for one
        (exact to approximate, or lists retrained); None when adding in place will do."""
        total = len(self._entries) + len(rows)
        current = self._neighbours
        if isinstance(current, InvertedFile):
            if total <= RETRAIN_GROWTH * current.trained_for:
                return None
        elif total < self.approximate_from:
            return None
        grown = self._search_structure(np.concatenate([current.rows(), rows]))
        if self._removed:
            grown.remove(sorted(self._removed))
        return grown

    def _search_structure(self, rows: np.ndarray) -> Neighbours:
        if len(rows) >= self.approximate_from:
            return InvertedFile(rows)
        return ExactScan(rows, self.sparse)

    def _unit(self, matrix: np.ndarray, in_place: bool = False) -> np.ndarray:
        matrix = np.asarray(matrix, dtype=np.float32)
        if self._idf is not None:
            return unit_rows(matrix * self._idf, in_place=True)  # a weighted copy of its own
        return unit_rows(matrix, in_place=in_place)


def _idf(matrix: np.ndarray) -> np.ndarray:
    """Smoothed inverse document frequency per column, as scikit-learn computes it."""
    documents = np.count_nonzero(matrix, axis=0)
    n = matrix.shape[0]
    return (np.log((1 + n) / (1 + documents)) + 1).astype(np.float32)


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
