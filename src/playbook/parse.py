"""Forgiving parsers for real model output: code fences, numbering, extra prose, any case."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

import yaml

from playbook.types import EMOTIONS, PERSONALITIES, RATING_WORDS, Verdict

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
    # Only list items count: prose around a list is ignored, and prose alone (a refusal, a
    # question) is not guidance.
    items = [m.group(1) for ln in lines if (m := _ITEM.match(ln))]
    items = [_clean_item(item) for item in items if not item.lstrip().startswith("#")]
    unique: list[str] = []
    seen: set[str] = set()
    for item in items:
        key = normalise_guideline(item)
        if key and key not in seen:
            seen.add(key)
            unique.append(item)
    if not unique:
        raise ParseError("no numbered list found; answer with a numbered list of short guidelines")
    return tuple(unique[:limit])


def _clean_item(item: str) -> str:
    return re.sub(r"^\*\*(.+?)\*\*", r"\1", item.strip()).strip()


def normalise_guideline(text: str) -> str:
    """The comparison key of a guideline: case, spacing, numbering and end punctuation ignored."""
    match = _ITEM.match(text)
    text = match.group(1) if match else text
    return re.sub(r"\s+", " ", text).strip().rstrip(".!;,").casefold()


@dataclass(frozen=True)
class ProposedPersona:
    """A customer the teacher proposes, and why."""

    goal: str
    personality: str
    emotion: str
    demanding: bool
    situation: str
    facts: str
    hidden_intentions: str
    reason: str


_YES = {"true", "yes", "y", "1"}
_NO = {"false", "no", "n", "0"}


def parse_personas(text: str, goals: Sequence[str]) -> list[ProposedPersona]:
    """A JSON list of persona objects (or YAML, or objects one after another) among prose.

    Unusable items are dropped; only when none is usable is that an error.
    """
    items = _persona_items(strip_fences(text))
    proposals: list[ProposedPersona] = []
    problems: list[str] = []
    for number, item in enumerate(items, 1):
        try:
            proposals.append(_proposed(item, goals))
        except ValueError as exc:
            problems.append(f"persona {number}: {exc}")
    if not proposals:
        problem = problems[0] if problems else "no list of persona objects found"
        raise ParseError(
            f"{problem}; answer with a JSON list of objects with the keys goal, personality, "
            "emotion, demanding, situation, facts, hidden_intentions, reason"
        )
    return proposals


def _persona_items(text: str) -> list[object]:
    start, end = text.find("["), text.rfind("]")
    if 0 <= start < end:
        try:
            found = json.loads(text[start : end + 1])
            if isinstance(found, list):
                return found
        except json.JSONDecodeError:
            pass
    objects = _json_objects(text)
    if objects:
        return objects
    try:
        found = yaml.safe_load(text)
    except yaml.YAMLError:
        return []
    return found if isinstance(found, list) else []


def _json_objects(text: str) -> list[object]:
    """Objects written one after another, with anything between them."""
    decoder, objects, index = json.JSONDecoder(), [], text.find("{")
    while index >= 0:
        try:
            found, end = decoder.raw_decode(text, index)
        except json.JSONDecodeError:
            index = text.find("{", index + 1)
            continue
        objects.append(found)
        index = text.find("{", end)
    return objects


def _proposed(item: object, goals: Sequence[str]) -> ProposedPersona:
    if not isinstance(item, dict):
        raise ValueError("is not an object")
    fields = {str(k).strip().lower().replace(" ", "_"): v for k, v in item.items()}
    goal = _choice(fields, "goal", goals)
    return ProposedPersona(
        goal=goal,
        personality=_choice(fields, "personality", PERSONALITIES),
        emotion=_choice(fields, "emotion", EMOTIONS),
        demanding=_yes_no(fields.get("demanding")),
        situation=_string(fields.get("situation")),
        facts=_string(fields.get("facts")),
        hidden_intentions=_string(fields.get("hidden_intentions")),
        reason=_string(fields.get("reason")),
    )


def _choice(fields: dict[str, object], name: str, allowed: Sequence[str]) -> str:
    value = _string(fields.get(name)).lower()
    for option in allowed:
        if value == option.lower():
            return option
    raise ValueError(f"{name} {value!r} is not one of {', '.join(allowed)}")


def _yes_no(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = _string(value).lower()
    if text in _YES | _NO:
        return text in _YES
    raise ValueError(f"demanding {value!r} is not true or false")


def _string(value: object) -> str:
    return "" if value is None else str(value).strip()


@dataclass(frozen=True)
class PolicyVerdict:
    complies: bool
    reason: str


def parse_policy_verdict(text: str) -> PolicyVerdict:
    """`Reason: ...` then `Verdict: complies|violates` (also compliant/ok/violation, any case)."""
    text = strip_fences(text)
    verdicts = re.findall(r"^[\s*#_]*verdict[\s*_]*:[\s*_]*(\w+)", text, re.I | re.M)
    word = verdicts[-1].lower() if verdicts else ""
    if word.startswith(("compl", "ok", "pass", "fine")):
        complies = True
    elif word.startswith(("violat", "break", "fail", "reject")):
        complies = False
    else:
        raise ParseError(
            "no verdict found; end with a line 'Verdict: complies' or 'Verdict: violates'"
        )
    reason = re.search(r"^[\s*#_]*reason[\s*_]*:\s*(.+)$", text, re.I | re.M)
    return PolicyVerdict(complies, reason.group(1).strip() if reason else "")
