"""Roll out one conversation between an agent and the simulated customer."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable

from playbook.roles import Roles
from playbook.types import Conversation, Persona, Turn

Agent = Callable[[tuple[Turn, ...], int], Awaitable[str]]
"""Writes the next agent message for the conversation so far; the int is a seed."""


def stable_seed(*parts: object) -> int:
    """A seed that is the same in every process (unlike hash())."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big")


async def rollout(
    roles: Roles, persona: Persona, agent: Agent, max_turns: int, seed: int
) -> Conversation:
    """Customer speaks first; ends when the customer leaves or after `max_turns` of theirs."""
    turns: list[Turn] = []
    for index in range(max_turns):
        message = await roles.customer_message(persona, tuple(turns), stable_seed(seed, index))
        turns.append(Turn("customer", message.text))
        if message.leaving:
            return Conversation(persona, tuple(turns), left=True)
        reply = await agent(tuple(turns), stable_seed(seed, index, "agent"))
        turns.append(Turn("agent", reply))
    return Conversation(persona, tuple(turns), left=False)
