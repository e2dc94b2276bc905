"""Nearest rows of a matrix of unit vectors by inner product: an exact chunked scan for small
playbooks, an inverted-file index (faiss IVF-Flat) for large ones. Both grow one row at a time
and can drop rows, so that a reload after a few new or reviewed entries rebuilds nothing.

Rows are addressed by position (0, 1, 2... in the order they were added); what a position
stands for is the caller's business (`index.Index` maps positions to entries).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

# Rows scored per step of the exact scan: a block of a sparse query's columns stays in cache,
# where gathering them for all rows at once copied ~50 MB per query at 100,000 entries.
SCAN_ROWS = 4096
# A query with non-zeros in at most this share of dimensions reads only those columns.
SPARSE_QUERY_SHARE = 0.25
# Entries from which a playbook is searched approximately (measured: bench/bench_retrieval.py).
APPROXIMATE_FROM = 10_000
# faiss wants at least 39 training rows per list; more only makes training slower.
TRAIN_ROWS_PER_LIST = 40
TRAIN_ITERATIONS = 10
PROBED_LISTS = 16
# The lists were trained for the playbook's size then; past this growth they are retrained.
RETRAIN_GROWTH = 4


class Neighbours(Protocol):
    """What `index.Index` needs of a search structure."""

    def __len__(self) -> int: ...

    def add(self, rows: np.ndarray) -> None:
        """Append unit rows; they take the next positions."""
        ...

    def remove(self, positions: Sequence[int]) -> None:
        """Never return these positions again."""
        ...

    def top(self, query: np.ndarray, k: int, floor: float) -> tuple[np.ndarray, np.ndarray]:
        """Positions and scores of the k best rows scoring at least `floor`, best first."""
        ...

    def rows(self) -> np.ndarray:
        """Every stored row by position (what a rebuilt structure starts from)."""
        ...


class ExactScan:
    """Every row scored against the query.

    Dense queries read the rows one entry after another. For sparse ones (a hashed embedding has
    about a tenth of its dimensions non-zero) the rows are kept one per dimension (`sparse=True`,
    the transpose), so that a query reads only its own dimensions, a block of entries at a time.
    The buffer has spare room (doubled when full), so adding an entry copies nothing; a removed
    entry keeps its place and is never returned.
    """

    def __init__(self, rows: np.ndarray, sparse: bool = False) -> None:
        rows = np.asarray(rows, dtype=np.float32)
        self._sparse = sparse
        self._buffer = np.ascontiguousarray(rows.T if sparse else rows)
        self._count = len(rows)
        self._removed = np.zeros(len(rows), dtype=bool)
        self._any_removed = False  # most indexes never lose an entry: skip the mask then

    def __len__(self) -> int:
        return self._count

    def rows(self) -> np.ndarray:
        """The stored rows (a view), removed ones included."""
        return self._buffer[:, : self._count].T if self._sparse else self._buffer[: self._count]

    def add(self, rows: np.ndarray) -> None:
        needed = self._count + len(rows)
        if needed > len(self._removed):
            self._grow(max(needed, 2 * len(self._removed), 64), rows.shape[1])
        if self._sparse:
            self._buffer[:, self._count : needed] = rows.T
        else:
            self._buffer[self._count : needed] = rows
        self._removed[self._count : needed] = False
        self._count = needed

    def remove(self, positions: Sequence[int]) -> None:
        self._removed[list(positions)] = True
        self._any_removed = True

    def top(self, query: np.ndarray, k: int, floor: float) -> tuple[np.ndarray, np.ndarray]:
        scores = self.scores(query)
        if self._any_removed:
            scores[self._removed[: self._count]] = -np.inf
        best = best_scores(scores, k, floor)
        return best, scores[best]

    def scores(self, query: np.ndarray) -> np.ndarray:
        """Inner product of every row with the query.

        einsum, not `@`: it runs in the calling thread. `@` goes to BLAS, which hands a product
        this size to worker threads; a server on a busy machine then waits for those threads
        to be scheduled, milliseconds per query where the product itself takes a fraction of one.
        """
        if not self._sparse:
            return np.einsum("nd,d->n", self._buffer[: self._count], query)
        columns = self._buffer[:, : self._count]
        dimensions = np.flatnonzero(query)
        if len(dimensions) > SPARSE_QUERY_SHARE * len(query):
            return np.einsum("d,dn->n", query, columns)
        values, scores = query[dimensions], np.empty(self._count, dtype=np.float32)
        for start in range(0, self._count, SCAN_ROWS):
            block = columns[dimensions, start : start + SCAN_ROWS]
            scores[start : start + block.shape[1]] = np.einsum("d,dn->n", values, block)
        return scores

    def _grow(self, capacity: int, dim: int) -> None:
        shape = (dim, capacity) if self._sparse else (capacity, dim)
        grown = np.empty(shape, dtype=np.float32)
        if self._sparse:
            grown[:, : self._count] = self._buffer[:, : self._count]
        else:
            grown[: self._count] = self._buffer[: self._count]
        self._buffer = grown
        self._removed = np.resize(self._removed, capacity)


def best_scores(scores: np.ndarray, k: int, floor: float) -> np.ndarray:
    """Indices of the top k scores at or above floor, best first."""
    candidates = np.flatnonzero(scores >= floor)
    if len(candidates) > k:
        # argpartition finds the top k in linear time; only those k are then sorted.
        top = np.argpartition(-scores[candidates], k - 1)[:k]
        candidates = candidates[top]
    return candidates[np.argsort(-scores[candidates], kind="stable")]


class InvertedFile:
    """faiss IVF-Flat: rows clustered into about sqrt(n) lists; a query scores the rows of the
    PROBED_LISTS lists nearest to it. Trained once; new rows join their nearest list."""

    def __init__(self, rows: np.ndarray, probed: int = PROBED_LISTS) -> None:
        self._index = _trained_ivf(rows)
        self._index.nprobe = probed
        self._count = 0
        self.trained_for = len(rows)
        self.add(rows)

    def __len__(self) -> int:
        return self._count

    def add(self, rows: np.ndarray) -> None:
        positions = np.arange(self._count, self._count + len(rows), dtype=np.int64)
        self._index.add_with_ids(np.ascontiguousarray(rows, dtype=np.float32), positions)
        self._count += len(rows)

    def remove(self, positions: Sequence[int]) -> None:
        import faiss

        self._index.remove_ids(faiss.IDSelectorBatch(np.asarray(positions, dtype=np.int64)))

    def top(self, query: np.ndarray, k: int, floor: float) -> tuple[np.ndarray, np.ndarray]:
        scores, positions = self._index.search(query[np.newaxis, :].astype(np.float32), k)
        found = (positions[0] >= 0) & (scores[0] >= floor)
        return positions[0][found], scores[0][found]

    def rows(self) -> np.ndarray:
        """Every stored row by position (removed ones are zero): for retraining."""
        rows = np.zeros((self._count, self._index.d), dtype=np.float32)
        invlists = self._index.invlists
        for number in range(self._index.nlist):
            size = invlists.list_size(number)
            if size:
                ids = _faiss_array(invlists.get_ids(number), size, np.int64)
                codes = _faiss_array(invlists.get_codes(number), size * self._index.d * 4, np.uint8)
                rows[ids] = codes.view(np.float32).reshape(size, self._index.d)
        return rows


def _trained_ivf(rows: np.ndarray) -> Any:
    import faiss  # a third of a second to import: only playbooks that need it pay

    dim = rows.shape[1]
    lists = max(1, round(math.sqrt(len(rows))))
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, lists, faiss.METRIC_INNER_PRODUCT)
    index.cp.niter = TRAIN_ITERATIONS
    index.cp.min_points_per_centroid = 1  # small playbooks: no warning about few rows per list
    sample = np.random.default_rng(0).choice(
        len(rows), min(len(rows), TRAIN_ROWS_PER_LIST * lists), replace=False
    )
    index.train(np.ascontiguousarray(rows[np.sort(sample)], dtype=np.float32))
    return index


def _faiss_array(pointer: Any, count: int, dtype: type) -> np.ndarray:
    import faiss

    return faiss.rev_swig_ptr(pointer, count).view(dtype).copy()
