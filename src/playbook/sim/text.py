"""Reading the project's prompts back: tagged sections, the agent's conversation, guidelines."""

from __future__ import annotations

import re

from playbook.chat.base import Message
from playbook.types import Turn

UNKNOWN_TASK = "Sorry, I am not sure what you would like me to do."  # a prompt it cannot read


def tag(text: str, name: str) -> str | None:
    match = re.search(rf"<{name}>\n?(.*?)\n?</{name}>", text, re.S)
    return match.group(1).strip() if match else None


def guidance_in(messages: tuple[Message, ...]) -> list[str]:
    """The guideline list of an agent prompt, wherever it was injected."""
    block = next((b for m in messages if (b := tag(m.content, "guidelines"))), "")
    return [line[2:].strip() for line in block.splitlines() if line.startswith("- ")]


def agent_turns(messages: tuple[Message, ...]) -> list[Turn]:
    turns = []
    for m in messages:
        if m.role != "system":
            text = m.content.split("\n\n<guidelines>")[0].strip()
            turns.append(Turn("customer" if m.role == "user" else "agent", text))
    return turns


def parse_conversation(text: str) -> list[Turn]:
    """`Customer: ...` / `Agent: ...` lines back into turns (continuation lines included)."""
    turns: list[Turn] = []
    for line in text.splitlines():
        match = re.match(r"(Customer|Agent): ?(.*)", line)
        if match:
            turns.append(Turn(match.group(1).lower(), match.group(2)))  # type: ignore[arg-type]
        elif turns:
            turns[-1] = Turn(turns[-1].speaker, f"{turns[-1].text}\n{line}")
    return turns
