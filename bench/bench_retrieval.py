"""Retrieval at scale: top-k latency and memory per entry of `playbook.retrieve.Index`, against a
plain numpy brute force (`np.argsort(matrix @ q)[-k:]`) timed on the same data in the same run.

Vectors are generated, not embedded (embedding a million texts would measure the embedder): rows
shaped like the default hashed embedder's (1024 dimensions, 12% non-zero, non-negative),
searched with queries that are perturbed copies of stored rows, as a returning situation is.
The index is sparse (IDF-weighted) like the default's. Each query is searched by both, in turn.

Memory is measured with tracemalloc (numpy reports its buffers to it): what the index keeps per
entry, the peak while it is built, and the Python objects that stand for the entries.
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from common import emit, median, progress

from playbook.records import EntryGuidance
from playbook.retrieve import Index

T = TypeVar("T")
GUIDELINE = "Acknowledge the delay before explaining the policy."
SIZES = (1_000, 10_000, 100_000, 1_000_000)
DIM = 1024
DENSITY = 0.12  # a hashed embedding of a few-turn conversation: 7-18% non-zero
K = 10
FLOOR = 0.2
CHUNK_ROWS = 50_000
# Queries per size: enough for a stable median, few enough to stay within the time budget.
QUERIES = {1_000: 200, 10_000: 100, 100_000: 20, 1_000_000: 5}
BUILDS = 3  # builds timed per size (the median is reported); one from a million entries
MANY = 1_000_000
# Building the index holds the raw matrix, a weighted copy and the unit rows at once.
BUILD_COPIES = 3.5


def random_rows(rng: np.random.Generator, n: int, dim: int, density: float) -> np.ndarray:
    """Non-negative float32 rows with about `density` of their entries non-zero."""
    matrix = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, CHUNK_ROWS):
        block = rng.random((min(CHUNK_ROWS, n - start), dim), dtype=np.float32)
        matrix[start : start + len(block)] = np.where(block < density, block / density, 0)
    return matrix


def queries_near(rng: np.random.Generator, matrix: np.ndarray, count: int) -> np.ndarray:
    """Stored rows with a few terms changed: the query is close to, not equal to, an entry."""
    rows = matrix[rng.integers(0, len(matrix), count)].copy()
    noise = random_rows(rng, count, matrix.shape[1], DENSITY / 4)
    return rows + noise


def baseline_top_k(matrix: np.ndarray, query: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(matrix @ query)[-k:]


def available_bytes() -> int:
    """MemAvailable from /proc/meminfo (Linux); a very large number where unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 1 << 62


def measure_size(n: int, dim: int, queries: int, seed: int = 0) -> dict[str, Any]:
    """Latency of both searches and memory of the index for `n` entries."""
    rng = np.random.default_rng(seed)
    matrix = random_rows(rng, n, dim, DENSITY)
    entries, entry_bytes = _traced(lambda: [EntryGuidance(i, (GUIDELINE,)) for i in range(n)])
    kept, peak = _index_memory(entries, matrix)
    build_s, baseline_build_s = _build_times(entries, matrix)
    index = Index(entries, matrix, sparse=True)
    index_ms, baseline_ms = _latencies(index, matrix, queries_near(rng, matrix, queries))
    return {
        "index_p50_ms": round(median(index_ms), 4),
        "baseline_p50_ms": round(median(baseline_ms), 4),
        "ratio_to_baseline": round(median(index_ms) / median(baseline_ms), 3),
        "index_bytes_per_entry": round(kept / n, 1),
        "vector_bytes_per_entry": dim * 4,
        "build_peak_bytes_per_entry": round(peak / n, 1),
        "entry_object_bytes": round(entry_bytes / n, 1),
        "build_s": round(build_s, 4),
        "build_ratio_to_baseline_normalise": round(build_s / baseline_build_s, 3),
        "queries": queries,
    }


def _traced(make: Callable[[], T]) -> tuple[T, int]:
    """What `make` returns and the bytes it allocated and kept."""
    tracemalloc.start()
    made = make()
    kept = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return made, kept


def _index_memory(entries: list[EntryGuidance], matrix: np.ndarray) -> tuple[int, int]:
    """Bytes an index keeps beyond its inputs, and the peak while it is built."""
    tracemalloc.start()
    index = Index(entries, matrix, sparse=True)
    kept, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del index
    return kept, peak


def _build_times(entries: list[EntryGuidance], matrix: np.ndarray) -> tuple[float, float]:
    """Median seconds to build the index and to just normalise the rows, taken in turn."""
    index_s: list[float] = []
    baseline_s: list[float] = []
    for _ in range(1 if len(entries) >= MANY else BUILDS):
        index_s.append(_seconds(lambda: Index(entries, matrix, sparse=True)))
        baseline_s.append(_seconds(lambda: matrix / _row_norms(matrix)))
    return median(index_s), median(baseline_s)


def _row_norms(matrix: np.ndarray) -> np.ndarray:
    return np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)  # no zero division


def _seconds(make: Callable[[], object]) -> float:
    started = time.perf_counter()
    make()  # the result is dropped at once, so that builds do not pile up in memory
    return time.perf_counter() - started


def _latencies(
    index: Index[EntryGuidance], matrix: np.ndarray, queries: np.ndarray
) -> tuple[list[float], list[float]]:
    index_ms: list[float] = []
    baseline_ms: list[float] = []
    for query in queries:
        started = time.perf_counter()
        index.search(query, K, FLOOR)
        index_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        baseline_top_k(matrix, query, K)
        baseline_ms.append((time.perf_counter() - started) * 1000)
    return index_ms, baseline_ms


def run(sizes: Sequence[int] = SIZES, dim: int = DIM) -> dict[str, Any]:
    results: dict[str, Any] = {"settings": {"dim": dim, "density": DENSITY, "k": K}}
    for n in sizes:
        needed = int(n * dim * 4 * BUILD_COPIES)
        if needed > available_bytes():
            progress(f"retrieval: {n} entries skipped, needs ~{needed / 1e9:.1f} GB")
            results[f"entries_{n}"] = {"skipped": f"needs ~{needed / 1e9:.1f} GB of memory"}
            continue
        progress(f"retrieval: {n} entries x {dim} dimensions")
        queries = QUERIES.get(n, 20)
        results[f"entries_{n}"] = measure_size(n, dim, queries)
        progress(f"retrieval: {n}: {results[f'entries_{n}']}")
        gc.collect()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--dim", type=int, default=DIM)
    args = parser.parse_args()
    emit(run(args.sizes, args.dim))


if __name__ == "__main__":
    main()
