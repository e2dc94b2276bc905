"""Retrieval quality on customers' own wording: recall@1 / recall@3 and the share of messages left
without guidance, per embedder and retrieval key, on bench/data/paraphrases.jsonl.

The data: for every goal of the example domains (airline: refund of a restricted ticket, delayed
baggage; electronics: a laptop returned late) 22 openings and 10 mid-conversation messages written
by hand the way customers write (short, typos, none of the policy's words, other languages' word
order), labelled with their goal and, where it clearly applies, a situation (a documented
emergency, wanting a rebooking, escalating, a defective laptop); plus 20 questions the playbook
does not cover (seat selection, price matching, ...), which should get no guidance.

The playbook: learned on the simulated world for every goal of both domains (the simulated
customers' wording, never these messages), or `--playbook DB` (e.g. the demo's). Both domains'
entries are searched together, so a message can be matched to a wrong goal of either domain.
Each embedder embeds the same entries and messages, so only the embedder and the key differ:

- recall@1: the top entry's goal is the label (whatever its score); recall@3: among the top 3;
- at the embedder's calibrated floor (`embed.base.CALIBRATED_FLOORS`): `unguided`, the share
  of labelled messages with no entry at or above the floor; `guided_recall_at_1`, recall@1 where
  no guidance counts as a miss; `off_topic_guided`, uncovered questions that did get guidance;
- `calibrated_floor`: the highest floor (steps of 0.01) leaving at most 5% unguided in this run.

Keys: `whole` (the conversation so far, what retrieval embeds), `window` (its last 3 turns),
`last` (the last customer message alone).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from common import emit, progress

from playbook.config import EmbedderConfig, Match, RetrievalConfig, load_config
from playbook.domain import load_domain
from playbook.embed import Embedder, build_embedder, default_floor
from playbook.goal_gate import GoalGate, customer_words
from playbook.index import Index
from playbook.retrieve import Retriever
from playbook.runner import QuietReporter
from playbook.runs import learn
from playbook.store.core import Store
from playbook.types import Entry, Turn, conversation_text
from playbook.workspace import Workspace, example_domain

DATA = Path(__file__).resolve().parent / "data" / "paraphrases.jsonl"
DOMAINS = ("airline", "electronics")
EMBEDDERS = ("static", "hash", "minilm")
KEYS = ("whole", "window", "last")
MAX_UNGUIDED = 0.05
TOP = 3


@dataclass(frozen=True)
class Message:
    id: str
    goal: str  # empty: a question the playbook does not cover
    situation: str
    kind: str
    turns: tuple[Turn, ...]


def load_messages(path: Path = DATA) -> list[Message]:
    messages = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        turns = tuple(Turn(t["speaker"], t["text"]) for t in row["turns"])
        messages.append(Message(row["id"], row["goal"], row["situation"], row["kind"], turns))
    return messages


def key_text(turns: Sequence[Turn], key: str) -> str:
    if key == "whole":
        return conversation_text(turns)
    if key == "window":
        return conversation_text(turns[-3:])
    return [t.text for t in turns if t.speaker == "customer"][-1]


async def learned_entries(folder: Path) -> list[Entry]:
    """A playbook per example domain, learned on the simulated world for all of its goals."""
    entries: list[Entry] = []
    for domain in DOMAINS:
        config = load_config(example_domain(domain).with_name("playbook.toml"))
        config = config.model_copy(
            update={
                "playbook": folder / f"{domain}.db",
                "learn": config.learn.model_copy(update={"goals": ()}),
            }
        )
        workspace = Workspace.open(config)
        try:
            await learn(workspace, QuietReporter())
            entries += workspace.store.entries(statuses=("proposed", "approved"))
        finally:
            await workspace.aclose()
    return entries


def stored_entries(path: Path) -> list[Entry]:
    with Store.open(path) as store:
        return store.entries(statuses=("proposed", "approved"))


@dataclass(frozen=True)
class Ranked:
    message: Message
    goals: list[str]  # of the top entries, best first
    best: float  # the top score


async def rank(
    embedder: Embedder,
    entries: list[Entry],
    messages: list[Message],
    key: str,
    match: Match = "conversation",
) -> list[Ranked]:
    """The goals of the entries retrieval picks for each message, best first, and the nearest
    conversation's score (which decides, with the floor, whether there is guidance at all)."""
    matrix = await embedder.embed([key_text(e.scenario.turns, key) for e in entries])
    index = Index(entries, matrix, embedder.sparse)
    retriever = Retriever(index, embedder, RetrievalConfig(k=TOP, floor=-1.0, match=match))
    queries = await embedder.embed([key_text(m.turns, key) for m in messages])
    ranked = []
    for message, query in zip(messages, queries, strict=True):
        nearest = index.search(query, 1, -2.0)
        hits = await retriever.hits_for(query)
        goals = [hit.entry.scenario.persona.goal for hit in hits]
        ranked.append(Ranked(message, goals, nearest[0].score if nearest else -2.0))
    return ranked


def figures(ranked: list[Ranked], floor: float) -> dict[str, Any]:
    labelled = [r for r in ranked if r.message.goal]
    off_topic = [r for r in ranked if not r.message.goal]
    top1 = [bool(r.goals) and r.goals[0] == r.message.goal for r in labelled]
    guided_top1 = [t and r.best >= floor for t, r in zip(top1, labelled, strict=True)]
    return {
        "recall_at_1": _share(top1),
        "recall_at_3": _share([r.message.goal in r.goals for r in labelled]),
        "floor": floor,
        "unguided": _share([r.best < floor for r in labelled]),
        "guided_recall_at_1": _share(guided_top1),
        "off_topic_guided": _share([r.best >= floor for r in off_topic]),
        "calibrated_floor": calibrated_floor([r.best for r in labelled]),
        "recall_at_1_by_kind": _by(labelled, top1, lambda r: r.message.kind),
        "recall_at_1_by_situation": _by(labelled, top1, lambda r: r.message.situation or "-"),
    }


async def gate_accuracy(embedder: Embedder, messages: list[Message]) -> dict[str, Any]:
    """How often the goal gate reads a message's goal right from the customer's words (of the
    goals of its own domain, for each domain of two or more goals): a goal it misreads loses its
    guidance, or gets another goal's, when a playbook covers one of them only."""
    accuracy: dict[str, Any] = {}
    for name in DOMAINS:
        goals = load_domain(example_domain(name)).goals
        names = {goal.name for goal in goals}
        mine = [m for m in messages if m.goal in names]
        if len(goals) < 2 or not mine:
            continue
        gate = await GoalGate.fit(goals, embedder)
        said = await embedder.embed([customer_words(m.turns) for m in mine])
        right = [gate.goal_of(v) == m.goal for m, v in zip(mine, said, strict=True)]
        accuracy[name] = {"messages": len(mine), "right": _share(right)}
    return accuracy


def calibrated_floor(best_scores: list[float]) -> float:
    """The highest floor (0.01 steps) that leaves at most MAX_UNGUIDED of messages unguided."""
    scores = np.asarray(best_scores)
    for step in range(100, -101, -1):
        floor = step / 100
        if np.mean(scores < floor) <= MAX_UNGUIDED:
            return floor
    return -1.0


def _share(flags: Sequence[bool]) -> float:
    return round(float(np.mean(flags)), 3) if flags else 0.0


def _by(ranked: list[Ranked], hits: list[bool], group: Any) -> dict[str, float]:
    groups: dict[str, list[bool]] = {}
    for item, hit in zip(ranked, hits, strict=True):
        groups.setdefault(group(item), []).append(hit)
    return {name: _share(flags) for name, flags in sorted(groups.items())}


def available(spec: str) -> Embedder | None:
    try:
        return build_embedder(EmbedderConfig(spec=spec), {})
    except Exception as exc:  # an optional extra that is not installed is reported, not fatal
        progress(f"paraphrase: embedder {spec} unavailable: {exc}")
        return None


async def run(playbook: Path | None, specs: Sequence[str]) -> dict[str, Any]:
    messages = load_messages()
    with tempfile.TemporaryDirectory() as folder:
        entries = stored_entries(playbook) if playbook else await learned_entries(Path(folder))
    progress(f"paraphrase: {len(entries)} entries, {len(messages)} messages")
    results: dict[str, Any] = {
        "entries": len(entries),
        "messages": sum(1 for m in messages if m.goal),
        "off_topic_messages": sum(1 for m in messages if not m.goal),
        "goals": sorted({m.goal for m in messages if m.goal}),
    }
    for spec in specs:
        embedder = available(spec)
        if embedder is None:
            results[spec] = {"skipped": "not installed"}
            continue
        floor = default_floor(embedder.id)
        results[spec] = {"id": embedder.id}
        for key in KEYS:
            results[spec][key] = figures(await rank(embedder, entries, messages, key), floor)
        ranked = await rank(embedder, entries, messages, "whole", "guidance")
        results[spec]["whole_guidance_match"] = figures(ranked, floor)
        results[spec]["goal_gate"] = await gate_accuracy(embedder, messages)
        progress(f"paraphrase: {spec}: {results[spec]['whole']}")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--playbook", type=Path, help="an existing playbook instead of learning")
    parser.add_argument("--embedders", nargs="+", default=list(EMBEDDERS))
    args = parser.parse_args()
    emit(asyncio.run(run(args.playbook, args.embedders)))


if __name__ == "__main__":
    main()
