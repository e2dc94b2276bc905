"""Retrieval at scale: top-5 latency and recall of `playbook.index.Index` (exact below 10,000
entries, faiss IVF-Flat from there), against exact brute force (`einsum` over every row, then a
partial sort) timed on the same data in the same run, query by query in turn.

Vectors are generated, not embedded (embedding a million texts would measure the embedder): the
default embedder's 256 dimensions, rows scattered around 5,000 centres that are real embeddings
of synthetic customer conversations (cosine about 0.9 to their centre), as a large playbook holds
many entries for each situation. Queries are fresh rows around the same centres: a returning
situation in new words. recall@5 is the share of brute force's top 5 that the index also returns.

Also: recall@5 on real embeddings (50,000 of bench_proxy's synthetic conversations, embedded by
the default embedder), and the exact scan of hashed (sparse, 1024-dimensional) vectors at
100,000 entries, a block of entries at a time, against gathering the query's dimensions for all
entries at once.

Build time is compared with normalising the rows (the least any index must do), in the same run.
"""

from __future__ import annotations

import argparse
import gc
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from bench_proxy import REFUND, synthetic_turns
from common import available_bytes, emit, median, progress

from playbook.embed.static import StaticEmbedder
from playbook.index import Index
from playbook.neighbours import ExactScan
from playbook.store.records import EntryGuidance
from playbook.types import Persona, Scenario, Turn

GUIDELINE = "Acknowledge the delay before explaining the policy."
SIZES = (1_000, 10_000, 100_000, 1_000_000)
CENTRES = 5_000
SPREAD = 0.5  # noise norm against a unit centre: cosine to the centre about 0.9
K = 5
FLOOR = -1.0  # every score counts: recall compares the top 5, whatever their scores
CHUNK_ROWS = 50_000
QUERIES = {1_000: 200, 10_000: 200, 100_000: 100, 1_000_000: 50}
SPARSE_ENTRIES = 100_000
EMBEDDED_ENTRIES = 50_000  # embedding them takes a few seconds
SPARSE_DIM = 1024  # the hashed embedder's default
SPARSE_DENSITY = 0.12
BUILD_COPIES = 4  # rows, unit rows, the index's own copy and the baseline's


def centres(count: int, seed: int = 0) -> np.ndarray:
    """Embeddings of synthetic conversations by the default (static) embedder."""
    rng, embedder = random.Random(seed), StaticEmbedder.bundled()
    persona = Persona("bench", "refund_restricted_ticket", "driver", "frustrated", True)
    topics = ("refund", "cancelled flight", "lost suitcase", "double charge", "pet in cabin")
    words = ("please", "now", "urgent", "confused", "angry", "worried", "booking", "again")
    rows = []
    for _ in range(count):
        text = f"{rng.choice(topics)} {' '.join(rng.sample(words, 3))} {rng.randint(1, 99999)}"
        rows.append(embedder.vector(Scenario(persona, (Turn("customer", text),)).text()))
    return np.stack(rows)


def rows_near(rng: np.random.Generator, middle: np.ndarray, n: int) -> np.ndarray:
    """`n` unit rows, each a random centre plus noise."""
    matrix = np.empty((n, middle.shape[1]), dtype=np.float32)
    for start in range(0, n, CHUNK_ROWS):
        count = min(CHUNK_ROWS, n - start)
        noise = rng.normal(size=(count, middle.shape[1])).astype(np.float32)
        noise *= SPREAD / np.sqrt(middle.shape[1])
        block = middle[rng.integers(0, len(middle), count)] + noise
        matrix[start : start + count] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return matrix


def exact_top(matrix: np.ndarray, query: np.ndarray, k: int) -> np.ndarray:
    scores = np.einsum("nd,d->n", matrix, query)
    top = np.argpartition(-scores, k - 1)[:k]
    return top[np.argsort(-scores[top])]


def measure_size(middle: np.ndarray, n: int, queries: int, seed: int = 0) -> dict[str, Any]:
    """Latency and recall of the index against brute force, its memory and build time."""
    rng = np.random.default_rng(seed)
    matrix = rows_near(rng, middle, n)
    entries = [EntryGuidance(i, (GUIDELINE,)) for i in range(n)]
    index, build_s = _timed(lambda: Index(entries, matrix, sparse=False))
    normalise_s = _timed(lambda: matrix / np.linalg.norm(matrix, axis=1, keepdims=True))[1]
    index_ms, exact_ms, recall = _compare(index, matrix, rows_near(rng, middle, queries))
    return {
        "search": "approximate (faiss IVF-Flat)" if index.approximate else "exact",
        "index_p50_ms": round(median(index_ms), 4),
        "exact_p50_ms": round(median(exact_ms), 4),
        "ratio_to_exact": round(median(index_ms) / median(exact_ms), 3),
        "recall_at_5": round(recall, 4),
        "build_s": round(build_s, 3),
        "build_ratio_to_normalise": round(build_s / normalise_s, 1),
        "queries": queries,
    }


def _timed(make: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    made = make()
    return made, time.perf_counter() - started


def _compare(
    index: Index[EntryGuidance], matrix: np.ndarray, queries: np.ndarray
) -> tuple[list[float], list[float], float]:
    """Milliseconds per query of each, in turn, and the index's recall of the exact top K."""
    index_ms: list[float] = []
    exact_ms: list[float] = []
    found = 0
    for query in queries:
        started = time.perf_counter()
        hits = index.search(query, K, FLOOR)
        index_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        exact = exact_top(matrix, query, K)
        exact_ms.append((time.perf_counter() - started) * 1000)
        found += len({hit.entry.id for hit in hits} & set(exact.tolist()))
    return index_ms, exact_ms, found / (K * len(queries))


def sparse_scan(n: int = SPARSE_ENTRIES, queries: int = 20, seed: int = 1) -> dict[str, Any]:
    """The exact scan of hashed (sparse) vectors, a block of entries at a time, against reading
    the query's dimensions for every entry at once (what it did before: ~50 MB per query)."""
    rng = np.random.default_rng(seed)
    rows = rng.random((n, SPARSE_DIM), dtype=np.float32)
    rows[rows > SPARSE_DENSITY] = 0
    scan = ExactScan(rows, sparse=True)
    by_dimension = np.ascontiguousarray(rows.T)
    del rows
    chunked: list[float] = []
    gathered: list[float] = []
    for _ in range(queries):
        query = np.where(rng.random(SPARSE_DIM) < SPARSE_DENSITY, 1.0, 0.0).astype(np.float32)
        dimensions = np.flatnonzero(query)
        started = time.perf_counter()
        scan.scores(query)
        chunked.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        np.einsum("d,dn->n", query[dimensions], by_dimension[dimensions])
        gathered.append((time.perf_counter() - started) * 1000)
    return {
        "entries": n,
        "chunked_p50_ms": round(median(chunked), 3),
        "gather_p50_ms": round(median(gathered), 3),
        "ratio_to_gather": round(median(chunked) / median(gathered), 3),
    }


def embedded_recall(n: int = EMBEDDED_ENTRIES, queries: int = 200) -> dict[str, Any]:
    """recall@5 and latency on real embeddings: bench_proxy's synthetic conversations embedded by
    the default embedder, queried with conversations the index does not hold."""
    rng, embedder = random.Random(3), StaticEmbedder.bundled()

    def conversation() -> np.ndarray:
        return embedder.vector(Scenario(REFUND, synthetic_turns(rng)).text())

    matrix = np.stack([conversation() for _ in range(n)])
    index = Index([EntryGuidance(i, (GUIDELINE,)) for i in range(n)], matrix, sparse=False)
    asked = np.stack([conversation() for _ in range(queries)])
    index_ms, exact_ms, recall = _compare(index, matrix, asked)
    return {
        "entries": n,
        "search": "approximate (faiss IVF-Flat)" if index.approximate else "exact",
        "recall_at_5": round(recall, 4),
        "index_p50_ms": round(median(index_ms), 4),
        "exact_p50_ms": round(median(exact_ms), 4),
    }


def run(sizes: Sequence[int] = SIZES, centre_count: int = CENTRES) -> dict[str, Any]:
    middle = centres(centre_count)
    results: dict[str, Any] = {"settings": {"dim": middle.shape[1], "k": K, "centres": CENTRES}}
    for n in sizes:
        needed = n * middle.shape[1] * 4 * BUILD_COPIES
        if needed > available_bytes():
            progress(f"retrieval: {n} entries skipped, needs ~{needed / 1e9:.1f} GB")
            results[f"entries_{n}"] = {"skipped": f"needs ~{needed / 1e9:.1f} GB of memory"}
            continue
        progress(f"retrieval: {n} entries x {middle.shape[1]} dimensions")
        results[f"entries_{n}"] = measure_size(middle, n, QUERIES.get(n, 50))
        progress(f"retrieval: {n}: {results[f'entries_{n}']}")
        gc.collect()
    progress(f"retrieval: embedded conversations, {min(max(sizes), EMBEDDED_ENTRIES)} entries")
    results["embedded"] = embedded_recall(min(max(sizes), EMBEDDED_ENTRIES))
    progress(f"retrieval: exact scan of sparse vectors, {min(max(sizes), SPARSE_ENTRIES)} entries")
    results["sparse_scan"] = sparse_scan(min(max(sizes), SPARSE_ENTRIES))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    args = parser.parse_args()
    emit(run(args.sizes))


if __name__ == "__main__":
    main()
