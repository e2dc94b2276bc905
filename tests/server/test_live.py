"""The served index catches up with the store in place: a new, reviewed or edited entry changes
what is served without rebuilding the index (at 100,000 entries a rebuild takes seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest

from playbook.embed.static import StaticEmbedder
from playbook.server.live import LivePlaybook
from playbook.store.core import Store
from playbook.types import Turn

from .conftest import BAGGAGE_GUIDANCE, BAGGAGE_TEXT, REFUND_GUIDANCE, REFUND_TEXT, make_entry

PET_TEXT = "Can my small dog travel with me in the cabin on the flight to Denver?"
PET_GUIDANCE = ("Explain the pet-in-cabin rules and the carrier size limit.",)


@pytest.fixture
def embedder() -> StaticEmbedder:
    return StaticEmbedder.bundled()


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(tmp_path / "playbook.db")


def add(store: Store, embedder: StaticEmbedder, text: str, guidance: tuple[str, ...]) -> int:
    return store.add_entry(make_entry(text, guidance), embedder.vector(text), embedder.id)


async def served(live: LivePlaybook, text: str) -> tuple[str, ...]:
    return (await live.retrieve([Turn("customer", text)])).guidance


async def test_new_reviewed_and_edited_entries_change_the_index_in_place(
    store: Store, embedder: StaticEmbedder
) -> None:
    refund = add(store, embedder, REFUND_TEXT, REFUND_GUIDANCE)
    add(store, embedder, BAGGAGE_TEXT, BAGGAGE_GUIDANCE)
    live = LivePlaybook(store, embedder, ("proposed", "approved"))
    assert await live.reload() == 2
    index = live.retriever.index
    assert await served(live, PET_TEXT) != PET_GUIDANCE

    add(store, embedder, PET_TEXT, PET_GUIDANCE)
    assert await live.reload_if_changed() and len(live) == 3
    assert await served(live, PET_TEXT) == PET_GUIDANCE

    store.edit_guidance(refund, ["Offer travel credit first."], "reviewer")
    await live.reload_if_changed()
    assert await served(live, REFUND_TEXT) == ("Offer travel credit first.",)

    store.set_status(refund, "rejected", "reviewer")
    await live.reload_if_changed()
    assert len(live) == 2 and await served(live, REFUND_TEXT) != ("Offer travel credit first.",)
    assert live.retriever.index is index  # every change applied in place, nothing rebuilt


async def test_a_sparse_embedders_index_is_rebuilt_with_new_idf_weights(store: Store) -> None:
    from playbook.embed import HashEmbedder

    hashed = HashEmbedder()
    store.add_entry(make_entry(REFUND_TEXT, REFUND_GUIDANCE), hashed.vector(REFUND_TEXT), hashed.id)
    live = LivePlaybook(store, hashed, ("proposed",))
    await live.reload()
    index = live.retriever.index
    store.add_entry(make_entry(PET_TEXT, PET_GUIDANCE), hashed.vector(PET_TEXT), hashed.id)
    await live.reload_if_changed()
    assert live.retriever.index is not index and len(live) == 2


async def test_a_large_playbook_is_served_exactly_at_once_then_approximately(
    store: Store, embedder: StaticEmbedder
) -> None:
    add(store, embedder, REFUND_TEXT, REFUND_GUIDANCE)
    add(store, embedder, BAGGAGE_TEXT, BAGGAGE_GUIDANCE)
    live = LivePlaybook(store, embedder, ("proposed",), approximate_from=2)
    await live.reload(settle=False)
    assert not live.retriever.index.approximate
    assert await served(live, REFUND_TEXT) == REFUND_GUIDANCE
    await live.settle()
    assert live.retriever.index.approximate
    assert await served(live, REFUND_TEXT) == REFUND_GUIDANCE
    add(store, embedder, PET_TEXT, PET_GUIDANCE)
    await live.reload_if_changed()
    assert await served(live, PET_TEXT) == PET_GUIDANCE


def test_changes_stop_at_the_version_read_so_a_later_write_waits_for_the_next_reload(
    store: Store, embedder: StaticEmbedder
) -> None:
    # A learner writing while the server catches up must not make the counts disagree (which
    # would rebuild the whole index): what came after the version read is the next reload's.
    first = store.playbook_version()
    refund = add(store, embedder, REFUND_TEXT, REFUND_GUIDANCE)
    read = store.playbook_version()
    pet = add(store, embedder, PET_TEXT, PET_GUIDANCE)
    store.set_status(refund, "approved", "reviewer")
    changes = store.changes_since(first, read, embedder.id, statuses=("proposed",))
    assert (changes.added, changes.touched) == (1, [refund])
    later = store.changes_since(read, store.playbook_version(), embedder.id, statuses=("proposed",))
    assert (later.added, later.touched, [e.id for e in later.servable]) == (1, [refund, pet], [pet])
