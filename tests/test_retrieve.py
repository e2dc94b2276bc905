"""Retrieval: exact nearest entries with k and floor, IDF for hashed vectors, composed guidance."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from playbook.config import RetrievalConfig
from playbook.embed import HashEmbedder
from playbook.index import Hit, Index, build_index
from playbook.retrieve import GuidanceMap, Retriever, candidates, compose_guidance
from playbook.store.core import Store
from playbook.types import Attempt, Entry, Persona, Provenance, Scenario, Turn, Verdict
from playbook.vectors import EmbedderMismatch

PERSONA = Persona("p1", "refund", "driver", "frustrated", demanding=True)


def make_entry(
    text: str, guidance: tuple[str, ...] = (), entry_id: int | None = None, goal: str = "refund"
) -> Entry:
    baseline = Attempt((), "No.", Verdict(1, "Unhelpful."))
    provenance = Provenance("r1", 0, "reference", baseline, ())
    scenario = Scenario(dataclasses.replace(PERSONA, goal=goal), (Turn("customer", text),))
    return Entry(entry_id, scenario, guidance or (f"Handle: {text}",), provenance)


def unit(*values: float) -> np.ndarray:
    vector = np.asarray(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def angled(cosine: float) -> np.ndarray:
    """A unit vector whose cosine similarity with (1, 0) is `cosine`."""
    return unit(cosine, float(np.sqrt(1 - cosine**2)))


def texts(hits: list[Hit]) -> list[str]:
    return [hit.entry.scenario.turns[0].text for hit in hits]


def test_search_respects_k_floor_and_order() -> None:
    cosines = [0.5, 0.95, 0.1, 0.9, -0.3]
    entries = [make_entry(str(c), entry_id=i) for i, c in enumerate(cosines)]
    index = Index(entries, np.stack([angled(c) for c in cosines]), sparse=False)
    query = unit(1, 0)
    assert texts(index.search(query, k=2, floor=-1)) == ["0.95", "0.9"]
    assert texts(index.search(query, k=10, floor=0.4)) == ["0.95", "0.9", "0.5"]
    assert texts(index.search(query, k=10, floor=0.99)) == []
    assert [round(hit.score, 4) for hit in index.search(query, k=1, floor=0)] == [0.95]
    assert texts(index.search(query * 3, k=1, floor=0)) == ["0.95"]  # any length of query


def test_search_on_a_large_index_matches_a_full_sort() -> None:
    rng = np.random.default_rng(7)
    matrix = rng.normal(size=(20_000, 64)).astype(np.float32)
    entries = [make_entry(str(i), entry_id=i) for i in range(len(matrix))]
    index = Index(entries, matrix, sparse=False, approximate_from=len(matrix) + 1)
    assert not index.approximate
    query = rng.normal(size=64).astype(np.float32)
    hits = index.search(query, k=25, floor=-1)
    normalised = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    expected = np.argsort(-(normalised @ (query / np.linalg.norm(query))))[:25]
    assert [hit.entry.id for hit in hits] == expected.tolist()
    assert all(a.score >= b.score for a, b in pairwise(hits))


def test_empty_index_and_blank_query_find_nothing() -> None:
    empty = Index([], np.zeros((0, 0), dtype=np.float32), sparse=True)
    assert empty.search(unit(1, 0), k=3, floor=-1) == []
    index = Index([make_entry("a")], unit(1, 0)[np.newaxis, :], sparse=False)
    assert index.search(np.zeros(2, dtype=np.float32), k=1, floor=-1) == []
    with pytest.raises(ValueError, match="the query has 3 dimensions but the index 2"):
        index.search(unit(1, 0, 0), k=1, floor=-1)


async def test_idf_makes_a_rare_shared_word_count_more_than_common_ones() -> None:
    embedder = HashEmbedder()
    things = ["ticket", "hotel", "car rental", "seat upgrade", "meal", "lounge pass"]
    corpus = [f"Customer: I need a refund for my {thing}." for thing in things]
    corpus.append("Customer: The wheelchair arrived broken.")
    entries = [make_entry(text) for text in corpus]
    matrix = await embedder.embed(corpus)
    [query] = await embedder.embed(["Customer: I need a refund for the wheelchair."])
    plain = Index(entries, matrix, sparse=False).search(query, k=1, floor=-1)
    weighted = Index(entries, matrix, sparse=True).search(query, k=1, floor=-1)
    # Without IDF the many common words win; with it, the one rare word does.
    assert "refund for my" in texts(plain)[0]
    assert texts(weighted) == ["Customer: The wheelchair arrived broken."]


def test_compose_guidance_drops_repeats_and_keeps_the_first_wording() -> None:
    composed = compose_guidance(
        [
            ["1. Acknowledge the delay.", "2) Offer a travel voucher"],
            ["- acknowledge   the delay", "Explain the refund policy briefly!", ""],
            ["* Offer a travel voucher.", "Ask which date suits them."],
        ]
    )
    assert composed == (
        "1. Acknowledge the delay.",
        "2) Offer a travel voucher",
        "Explain the refund policy briefly!",
        "Ask which date suits them.",
    )
    assert compose_guidance([["a", "b"], ["c"]], limit=2) == ("a", "b")
    assert compose_guidance([]) == ()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "playbook.db") as opened:
        yield opened


async def test_retriever_returns_the_nearest_entrys_guidance(store: Store) -> None:
    embedder = HashEmbedder()
    situations = {
        "My flight was cancelled and I want my money back.": ("Acknowledge the cancellation.",),
        "How many bags can I bring on an international trip?": ("State the bag allowance.",),
        "The hotel room was dirty when we arrived.": ("Apologise for the room.",),
    }
    vectors = await embedder.embed(list(situations))
    for (text, guidance), vector in zip(situations.items(), vectors, strict=True):
        store.add_entry(make_entry(text, guidance), vector, embedder.id)
    retriever = Retriever(
        await build_index(store, embedder), embedder, RetrievalConfig(k=1, floor=0.2)
    )

    found = await retriever.retrieve(
        [Turn("customer", "They cancelled my flight! Money back now.")]
    )
    assert found.guidance == ("Acknowledge the cancellation.",)
    assert len(found.hits) == 1 and found.hits[0].score >= 0.2
    unrelated = await retriever.retrieve([Turn("customer", "Quantum chromodynamics lecture")])
    assert (unrelated.hits, unrelated.guidance) == ([], ())
    assert (await retriever.retrieve([])).guidance == ()


async def test_retriever_with_only_approved_entries(store: Store) -> None:
    embedder = HashEmbedder()
    text = "My flight was cancelled and I want my money back."
    [vector] = await embedder.embed([text])
    entry_id = store.add_entry(make_entry(text, ("Say sorry first.",)), vector, embedder.id)
    approved = await build_index(store, embedder, statuses=["approved"])
    retriever = Retriever(approved, embedder, RetrievalConfig(k=3, floor=0.0))
    turns = [Turn("customer", text)]
    assert (await retriever.retrieve(turns)).guidance == ()

    store.set_status(entry_id, "approved", "ann")
    rebuilt = retriever.with_index(await build_index(store, embedder, statuses=["approved"]))
    assert (rebuilt.k, rebuilt.floor) == (3, 0.0)
    assert (await rebuilt.retrieve(turns)).guidance == ("Say sorry first.",)
    # Entries embedded by another model cannot be searched: a clear error, not an empty index.
    with pytest.raises(EmbedderMismatch, match=r"1 by 'hash-tfidf-v1-1024'.*entries reembed"):
        await build_index(store, HashEmbedder(dim=256))


TRIPS = ("Paris in May", "Rome in June", "Oslo in March", "Lima in July", "Cairo in April")
SHORT, UPSET = "Keep it short, I'm busy.", "I'm so upset and worried about this."
BE_BRIEF, COMFORT = "Answer in two sentences.", "Say you are sorry before anything else."


async def test_guidance_match_finds_the_situation_the_nearest_conversation_misses() -> None:
    """Entries about the same trips for a hurried and for an upset customer: the nearest
    conversation shares the trip, the situation is in one sentence; the guidance map learns
    that sentence from the playbook's own pairs."""
    embedder = HashEmbedder()
    entries = [
        make_entry(f"I need a refund for my trip to {trip}. {cue}", (advice,))
        for trip in TRIPS
        for cue, advice in ((SHORT, BE_BRIEF), (UPSET, COMFORT))
        if (trip, cue) != ("Paris in May", UPSET)
    ]
    vectors = await embedder.embed([e.scenario.text() for e in entries])
    index = Index(entries, np.asarray(vectors), embedder.sparse)
    upset_about_paris = [Turn("customer", f"I need a refund for my trip to Paris in May. {UPSET}")]

    nearest = Retriever(index, embedder, RetrievalConfig(k=1, floor=0.0))
    assert (await nearest.retrieve(upset_about_paris)).guidance == (BE_BRIEF,)
    guided = Retriever(index, embedder, RetrievalConfig(k=1, floor=0.0, match="guidance"))
    await guided.prepare()
    assert (await guided.retrieve(upset_about_paris)).guidance == (COMFORT,)
    assert guided.with_index(index).match == "guidance"
    # The floor still decides whether the playbook covers a conversation at all.
    strict = Retriever(index, embedder, RetrievalConfig(k=1, floor=0.99, match="guidance"))
    assert (await strict.retrieve([Turn("customer", "Quantum chromodynamics")])).hits == []


REQUEST = (
    "I need a refund for my trip to Paris in May: I booked the flight and the hotel on your "
    "website last winter, paid by card, and now the dates no longer work for us."
)


async def test_guidance_match_looks_past_the_ten_nearest_conversations() -> None:
    """Regression (issue 11): the guidance was chosen among the 10 nearest conversations only.
    Within one goal the wording of the request outweighs the sentence that sets the situation
    apart: here the 12 conversations nearest an upset customer's are hurried customers who
    worded their request the same way, and the upset customers' entries were never candidates."""
    embedder = HashEmbedder()
    hurried = [make_entry(f"{REQUEST} Booking {n}. {SHORT}", (BE_BRIEF,)) for n in range(12)]
    hurried += [make_entry(f"Refund for {trip}? {SHORT}", (BE_BRIEF,)) for trip in TRIPS[1:]]
    upset = [make_entry(f"Refund for {trip}? {UPSET}", (COMFORT,)) for trip in TRIPS[1:]]
    entries = hurried + upset
    vectors = await embedder.embed([e.scenario.text() for e in entries])
    index = Index(entries, np.asarray(vectors), embedder.sparse)
    query = [Turn("customer", f"{REQUEST} {UPSET}")]
    nearest_ten = index.search((await embedder.embed([query[0].text]))[0], 10, 0.0)
    assert {hit.entry.guidance for hit in nearest_ten} == {(BE_BRIEF,)}

    guided = Retriever(index, embedder, RetrievalConfig(k=1, floor=0.0, match="guidance"))
    assert (await guided.retrieve(query)).guidance == (COMFORT,)


async def test_guidance_match_keeps_to_the_goal_of_the_nearest_conversation() -> None:
    """Predicted guidance ranks only the entries of the nearest conversation's goal: an upset
    refund customer must not get the meal voucher of upset baggage customers, however near
    their guidance is to what the customer's mood predicts (another goal's remedies are
    invented compensation here)."""
    embedder = HashEmbedder()
    voucher = "Say you are sorry, then offer the $50 meal voucher."
    request = "I want a refund for my restricted ticket."
    refunds = [make_entry(f"{request} Booking {n}. {SHORT}", (BE_BRIEF,)) for n in range(2)]
    bags = [
        make_entry(f"My bag is late after {trip}. {cue}", (advice,), goal="baggage")
        for trip in TRIPS
        for cue, advice in ((UPSET, voucher), (SHORT, BE_BRIEF))
    ]
    entries = refunds + bags
    vectors = await embedder.embed([e.scenario.text() for e in entries])
    index = Index(entries, np.asarray(vectors), embedder.sparse)
    guided = Retriever(index, embedder, RetrievalConfig(k=1, floor=0.0, match="guidance"))

    found = await guided.retrieve([Turn("customer", f"{request} {UPSET}")])
    assert [hit.entry.goal for hit in found.hits] == ["refund"]
    assert found.guidance == (BE_BRIEF,)
    # An upset customer whose bag is late gets the voucher.
    late_bag = [Turn("customer", f"My bag is late after Paris in May. {UPSET}")]
    assert (await guided.retrieve(late_bag)).guidance == (voucher,)


async def test_entries_newer_than_the_guidance_map_keep_to_the_goal_too() -> None:
    """Between a reload and the map's refit, the nearest entries may all be newer than the map:
    they are then taken as they are, but still only those of the nearest one's goal."""
    embedder = HashEmbedder()
    known = [make_entry("I want a refund."), make_entry("My bag is late.", goal="baggage")]
    vectors = await embedder.embed([e.scenario.text() for e in known])
    guidance_map = await GuidanceMap.fit(Index(known, np.asarray(vectors), False), embedder)
    newer_refund = make_entry("I want my money back, please.")
    nearest = [Hit(newer_refund, 0.9), Hit(known[1], 0.8)]

    ranked = guidance_map.rank(np.asarray(vectors[0]), candidates(nearest), k=2)

    assert [hit.entry for hit in ranked] == [newer_refund]


async def test_served_entries_carry_their_goal(store: Store) -> None:
    """The lean entries a server loads know their goal, so serving keeps to the nearest
    conversation's goal as evaluation does."""
    embedder = HashEmbedder()
    entries = [
        make_entry("I want a refund for my restricted ticket.", (BE_BRIEF,)),
        make_entry("My bag is late after Paris in May.", (COMFORT,), goal="baggage"),
    ]
    vectors = await embedder.embed([e.scenario.text() for e in entries])
    for entry, vector in zip(entries, vectors, strict=True):
        store.add_entry(entry, vector, embedder.id)
    lean, _ = store.entry_guidance_vectors(embedder.id)
    assert [(e.goal, e.guidance) for e in lean] == [
        ("refund", (BE_BRIEF,)),
        ("baggage", (COMFORT,)),
    ]


class OrderedEmbedder(HashEmbedder):
    """Word order counts, as in a transformer: the same words in another order embed otherwise."""

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        vectors = await super().embed(texts)
        order = np.asarray([[len(text.split("\n")[0])] for text in texts], dtype=np.float32)
        return vectors + 0.01 * order / max(1.0, float(order.max()))


async def test_guidance_of_the_same_lines_in_another_order_ties_and_the_nearer_one_wins() -> None:
    """Guidance matched as the same lines in another order scores exactly alike on any machine,
    so the nearer conversation wins the tie, rather than how a CPU happened to sum floats."""
    embedder = OrderedEmbedder()
    lines = ("Acknowledge the delay.", "Offer the $50 meal voucher, nothing else.")
    nearer = make_entry("My bag is late and I am upset.", lines)
    farther = make_entry("Bag late, upset, want help now please.", lines[::-1])
    known = [farther, nearer]
    vectors = await embedder.embed([e.scenario.text() for e in known])
    guidance_map = await GuidanceMap.fit(Index(known, np.asarray(vectors), False), embedder)
    assert np.array_equal(guidance_map.targets[0], guidance_map.targets[1])

    query = np.asarray((await embedder.embed(["Customer: My bag is late and I am upset."]))[0])
    hits = [Hit(e, float(query @ v)) for e, v in zip(known, vectors, strict=True)]
    assert hits[1].score > hits[0].score
    assert [hit.entry for hit in guidance_map.rank(query, hits, k=1)] == [nearer]
