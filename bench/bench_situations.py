"""Does retrieval find the situation? Measured on the simulated world, whose hidden model knows
what each conversation needs.

It learns the airline example on its learning personas (as `playbook demo` does), then asks of
every kept entry: which other entry would the retriever pick for this conversation? The pick is
right when the world's hidden model says its conversation needs the same moves (the same tone
for the same customer, the same substance for the same case) and is the same case of the goal
(plain, documented emergency, wants rebooking...). Beside it: how often a random pick is right
(chance), and how many entries have such a twin in the playbook at all (what perfect retrieval
could find). Each retrieval key (what is embedded) and embedder is measured on the same entries.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from bench_cost import FewPersonas, example_config
from common import emit, progress, settle

from playbook.config import EmbedderConfig
from playbook.domain import load_domain
from playbook.embed import Embedder, build_embedder
from playbook.retrieve import Index
from playbook.runner import QuietReporter
from playbook.sim import world
from playbook.types import Domain, Entry, Turn, conversation_text
from playbook.workspace import example_domain, learn

Key = Callable[[Sequence[Turn]], str]


def _customer(turns: Sequence[Turn]) -> list[str]:
    return [t.text for t in turns if t.speaker == "customer"]


KEYS: dict[str, Key] = {
    "conversation": conversation_text,  # what the retriever embeds
    "customer_messages": lambda turns: "\n".join(_customer(turns)),
    "last_customer_message": lambda turns: _customer(turns)[-1],
}
EMBEDDERS = ("static", "hash", "minilm")


def situation(domain: Domain, entry: Entry) -> tuple[frozenset[str], str]:
    """What the world's hidden model says the entry's conversation needs, and its case."""
    read = world.read_situation(domain, list(entry.scenario.turns))
    return world.needs(read), read.case.name


async def nearest_other(entries: Sequence[Entry], embedder: Embedder, key: Key) -> list[int]:
    """For each entry, the position of the other entry the retriever would pick."""
    matrix = await embedder.embed([key(e.scenario.turns) for e in entries])
    index = Index(entries, np.asarray(matrix), embedder.sparse)
    position = {id(e): i for i, e in enumerate(entries)}
    picks = []
    for i, vector in enumerate(matrix):
        others = [position[id(h.entry)] for h in index.search(vector, 2, -1.0)]
        picks.append(next((j for j in others if j != i), i))
    return picks


def shares(labels: Sequence[tuple[frozenset[str], str]], picks: Sequence[int]) -> dict[str, float]:
    pairs = [(labels[i], labels[j]) for i, j in enumerate(picks)]
    return {
        "same_needs": _share(a[0] == b[0] for a, b in pairs),
        "same_case": _share(a[1] == b[1] for a, b in pairs),
        "same_needs_and_case": _share(a == b for a, b in pairs),
    }


def chance(labels: Sequence[tuple[frozenset[str], str]]) -> dict[str, float]:
    """The same shares for a pick drawn at random among the other entries (exact expectation)."""
    n = len(labels)

    def expected(same: Callable[[int, int], bool]) -> float:
        hits = sum(same(i, j) for i in range(n) for j in range(n) if i != j)
        return round(hits / (n * (n - 1)), 3)

    return {
        "same_needs": expected(lambda i, j: labels[i][0] == labels[j][0]),
        "same_case": expected(lambda i, j: labels[i][1] == labels[j][1]),
        "same_needs_and_case": expected(lambda i, j: labels[i] == labels[j]),
    }


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
        "chance": chance(labels),
        "twin_available": _share(labels.count(label) > 1 for label in labels),
    }
    for spec, embedder in available_embedders(embedders).items():
        for name, key in KEYS.items():
            progress(f"situations: {spec} embedder, key {name}")
            picks = await nearest_other(entries, embedder, key)
            result[f"{spec}.{name}"] = shares(labels, picks)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--personas", type=int, default=None, help="only the first few")
    parser.add_argument("--rounds", type=int, default=None, help="instead of the example's")
    args = parser.parse_args()
    emit(asyncio.run(run(args.personas, args.rounds)))


if __name__ == "__main__":
    main()
