"""OpenAI chat messages as the proxy sees them: checked, read as a conversation for retrieval,
and given the playbook's guidance the way the learning loop gives it to the student."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from playbook.server.errors import bad_request
from playbook.types import Guidance, Turn

if TYPE_CHECKING:
    import jinja2

Inject = Literal["system", "last_message"]
WireMessage = dict[str, Any]
_SYSTEM_ROLES = ("system", "developer")  # "developer" is OpenAI's newer name for "system"
_SPEAKERS = {"user": "customer", "assistant": "agent"}
_MAX_BLOCKS = 4096  # rendered system blocks kept; the cache starts over when it is full


def checked_body(body: object, *, model_required: bool) -> dict[str, Any]:
    """The request body if it is a usable chat request, or a 400 naming what is wrong with it.

    Only what the proxy relies on is checked; every other field is the upstream's to judge.
    """
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object")
    if model_required and not isinstance(body.get("model"), str):
        raise bad_request("model: a model name (string) is required", "model")
    if not isinstance(body.get("stream", False), bool):
        raise bad_request("stream: must be true or false", "stream")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise bad_request("messages: a non-empty list of messages is required", "messages")
    for i, message in enumerate(messages):
        _check_message(message, f"messages.{i}")
    return body


def _check_message(message: object, where: str) -> None:
    if not isinstance(message, dict) or not isinstance(message.get("role"), str):
        raise bad_request(f"{where}: each message needs a 'role' (string)", where)
    content = message.get("content")
    if content is not None and not isinstance(content, str | list):
        raise bad_request(f"{where}.content: must be a string or a list of parts", where)


def conversation(messages: Sequence[WireMessage]) -> list[Turn]:
    """The customer (user) and agent (assistant) turns; system and tool messages are not part
    of the situation the playbook is keyed on."""
    turns = []
    for message in messages:
        speaker = _SPEAKERS.get(message["role"])
        text = text_of(message.get("content"))
        if speaker is not None and text.strip():
            turns.append(Turn(speaker, text))  # type: ignore[arg-type]
    return turns


def text_of(content: object) -> str:
    """A message's text: the string itself, or its text parts joined (images are skipped)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        return "\n".join(part for part in parts if isinstance(part, str))
    return ""


class GuidanceWriter:
    """Renders guidance with the prompt files and puts it where the config says.

    System prompt by default (proxy_guidance.j2, worded as agent_system.j2's block), or
    appended to the last user message (guidance_in_message.j2, exactly as in learning).
    """

    def __init__(self, prompts: jinja2.Environment, inject: Inject) -> None:
        self._system = prompts.get_template("proxy_guidance.j2")
        self._in_message = prompts.get_template("guidance_in_message.j2")
        self.inject = inject
        # The same entries are served again and again: each block is rendered once.
        self._blocks: dict[Guidance, str] = {}

    def system_block(self, guidance: Guidance) -> str:
        if not guidance:
            return ""
        block = self._blocks.get(guidance)
        if block is None:
            if len(self._blocks) >= _MAX_BLOCKS:
                self._blocks.clear()
            block = self._blocks[guidance] = self._system.render(guidance=guidance).strip()
        return block

    def with_guidance(self, messages: list[WireMessage], guidance: Guidance) -> list[WireMessage]:
        """A copy of `messages` carrying `guidance`; the client's own messages are not changed."""
        if not guidance:
            return messages
        last_user = _last_index(messages, ("user",))
        if self.inject == "last_message" and last_user is not None:
            return self._in_last_message(messages, last_user, guidance)
        return self._in_system(messages, guidance)

    def _in_system(self, messages: list[WireMessage], guidance: Guidance) -> list[WireMessage]:
        block = self.system_block(guidance)
        first = next((i for i, m in enumerate(messages) if m["role"] in _SYSTEM_ROLES), None)
        if first is None:
            return [{"role": "system", "content": block}, *messages]
        return _replaced(messages, first, _appended(messages[first].get("content"), block))

    def _in_last_message(
        self, messages: list[WireMessage], index: int, guidance: Guidance
    ) -> list[WireMessage]:
        content = messages[index].get("content")
        if isinstance(content, str):
            text = self._in_message.render(message=content, guidance=guidance).strip()
            return _replaced(messages, index, text)
        block = self._in_message.render(message="", guidance=guidance).strip()
        return _replaced(messages, index, _appended(content, block))


def _last_index(messages: Sequence[WireMessage], roles: tuple[str, ...]) -> int | None:
    return next((i for i in reversed(range(len(messages))) if messages[i]["role"] in roles), None)


def _appended(content: object, block: str) -> str | list[Any]:
    """Content with `block` after it: as a new text part when the content is a list of parts."""
    if isinstance(content, list):
        return [*content, {"type": "text", "text": block}]
    text = content if isinstance(content, str) else ""
    return f"{text}\n\n{block}" if text.strip() else block


def _replaced(messages: list[WireMessage], index: int, content: object) -> list[WireMessage]:
    changed = list(messages)
    changed[index] = {**messages[index], "content": content}
    return changed
