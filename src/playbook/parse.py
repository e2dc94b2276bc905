"""Forgiving parsers for real model output: code fences, numbering, extra prose, any case."""

from __future__ import annotations

import re
from dataclasses import dataclass

from playbook.types import RATING_WORDS, Verdict

MAX_GUIDELINES = 10


class ParseError(ValueError):
    """The output cannot be used; the message is shown to the model when it is asked again."""


@dataclass(frozen=True)
class CustomerMessage:
    text: str
    leaving: bool


_FENCE = re.compile(r"^```[\w-]*\s*$", re.MULTILINE)
_LEAVE = re.compile(r"\[\s*leave\s*\]|<\s*leave\s*/?\s*>", re.IGNORECASE)
_SPEAKER = re.compile(r"^\s*\**(agent|assistant|customer|reply|answer)\**\s*:\s*", re.IGNORECASE)
_ITEM = re.compile(r"^\s*(?:\d{1,2}\s*[.):]|[-*•–]|\(\d{1,2}\))\s+(.*\S)\s*$")
# Longest words first, so that "very good" is not read as "good".
_WORDS = sorted(RATING_WORDS, key=len, reverse=True)
_WORD_PATTERN = "|".join(re.escape(w).replace(r"\ ", r"[\s_-]+") for w in _WORDS)


def strip_fences(text: str) -> str:
    return _FENCE.sub("", text).strip()


def parse_reply(text: str) -> str:
    """An agent or customer message: drop fences, a speaker label and wrapping quotes."""
    reply = _SPEAKER.sub("", strip_fences(text), count=1).strip()
    if len(reply) >= 2 and reply[0] == reply[-1] and reply[0] in "\"'":
        reply = reply[1:-1].strip()
    if not reply:
        raise ParseError("the reply is empty; write the next message as plain text")
    return reply


def parse_customer(text: str) -> CustomerMessage:
    leaving = bool(_LEAVE.search(text))
    cleaned = _LEAVE.sub("", strip_fences(text)).strip()
    if not cleaned:
        if leaving:
            return CustomerMessage("(leaves the chat)", leaving=True)
        raise ParseError("the message is empty; write the customer's next message")
    return CustomerMessage(parse_reply(cleaned), leaving)


def rating_from(value: str) -> int | None:
    """A rating word (any case, spaces or underscores) or a digit 1-5 -> 1..5."""
    value = value.strip().strip("*_.:\"' ").lower()
    if value[:1].isdigit():
        digit = int(value[0])
        return digit if 1 <= digit <= 5 else None
    match = re.fullmatch(_WORD_PATTERN, value)
    if not match:
        return None
    return RATING_WORDS.index(re.sub(r"[\s_-]+", " ", match.group(0))) + 1


def parse_verdict(text: str, label: str = "rating") -> Verdict:
    """`Explanation: ...` then `Rating: <word>`; forgiving about case, markup and order."""
    text = strip_fences(text)
    rating = _labelled_rating(text, label)
    if rating is None:
        raise ParseError(
            f"no {label} found; end with a line '{label.capitalize()}: <one of "
            f"{', '.join(RATING_WORDS)}>'"
        )
    return Verdict(rating=rating, explanation=_explanation(text, label))


def _labelled_rating(text: str, label: str) -> int | None:
    pattern = rf"^[\s*#_]*{label}[\s*_]*(?:\(\s*1\s*-\s*5\s*\))?[\s*_]*[:=-][\s*_]*([^\n]+)"
    for match in reversed(list(re.finditer(pattern, text, re.IGNORECASE | re.MULTILINE))):
        found = re.search(rf"{_WORD_PATTERN}|\b[1-5]\b", match.group(1), re.IGNORECASE)
        if found and (rating := rating_from(found.group(0))) is not None:
            return rating
    return None


def _explanation(text: str, label: str) -> str:
    pattern = rf"^[\s*#_]*{label} explanation[\s*_]*:\s*(.+)$|^[\s*#_]*explanation[\s*_]*:\s*(.+)$"
    if label != "rating":
        pattern = rf"^[\s*#_]*{label} explanation[\s*_]*:\s*(.+)$"
    match = re.search(pattern, text, re.IGNORECASE | re.MULTILINE)
    if match:
        return next(group for group in match.groups() if group).strip()
    lines = [ln for ln in text.splitlines() if not re.match(rf"^[\s*#_]*{label}\b", ln, re.I)]
    return " ".join(line.strip() for line in lines if line.strip())


def parse_guidelines(text: str, limit: int = MAX_GUIDELINES) -> tuple[str, ...]:
    """A numbered or bulleted list; prose around it is ignored, duplicates dropped."""
    lines = [ln for ln in strip_fences(text).splitlines() if ln.strip()]
    items = [m.group(1) for ln in lines if (m := _ITEM.match(ln))]
    if not items:
        items = [ln.strip() for ln in lines if not ln.rstrip().endswith(":")]
    items = [_clean_item(item) for item in items if not item.lstrip().startswith("#")]
    unique: list[str] = []
    seen: set[str] = set()
    for item in items:
        key = normalise_guideline(item)
        if key and key not in seen:
            seen.add(key)
            unique.append(item)
    if not unique:
        raise ParseError("no guidelines found; answer with a numbered list of short guidelines")
    return tuple(unique[:limit])


def _clean_item(item: str) -> str:
    return re.sub(r"^\*\*(.+?)\*\*", r"\1", item.strip()).strip()


def normalise_guideline(text: str) -> str:
    """The comparison key of a guideline: case, spacing, numbering and end punctuation ignored."""
    match = _ITEM.match(text)
    text = match.group(1) if match else text
    return re.sub(r"\s+", " ", text).strip().rstrip(".!;,").casefold()
