"""Find the playbook entries for a conversation in its index (`playbook.index`): the nearest
conversations, or among the entries of the conversation's goal those whose guidance it is
predicted to need; and compose their guidelines into one guidance list."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Generic

import numpy as np

from playbook.config import RetrievalConfig
from playbook.embed.base import Embedder, default_floor, unit_rows
from playbook.goal_gate import GoalGate, customer_words
from playbook.index import G, Hit, Index
from playbook.parse import normalise_guideline
from playbook.types import Goal, Turn, conversation_text

# The guidance map's ridge penalty on unit-length rows; its results were flat from 0.003 to 0.1.
RIDGE = 0.01
# Matching by guidance ranks the entries of the conversation's goal among this many nearest
# conversations (the goal gate's goal, or the nearest one's): all of a goal's entries in
# playbooks like the demo's (about 220), and a fixed cost per query however large the playbook
# (the index finds them, approximately at scale). Matching by conversation with a goal gate looks
# this far for the goal's nearest entries when the k nearest are not all of it.
CANDIDATES = 256
# A nearest conversation of no stated goal (an imported transcript's) has no goal to keep to:
# this many nearest conversations are ranked instead.
NO_GOAL_CANDIDATES = 10


def compose_guidance(lists: Iterable[Sequence[str]], limit: int | None = None) -> tuple[str, ...]:
    """The guidelines of several lists in order, without repeats, at most `limit` of them.

    Two guidelines are the same when they differ only in case, spacing, list markers or
    final punctuation ("1. Acknowledge the delay." and "- acknowledge the delay").
    """
    seen: set[str] = set()
    composed: list[str] = []
    for guidelines in lists:
        for guideline in guidelines:
            key = normalise_guideline(guideline)
            if not key or key in seen:
                continue
            seen.add(key)
            composed.append(guideline.strip())
            if limit is not None and len(composed) >= limit:
                return tuple(composed)
    return tuple(composed)


@dataclass(frozen=True)
class Retrieval(Generic[G]):
    hits: list[Hit[G]]
    guidance: tuple[str, ...]


class GuidanceMap(Generic[G]):
    """Retrieval by the guidance a conversation needs, learned from the playbook itself.

    What decides the right guidance (this customer's mood and manner, the case, what was
    already said) is a small part of a conversation's words, so the nearest conversation is
    often about the same thing in another situation. The playbook holds the evidence of what
    matters: each entry pairs a conversation with the guidance verified for it. A ridge
    regression from the entries' conversation vectors to the vectors of their guidance learns
    which directions of the embedding decide the guidance; candidate entries are then ranked
    by how near their guidance is to the conversation's predicted guidance. Fitting costs a
    d x d solve and one embedding per entry.
    """

    def __init__(self, weights: np.ndarray, entries: list[G], targets: np.ndarray) -> None:
        self.weights = weights
        self.targets = targets  # the unit vectors of the entries' guidance
        self.rows = {id(entry): row for row, entry in enumerate(entries)}

    @classmethod
    async def fit(cls, index: Index[G], embedder: Embedder) -> GuidanceMap[G]:
        entries = index.entries
        # The same lines in another order are the same guidance, and must score exactly alike on
        # every machine: embedded in one order, ties stay ties however a CPU sums floats.
        texts = ["\n".join(sorted(entry.guidance)) for entry in entries]
        targets = unit_rows(np.asarray(await embedder.embed(texts), dtype=np.float64))
        x = np.asarray(index.unit_vectors(), dtype=np.float64)
        gram = x.T @ x + RIDGE * np.eye(x.shape[1])
        weights = np.linalg.solve(gram, x.T @ targets).astype(np.float32)
        return cls(weights, entries, targets.astype(np.float32))

    def rank(self, unit_query: np.ndarray, chosen: list[Hit[G]], k: int) -> list[Hit[G]]:
        """The k of the candidates (`candidates`) whose guidance is nearest the query's
        predicted guidance, the nearer conversation first between equals."""
        hits = [hit for hit in chosen if id(hit.entry) in self.rows]
        if not hits:  # only entries added since the fit (a reload refits it at once)
            return chosen[:k]
        rows = np.asarray([self.rows[id(hit.entry)] for hit in hits], dtype=np.intp)
        predicted = unit_rows((unit_query @ self.weights)[np.newaxis, :])[0]
        scores = np.einsum("nd,d->n", self.targets[rows], predicted)
        similar = np.asarray([hit.score for hit in hits])
        best = np.lexsort((-similar, -scores))[:k]
        return [Hit(hits[i].entry, float(scores[i])) for i in best]


def candidates(nearest: list[Hit[G]]) -> list[Hit[G]]:
    """The entries a conversation's guidance is chosen from, of its nearest ones above the floor,
    when no goal gate has read its goal: those of the nearest entry's goal (the goal of the
    persona it was learned from).

    Two steps, because words tell goals apart easily and situations hardly. The whole
    conversation finds what the customer asks for: the nearest entry's goal (a refund, a delayed
    bag). Within one goal every conversation shares most of its words, and the wording of the
    request (which of many ways of asking for a refund) outweighs the few words that set the
    situation apart (a doctor's note, "I'd rather rebook", a second refusal), so the entry for
    this situation can be far from the nearest ten. Another goal's entries stay out: their
    guidance names remedies this customer is not owed. A nearest entry of no stated goal (an
    imported transcript's) leaves the NO_GOAL_CANDIDATES nearest conversations.
    """
    goal = nearest[0].entry.goal
    if not goal:
        return nearest[:NO_GOAL_CANDIDATES]
    return [hit for hit in nearest if hit.entry.goal == goal]


class Retriever(Generic[G]):
    """Guidance for a conversation: embed it, take the nearest entries, compose their guidance.

    The settings are the config's `[retrieval]` (config.RetrievalConfig, where the defaults
    live): k=1 follows the paper (the single nearest entry); the floor keeps an unrelated entry's
    guidance out of a conversation the playbook does not cover. Cosines of different embedders
    are not comparable, so an unset floor is resolved here, once, to the embedder's calibrated
    one. With match="guidance", a conversation the playbook covers (its nearest entry passes the
    floor) gets the entries whose guidance it is predicted to need (see GuidanceMap), among the
    entries of the conversation's goal (see candidates). Given the domain's `goals` (two or
    more), the goal is read from the customer's words and only its entries (and those of no goal
    the domain names) are used, with either match: a conversation about a goal the playbook has
    no entries for gets no guidance (see GoalGate).
    """

    def __init__(
        self,
        index: Index[G],
        embedder: Embedder,
        settings: RetrievalConfig | None = None,
        goals: Sequence[Goal] = (),
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.settings = settings or RetrievalConfig()
        self.goals = tuple(goals) if len(goals) > 1 else ()  # one goal: nothing to tell apart
        self.k = self.settings.k
        self.floor = (
            default_floor(embedder.id) if self.settings.floor is None else self.settings.floor
        )
        self.match = self.settings.match
        self._map: GuidanceMap[G] | None = None
        self._gate: GoalGate | None = None
        self._fitting = asyncio.Lock()

    async def prepare(self) -> None:
        """Fit what retrieval needs now rather than at the first conversation."""
        if not len(self.index):
            return
        await self._goal_gate()
        if self.match == "guidance":
            await self._guidance_map()

    async def _goal_gate(self) -> GoalGate | None:
        if not self.goals or self._gate is not None:
            return self._gate
        # One lock for both fits, never held across the other's: conversations arriving
        # together share one fit of each.
        async with self._fitting:
            if self._gate is None:
                self._gate = await GoalGate.fit(self.goals, self.embedder)
            return self._gate

    async def _guidance_map(self) -> GuidanceMap[G]:
        async with self._fitting:  # conversations arriving together share one fit
            if self._map is None:
                self._map = await GuidanceMap.fit(self.index, self.embedder)
            return self._map

    async def retrieve(self, turns: Sequence[Turn]) -> Retrieval[G]:
        text = conversation_text(list(turns))
        if not len(self.index) or not text.strip():
            return Retrieval(hits=[], guidance=())
        customer_text = customer_words(turns) if self.goals else ""
        # One call embeds both (an endpoint embedder is asked once, for more tokens).
        vectors = await self.embedder.embed([text, customer_text] if customer_text else [text])
        goal = await self.goal_of(vectors[1]) if customer_text else None
        hits = await self.hits_for(vectors[0], goal)
        return Retrieval(hits, compose_guidance(hit.entry.guidance for hit in hits))

    async def goal_of(self, customer_vector: np.ndarray) -> str | None:
        """The goal of the domain the customer's words (embedded) are about; None without goals
        to tell apart or words to read (see GoalGate)."""
        gate = await self._goal_gate()
        return gate.goal_of(customer_vector) if gate is not None else None

    async def hits_for(self, query: np.ndarray, goal: str | None = None) -> list[Hit[G]]:
        """The entries for an embedded conversation; none if even the nearest is under the floor.
        Given its `goal` (from `goal_of`), only that goal's entries: none if it has none."""
        if self.match == "conversation":
            hits = self.index.search(query, self.k, self.floor)
            if len(self._of_goal(hits, goal)) == len(hits):
                return hits  # the usual case: the k nearest are all of the goal
        nearest = self.index.search(query, max(self.k, CANDIDATES), self.floor)
        if not nearest:
            return []
        chosen = candidates(nearest) if goal is None else self._of_goal(nearest, goal)
        if self.match == "conversation" or not chosen:
            return chosen[: self.k]
        guidance_map = await self._guidance_map()
        return guidance_map.rank(self.index.unit_query(query), chosen, self.k)

    def _of_goal(self, hits: list[Hit[G]], goal: str | None) -> list[Hit[G]]:
        """The hits the conversation's goal keeps: all of them when no goal was read."""
        if goal is None or self._gate is None:
            return hits
        return [hit for hit in hits if self._gate.keeps(hit.entry.goal, goal)]

    def with_index(self, index: Index[G], settings: RetrievalConfig | None = None) -> Retriever[G]:
        """The same retriever over a rebuilt index (e.g. after entries were added or approved),
        with other settings if given."""
        retriever = Retriever(index, self.embedder, settings or self.settings, self.goals)
        retriever._gate = self._gate  # the domain's goals are the same: no refit
        return retriever
