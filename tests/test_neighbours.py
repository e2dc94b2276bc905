"""Large playbooks: the approximate index finds what exact search finds, and entries are added
and removed in place (a reload after one new entry must not rebuild the index)."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import numpy as np
import pytest

import playbook.index as index_module
from playbook.index import Index
from playbook.neighbours import ExactScan, InvertedFile
from playbook.store.records import EntryGuidance

DIM = 32


def clustered(rng: np.random.Generator, n: int, centres: int = 20) -> np.ndarray:
    """Unit rows around a few centres, as embeddings of related conversations are."""
    middle = rng.normal(size=(centres, DIM))
    rows = middle[rng.integers(0, centres, n)] + 0.4 * rng.normal(size=(n, DIM))
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def entries(first: int, count: int) -> list[EntryGuidance]:
    return [EntryGuidance(i, (f"guideline {i}",)) for i in range(first, first + count)]


def ids(index: Index[EntryGuidance], query: np.ndarray, k: int = 5, floor: float = -1) -> list:
    return [hit.entry.id for hit in index.search(query, k, floor)]


def test_above_the_threshold_the_approximate_index_finds_what_exact_search_finds() -> None:
    rng = np.random.default_rng(1)
    matrix = clustered(rng, 250)  # 16 lists, all of them probed: the answer must be exact
    approximate = Index(entries(0, 250), matrix, sparse=False, approximate_from=100)
    exact = Index(entries(0, 250), matrix, sparse=False)
    assert approximate.approximate and not exact.approximate
    for query in clustered(rng, 20):
        found = approximate.search(query, 5, 0.3)
        assert [h.entry.id for h in found] == ids(exact, query, floor=0.3)
        assert [h.score for h in found] == pytest.approx(
            [h.score for h in exact.search(query, 5, 0.3)]
        )


def test_the_approximate_index_recalls_the_exact_top_5_on_a_larger_playbook() -> None:
    rng = np.random.default_rng(2)
    matrix = clustered(rng, 5000, centres=200)  # 71 lists, 16 probed
    approximate = Index(entries(0, 5000), matrix, sparse=False, approximate_from=1000)
    exact = Index(entries(0, 5000), matrix, sparse=False)
    queries = clustered(rng, 100, centres=200)
    found = sum(len(set(ids(approximate, q)) & set(ids(exact, q))) for q in queries)
    assert found / (5 * len(queries)) >= 0.9
    assert all(a.score >= b.score for a, b in pairwise(approximate.search(queries[0], 5, -1)))


class CountingInvertedFile(InvertedFile):
    built = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        CountingInvertedFile.built += 1
        super().__init__(*args, **kwargs)


@pytest.mark.parametrize("approximate_from", [100, 10**9])
def test_an_added_entry_is_found_without_rebuilding_the_index(
    approximate_from: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(index_module, "InvertedFile", CountingInvertedFile)
    CountingInvertedFile.built = 0
    rng = np.random.default_rng(3)
    index = Index(
        entries(0, 400), clustered(rng, 400), sparse=False, approximate_from=approximate_from
    )
    built = CountingInvertedFile.built
    new = clustered(rng, 1)
    assert ids(index, new[0], k=1, floor=0.999) == []
    index.add(entries(400, 1), new)
    assert ids(index, new[0], k=1, floor=0.999) == [400]
    assert len(index) == 401
    assert CountingInvertedFile.built == built  # no rebuild, approximate or not


@pytest.mark.parametrize("approximate_from", [100, 10**9])
def test_a_removed_entry_is_never_found_again(approximate_from: int) -> None:
    rng = np.random.default_rng(4)
    matrix = clustered(rng, 300)
    index = Index(entries(0, 300), matrix, sparse=False, approximate_from=approximate_from)
    assert ids(index, matrix[7], k=1) == [7]
    index.remove([7, 12345])  # an id the index does not hold is ignored
    assert 7 not in ids(index, matrix[7], k=50)
    assert len(index) == 299 and 7 not in [e.id for e in index.entries]


def test_growing_past_the_threshold_switches_to_the_approximate_index() -> None:
    rng = np.random.default_rng(5)
    matrix = clustered(rng, 200)
    index = Index(entries(0, 150), matrix[:150], sparse=False, approximate_from=180)
    index.remove([3])
    assert not index.approximate
    index.add(entries(150, 50), matrix[150:])
    assert index.approximate and len(index) == 199
    assert ids(index, matrix[190], k=1) == [190]
    assert 3 not in ids(index, matrix[3], k=20)  # still removed after the switch


def test_a_sparse_index_refuses_to_grow_in_place() -> None:
    index = Index(entries(0, 2), np.eye(2, DIM, dtype=np.float32), sparse=True)
    with pytest.raises(ValueError, match="rebuild it"):
        index.add(entries(2, 1), np.eye(1, DIM, dtype=np.float32))


def test_the_exact_scan_of_a_sparse_query_matches_a_dense_product() -> None:
    # Regression: the scan gathered the query's columns for every row at once (~50 MB per
    # query at 100,000 entries); it now gathers them a block of rows at a time.
    rng = np.random.default_rng(6)
    rows = rng.random((10_000, 256), dtype=np.float32)
    query = np.where(rng.random(256) < 0.1, rng.random(256), 0).astype(np.float32)
    for scan in (ExactScan(rows, sparse=True), ExactScan(rows[:5000], sparse=True)):
        scan.add(rows[len(scan) :])  # grown past its buffer: the layout survives
        np.testing.assert_allclose(scan.scores(query), rows @ query, rtol=1e-5)
    np.testing.assert_allclose(ExactScan(rows).scores(query), rows @ query, rtol=1e-5)


def test_a_deferred_index_searches_exactly_until_it_is_settled() -> None:
    rng = np.random.default_rng(7)
    matrix = clustered(rng, 300)
    index = Index(entries(0, 300), matrix, sparse=False, approximate_from=100, deferred=True)
    assert not index.approximate
    before = [ids(index, q) for q in matrix[:10]]
    index.settle()
    assert index.approximate
    assert [ids(index, q) for q in matrix[:10]] == before  # 17 lists, all probed


def test_lists_are_retrained_when_the_playbook_has_grown_fourfold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(index_module, "InvertedFile", CountingInvertedFile)
    rng = np.random.default_rng(8)
    matrix = clustered(rng, 600)
    index = Index(entries(0, 120), matrix[:120], sparse=False, approximate_from=100)
    index.remove([5])
    CountingInvertedFile.built = 0
    index.add(entries(120, 300), matrix[120:420])  # 420 <= 4 x 120: added in place
    assert CountingInvertedFile.built == 0
    index.add(entries(420, 180), matrix[420:])  # 600 > 480: retrained on every stored row
    assert CountingInvertedFile.built == 1
    assert [ids(index, matrix[i], k=1) for i in (0, 119, 300, 599)] == [[0], [119], [300], [599]]
    assert 5 not in ids(index, matrix[5], k=20) and len(index) == 599
