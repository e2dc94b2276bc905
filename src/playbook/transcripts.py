"""Real chat transcripts (JSONL) as scenarios: every prefix that ends with a customer message.

One conversation per line:

    {"id": "c-17", "messages": [{"role": "customer", "text": "Hi, ..."},
                                {"role": "agent", "text": "Hello! ..."}]}

`role` may also be spelled user / assistant and as other support tools export it (see ROLES);
`speaker`, `sender` or `author` may stand for `role`, and `content`, `body` or `message` for
`text` (`content` may be a list of text parts, as in OpenAI's format). System messages, internal
notes and tool calls are skipped. Personal details are masked (playbook.mask) as each line is
read, before anything is stored or sent to a model; the whole file is checked before any of it
is used, and a bad line is named by its number.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator

from playbook.files import ImportFileError, read_text
from playbook.mask import mask_pii
from playbook.traits import infer_traits
from playbook.types import Persona, Scenario, Speaker, Turn

CUSTOMER_ROLES = (
    "customer", "user", "client", "visitor", "end-user", "end_user", "enduser", "contact",
    "requester", "caller", "guest", "shopper", "human",
)  # fmt: skip
AGENT_ROLES = (
    "agent", "assistant", "bot", "ai", "operator", "support", "staff", "representative", "rep",
    "advisor", "associate", "admin", "human_agent",
)  # fmt: skip
SKIPPED_ROLES = ("system", "note", "internal", "internal_note", "tool", "function", "event")
"""Messages the customer never saw: skipped, and counted in the import's summary."""
ROLES: dict[str, Speaker | None] = {
    **dict.fromkeys(CUSTOMER_ROLES, "customer"),
    **dict.fromkeys(AGENT_ROLES, "agent"),
    **dict.fromkeys(SKIPPED_ROLES),
}


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: str = Field(validation_alias=AliasChoices("role", "speaker", "sender", "author"))
    text: str = Field(validation_alias=AliasChoices("text", "content", "body", "message"))

    @field_validator("text", mode="before")
    @classmethod
    def _parts(cls, value: Any) -> Any:
        """OpenAI-style content: a list of parts, of which the text parts count."""
        if isinstance(value, list):
            return "\n".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in value)
        return value


class _Conversation(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str | int | None = Field(None, validation_alias=AliasChoices("id", "conversation_id"))
    messages: list[_Message] = Field(validation_alias=AliasChoices("messages", "turns"))


@dataclass(frozen=True)
class TranscriptImport:
    scenarios: list[Scenario]
    conversations: int
    skipped_messages: int  # system messages, notes, tool calls
    masked: dict[str, int]  # placeholder -> how many details it replaced


def read_transcripts(path: Path) -> TranscriptImport:
    """Every conversation of the file, masked, as scenarios; all lines are checked first."""
    masked: Counter[str] = Counter()
    conversations: list[tuple[str, tuple[Turn, ...], int]] = []
    skipped = 0
    for number, line in enumerate(read_text(path, "transcripts").splitlines(), 1):
        if not line.strip():
            continue
        where = f"transcripts {path}: line {number}"
        record = _record(line, where)
        turns, dropped = _turns(record, where, masked)
        skipped += dropped
        name = _masked_id(str(record.id), masked) if record.id is not None else f"line-{number}"
        conversations.append((name, turns, number))
    if not conversations:
        raise ImportFileError(f"transcripts {path}: no conversations (one JSON object per line)")
    _check_unique([name for name, _, _ in conversations], path)
    scenarios = [s for c in conversations for s in _scenarios(*c, path)]
    return TranscriptImport(scenarios, len(conversations), skipped, dict(masked))


def _masked_id(conversation_id: str, masked: Counter[str]) -> str:
    """The id with personal details masked, plus a short digest of the original when masking
    changed it: ids made of emails stay distinct and stable across imports, yet hold no email."""
    name = mask_pii(conversation_id, masked)
    if name == conversation_id:
        return name
    digest = hashlib.sha256(conversation_id.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{name}~{digest}"


def _record(line: str, where: str) -> _Conversation:
    try:
        return _Conversation.model_validate_json(line)
    except ValidationError as exc:
        problems = "; ".join(_problem(error) for error in exc.errors())
        raise ImportFileError(f"{where}: {problems}") from None


def _problem(error: Any) -> str:
    if error["type"] == "json_invalid":
        return f"not valid JSON ({error['ctx'].get('error', error['msg'])})"
    location = [str(part) for part in error["loc"]]
    field = ".".join(location) or "(the line)"
    if len(location) >= 2 and location[0] in ("messages", "turns") and location[1].isdigit():
        # People count messages from 1.
        field = f"message {int(location[1]) + 1}: " + (".".join(location[2:]) or "(the message)")
    return f"{field}: {error['msg']}"


def _turns(record: _Conversation, where: str, masked: Counter[str]) -> tuple[tuple[Turn, ...], int]:
    """The conversation as turns (a speaker's consecutive messages joined), masked."""
    turns: list[Turn] = []
    skipped = 0
    for index, message in enumerate(record.messages, 1):
        role = message.role.strip().lower()
        if role not in ROLES:
            raise ImportFileError(
                f"{where}: message {index}: role {message.role!r} is neither a customer role "
                f"(customer, user, ...) nor an agent role (agent, assistant, ...)"
            )
        speaker, text = ROLES[role], message.text.strip()
        if speaker is None or not text:
            skipped += 1
            continue
        text = mask_pii(text, masked)
        if turns and turns[-1].speaker == speaker:  # several chat bubbles in a row
            turns[-1] = Turn(speaker, f"{turns[-1].text}\n{text}")
        else:
            turns.append(Turn(speaker, text))
    if not any(turn.speaker == "customer" for turn in turns):
        raise ImportFileError(f"{where}: no customer message, so no scenario to learn from")
    return tuple(turns), skipped


def _check_unique(names: list[str], path: Path) -> None:
    repeated = [name for name, count in Counter(names).items() if count > 1]
    if repeated:
        raise ImportFileError(
            f"transcripts {path}: conversation id {repeated[0]!r} appears more than once"
        )


def _scenarios(name: str, turns: tuple[Turn, ...], line: int, path: Path) -> list[Scenario]:
    persona = _persona(name, turns, line, path)
    return [
        Scenario(persona, turns[: i + 1]) for i, t in enumerate(turns) if t.speaker == "customer"
    ]


def _persona(name: str, turns: tuple[Turn, ...], line: int, path: Path) -> Persona:
    """A real customer: nobody stated a goal; the traits are read from what they wrote."""
    said = "\n".join(t.text for t in turns if t.speaker == "customer")
    traits = infer_traits(said)
    return Persona(
        id=f"transcript/{name}",
        goal="",
        personality=traits.personality,
        emotion=traits.emotion,
        demanding=traits.demanding,
        source="transcript",
        origin=f"conversation {name} ({path.name}, line {line}); inferred {traits.evidence}",
    )
