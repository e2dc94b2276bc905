"""The playbook changes while the proxy runs: new entries and review decisions take effect
without a restart, and the approval gate serves approved entries only."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from playbook.embed import HashEmbedder
from playbook.server import ENTRIES_HEADER
from playbook.store.core import Store
from playbook.types import Attempt, Entry, Persona, Provenance, Scenario, Turn, Verdict

KEY = "sk-proxy-test-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}
REFUND_TEXT = "I demand a full refund for my restricted ticket, this is outrageous!"
PET_TEXT = "Can my small dog travel with me in the cabin on the flight to Denver?"
PET_GUIDANCE = ("Explain the pet-in-cabin rules and the carrier size limit.",)


def entries_used(url: str, text: str) -> str:
    body = {"model": "student", "messages": [{"role": "user", "content": text}]}
    response = httpx.post(f"{url}/v1/chat/completions", json=body, headers=AUTH)
    response.raise_for_status()
    return response.headers[ENTRIES_HEADER]


def reload(url: str) -> dict[str, Any]:
    response = httpx.post(f"{url}/v1/playbook/reload", headers=AUTH)
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


@pytest.fixture
def other_writer(playbook: Any) -> Iterator[Store]:
    """The same file opened separately, as a `playbook learn` or a reviewer's process would."""
    with Store.open(playbook.path) as store:
        yield store


def add_pet_entry(store: Store) -> int:
    persona = Persona("p9", "pets", "amiable", "calm", demanding=False)
    provenance = Provenance("r2", 1, "", Attempt((), "", Verdict(1, "")), ())
    entry = Entry(None, Scenario(persona, (Turn("customer", PET_TEXT),)), PET_GUIDANCE, provenance)
    embedder = HashEmbedder()
    return store.add_entry(entry, embedder.vector(PET_TEXT), embedder.id)


def test_a_new_entry_is_served_after_an_explicit_reload(
    start_proxy: Any, other_writer: Store
) -> None:
    url = start_proxy(reload_interval=3600)  # no automatic reload during this test
    assert entries_used(url, PET_TEXT) == ""
    pet = add_pet_entry(other_writer)
    assert reload(url) == {"entries": 3, "approved_only": False}
    assert entries_used(url, PET_TEXT) == str(pet)


def test_a_new_entry_is_picked_up_without_asking(
    start_proxy: Any, other_writer: Store, eventually: Any
) -> None:
    url = start_proxy(reload_interval=0.05)
    pet = add_pet_entry(other_writer)
    eventually(lambda: httpx.get(f"{url}/healthz").json()["entries"] == 3)
    assert entries_used(url, PET_TEXT) == str(pet)


def test_the_approval_gate_serves_an_entry_once_approved(
    start_proxy: Any, playbook: Any, other_writer: Store, upstream: Any
) -> None:
    url = start_proxy(approved_only=True, reload_interval=3600)
    assert entries_used(url, REFUND_TEXT) == ""  # proposed, not yet approved
    assert "<guidelines>" not in str(upstream.bodies[-1]["messages"])
    other_writer.set_status(playbook.refund, "approved", "reviewer")
    assert reload(url) == {"entries": 1, "approved_only": True}
    assert entries_used(url, REFUND_TEXT) == str(playbook.refund)


def test_a_rejected_entry_is_never_served(
    start_proxy: Any, playbook: Any, other_writer: Store, eventually: Any
) -> None:
    url = start_proxy(reload_interval=0.05)
    assert entries_used(url, REFUND_TEXT) == str(playbook.refund)
    other_writer.set_status(playbook.refund, "rejected", "reviewer", "promises too much")
    eventually(lambda: httpx.get(f"{url}/healthz").json()["entries"] == 1)
    assert entries_used(url, REFUND_TEXT) == ""
