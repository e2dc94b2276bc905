"""Which of the domain's goals a conversation is about, read from the customer's words, so that
a playbook coaches only the goals it has entries for (README, Retrieval quality: the goal gate)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from playbook.embed.base import Embedder, unit_rows
from playbook.types import Goal, Turn


class GoalGate:
    """The domain's goals as one unit vector each: the mean of the vectors of the goal's
    description and openings. A conversation is about the nearest goal; there is no threshold.

    A playbook learned for one goal (refunds) has nothing to say about another (a delayed bag),
    but its nearest entry for such a conversation is still one of its own, similar in every word
    the two share, and its guidance names remedies this customer is not owed."""

    def __init__(self, names: Sequence[str], centroids: np.ndarray) -> None:
        if len(names) != len(centroids):
            raise ValueError(f"{len(names)} goals but {len(centroids)} vectors")
        self.names = tuple(names)
        self.centroids = centroids

    @classmethod
    async def fit(cls, goals: Sequence[Goal], embedder: Embedder) -> GoalGate:
        texts = [[goal.description, *goal.all_openings()] for goal in goals]
        flat = [text for group in texts for text in group]
        vectors = unit_rows(np.asarray(await embedder.embed(flat), dtype=np.float32))
        groups = np.split(vectors, np.cumsum([len(group) for group in texts])[:-1])
        means = [group.mean(axis=0) for group in groups]
        return cls([goal.name for goal in goals], unit_rows(np.stack(means)))

    def goal_of(self, vector: np.ndarray) -> str | None:
        """The goal nearest an embedded text (as the embedder gives it, not IDF-weighted); None
        for a text with nothing to read (a zero vector: "?" to a word-counting embedder)."""
        vector = np.asarray(vector, dtype=np.float32)
        if not vector.any():
            return None
        return self.names[int(np.argmax(self.centroids @ vector))]

    def keeps(self, entry_goal: str, goal: str) -> bool:
        """Whether an entry may coach a conversation about `goal`: one learned for it, or one of
        no goal the domain names (an imported transcript's), which the gate cannot rule out."""
        return entry_goal == goal or entry_goal not in self.names


def customer_words(turns: Sequence[Turn]) -> str:
    """What the gate reads a conversation's goal from: the customer's messages alone (an agent's
    replies may talk of anything, a weak agent's of the wrong goal)."""
    return " ".join(turn.text for turn in turns if turn.speaker == "customer").strip()
