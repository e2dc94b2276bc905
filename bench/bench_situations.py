"""Does retrieval find the situation? Measured on the simulated world, whose hidden model knows
what each conversation needs.

It learns the airline example on its learning personas (as `playbook demo` does), then asks of
every kept entry: which entry would the retriever pick for this conversation from the playbook
without the entries of its persona (as for a new customer)? The pick is right when the world's
hidden model says its conversation needs the same moves (the same tone for the same customer,
the same substance for the same case) and is the same case of the goal (plain, documented
emergency, wants rebooking...). Beside it: how often a random pick is right (chance), and how
many entries have such a twin in another persona's entries (what perfect retrieval could find).
Each embedder, retrieval key (what is embedded) and match (the nearest conversation, or the
predicted guidance of `[retrieval] match = "guidance"`) is measured on the same entries.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from bench_cost import FewPersonas, example_config, learning_main
from common import progress, settle

from playbook.config import EmbedderConfig, Match, RetrievalConfig
from playbook.domain import load_domain
from playbook.embed import Embedder, build_embedder
from playbook.index import Index
from playbook.retrieve import Retriever
from playbook.runner import QuietReporter
from playbook.runs import learn
from playbook.sim import world
from playbook.types import Domain, Entry, Turn, conversation_text
from playbook.workspace import example_domain

Key = Callable[[Sequence[Turn]], str]
Label = tuple[frozenset[str], str]  # what the conversation needs, and its case


def _customer(turns: Sequence[Turn]) -> list[str]:
    return [t.text for t in turns if t.speaker == "customer"]


KEYS: dict[str, Key] = {
    "conversation": conversation_text,  # what the retriever embeds
    "customer_messages": lambda turns: "\n".join(_customer(turns)),
    "last_customer_message": lambda turns: _customer(turns)[-1],
}
EMBEDDERS = ("static", "hash", "minilm")
MATCH: Match = "conversation"  # the retriever's default, for the keys


def situation(domain: Domain, entry: Entry) -> Label:
    """What the world's hidden model says the entry's conversation needs, and its case."""
    read = world.read_situation(domain, list(entry.scenario.turns))
    return world.needs(read), read.case.name


async def picks(
    entries: Sequence[Entry], embedder: Embedder, key: Key, match: Match
) -> list[int | None]:
    """For each entry, the entry the retriever would pick for its conversation from a playbook
    without any entry of the same persona (a new customer), or None when none is left."""
    matrix = np.asarray(await embedder.embed([key(e.scenario.turns) for e in entries]))
    chosen: list[int | None] = [None] * len(entries)
    position = {id(e): i for i, e in enumerate(entries)}
    for persona in {e.scenario.persona.id for e in entries}:
        mine = [i for i, e in enumerate(entries) if e.scenario.persona.id == persona]
        others = [i for i, e in enumerate(entries) if e.scenario.persona.id != persona]
        if not others:
            continue
        index = Index([entries[i] for i in others], matrix[others], embedder.sparse)
        retriever = Retriever(index, embedder, RetrievalConfig(k=1, floor=-1.0, match=match))
        for i in mine:
            hits = await retriever.hits_for(matrix[i])
            chosen[i] = position[id(hits[0].entry)] if hits else None
    return chosen


def shares(labels: Sequence[Label], chosen: Sequence[int | None]) -> dict[str, float]:
    pairs = [(labels[i], labels[j]) for i, j in enumerate(chosen) if j is not None]
    return {
        "same_needs": _share(a[0] == b[0] for a, b in pairs),
        "same_case": _share(a[1] == b[1] for a, b in pairs),
        "same_needs_and_case": _share(a == b for a, b in pairs),
    }


def chance(entries: Sequence[Entry], labels: Sequence[Label]) -> dict[str, float]:
    """The same shares for a pick drawn at random among other personas' entries (expected)."""
    pairs = [(i, j) for i, j in _other_personas(entries)]

    def expected(same: Callable[[Label, Label], bool]) -> float:
        return _share(same(labels[i], labels[j]) for i, j in pairs)

    return {
        "same_needs": expected(lambda a, b: a[0] == b[0]),
        "same_case": expected(lambda a, b: a[1] == b[1]),
        "same_needs_and_case": expected(lambda a, b: a == b),
    }


def twin_available(entries: Sequence[Entry], labels: Sequence[Label]) -> float:
    """The share of entries with an entry of another persona in the same situation: what
    perfect retrieval could find."""
    twins = {i for i, j in _other_personas(entries) if labels[i] == labels[j]}
    return _share(i in twins for i in range(len(entries)))


def _other_personas(entries: Sequence[Entry]) -> list[tuple[int, int]]:
    persona = [e.scenario.persona.id for e in entries]
    return [
        (i, j) for i in range(len(entries)) for j in range(len(entries)) if persona[i] != persona[j]
    ]


def _share(flags: Any) -> float:
    values = list(flags)
    return round(sum(values) / len(values), 3) if values else 0.0


def available_embedders(specs: Sequence[str]) -> dict[str, Embedder]:
    found = {}
    for spec in specs:
        try:
            found[spec] = build_embedder(EmbedderConfig(spec=spec), {})
        except Exception as exc:  # minilm needs its extra; say so and measure the rest
            progress(f"situations: embedder {spec} not available ({exc})")
    return found


async def learned_entries(personas: int | None, rounds: int | None) -> list[Entry]:
    with tempfile.TemporaryDirectory() as tmp:
        workspace = FewPersonas.open(example_config(Path(tmp) / "playbook.db", rounds))
        workspace.limit = personas
        try:
            progress("situations: learning the airline example on the simulated world")
            result = await learn(workspace, QuietReporter())
            return workspace.store.entries(run_id=result.run_id, statuses=("proposed",))
        finally:
            workspace.close()


async def run(
    personas: int | None = None, rounds: int | None = None, embedders: Sequence[str] = EMBEDDERS
) -> dict[str, Any]:
    entries = await learned_entries(personas, rounds)
    await settle()
    domain = load_domain(example_domain("airline"))
    labels = [situation(domain, e) for e in entries]
    result: dict[str, Any] = {
        "entries": len(entries),
        "chance": chance(entries, labels),
        "twin_available": twin_available(entries, labels),
    }
    for spec, embedder in available_embedders(embedders).items():
        for name, key in KEYS.items():
            progress(f"situations: {spec} embedder, key {name}")
            result[f"{spec}.{name}"] = shares(labels, await picks(entries, embedder, key, MATCH))
        progress(f"situations: {spec} embedder, matching the predicted guidance")
        chosen = await picks(entries, embedder, KEYS["conversation"], "guidance")
        result[f"{spec}.guidance_match"] = shares(labels, chosen)
    return result


def main() -> None:
    learning_main(__doc__, run)


if __name__ == "__main__":
    main()
