"""A deterministic screen for guidelines, applied before an entry is kept (beside the judge's
policy check, and whether or not that check is on): a guideline that asks for secrets or payment
data, sends customers to a link the policy does not name, or tells the agent to ignore the policy
is rejected with the reason. Such lines come from prompt injection (a transcript or persona that
instructs the teacher) as much as from a careless teacher, and no model is trusted to catch them.

It errs on the side of rejecting: a rejected entry is kept, with the reason, for a reviewer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# What an agent must never ask a customer for in a chat.
_SECRETS: tuple[tuple[str, str], ...] = (
    ("a password", r"pass(?:word|code|phrase)s?|log-?in (?:details|credentials)|credentials"),
    ("a PIN", r"(?-i:\bPINs?\b)|pin (?:code|number)s?"),
    (
        "a one-time code",
        r"one[- ]time (?:pass)?(?:code|password|pin)s?|\bOTPs?\b|(?:verification|"
        r"authentication|security|sms|text|2fa|two[- ]factor|mfa|login) codes?",
    ),
    ("a card's security code", r"\bcvv2?s?\b|\bcvcs?\b|\bcsc\b|card security code"),
    (
        "a full card number",
        r"(?:full|complete|entire|whole|long|16[- ]digit)\s+(?:\w+\s+){0,2}(?:card|account)"
        r"\s+numbers?|card\s+(?:number|details|expiry)s?",
    ),
    ("a bank account", r"\biban\b|bank account (?:and )?(?:routing )?numbers?|routing numbers?"),
    ("an identity number", r"social security (?:number)?|\bssns?\b|passport numbers?"),
    ("a security answer", r"security (?:questions?|answers?)|mother'?s maiden name"),
)

# Asking for something, and saying not to.
_ASK = (
    r"(?:ask|request|collect|obtain|get|take|gather|confirm|verify|provide|share|send|give|"
    r"enter|type|read|tell|need|require|note|write|record|store|repeat|say|spell|check)"
)
# "Do not forget to ask for the CVV" asks for it: these words undo the negation.
_NOT_NEGATING = r"(?!(?:forget|fail|hesitate|neglect|omit|skip|delay)\b)"
_NEGATED_ASK = re.compile(
    rf"\b(?:never|not|don'?t|do not|must not|mustn'?t|should not|shouldn'?t|cannot|can'?t|"
    rf"no need to|without|nor)\s+(?:{_NOT_NEGATING}\w+\s+){{0,2}}?{_NOT_NEGATING}{_ASK}",
    re.IGNORECASE,
)
# Only the end of a card number is safe to ask for, and it is common guidance.
_CARD_ENDING = re.compile(
    r"last\s+(?:four|4)\s+digits(?:\s+of\s+(?:\w+\s+){0,3}?card(?:\s+numbers?)?)?",
    re.IGNORECASE,
)
_IGNORE_POLICY = re.compile(
    r"(?<!never )(?<!not )(?<!n't )\b(?:ignore|disregard|bypass|override|overrule|forget|"
    r"set aside|suspend)\s+"
    r"(?:\w+\s+){0,3}?(?:polic(?:y|ies)|rules?|instructions?|guidelines?|restrictions?|"
    r"terms|system prompt)\b|\bpolicy (?:does not|doesn'?t|no longer) appl(?:y|ies)\b",
    re.IGNORECASE,
)
_URL = re.compile(r"\b(?:https?|ftp)://[^\s<>\"')\]]+|\bwww\.[^\s<>\"')\]]+", re.IGNORECASE)
_DOMAIN = re.compile(
    r"(?<![\w.-])(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}\b(?!\.\w)",
    re.IGNORECASE,
)
_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n")


def screen(guidance: Sequence[str], policy: str) -> str | None:
    """Why `guidance` must not be kept, naming the guideline at fault; None if it passes."""
    for number, line in enumerate(guidance, 1):
        problem = screen_line(line, policy)
        if problem is not None:
            return f"guideline screen: guideline {number} {problem}: {line!r}"
    return None


def screen_line(line: str, policy: str) -> str | None:
    """What is wrong with one guideline, or None."""
    for sentence in _SENTENCE.split(line):
        secret = _asked_secret(sentence)
        if secret is not None:
            return f"asks the customer for {secret}"
    if _IGNORE_POLICY.search(line):
        return "tells the agent to set the policy aside"
    foreign = _foreign_link(line, policy)
    if foreign is not None:
        return f"names a link or domain the policy does not ({foreign})"
    return None


def _asked_secret(sentence: str) -> str | None:
    """The secret `sentence` mentions, unless only in saying not to ask for it."""
    sentence = _CARD_ENDING.sub("", sentence)
    for what, pattern in _SECRETS:
        found = re.search(pattern, sentence, re.IGNORECASE)
        if found is None:
            continue
        negation = _NEGATED_ASK.search(sentence, 0, found.start())
        if negation is None:
            return what
    return None


def _foreign_link(line: str, policy: str) -> str | None:
    """The first link or domain name in `line` that the policy text does not contain."""
    allowed = {_host(d) for d in [*_URL.findall(policy), *_DOMAIN.findall(policy)]}
    for candidate in [*_URL.findall(line), *_DOMAIN.findall(line)]:
        host = _host(candidate)
        if not any(host == ok or host.endswith("." + ok) for ok in allowed if ok):
            return candidate
    return None


def _host(link: str) -> str:
    host = re.sub(r"^[a-z]+://", "", link.lower()).split("/")[0].split("?")[0].split(":")[0]
    return host.removeprefix("www.").rstrip(".")
