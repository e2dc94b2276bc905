"""Infer a persona's personality, initial emotion and demands from free text, by keyword rules.

Imported scenarios (tau2-bench tasks, chat transcripts) describe the customer in prose, but the
customer simulator and the judge work with the paper's traits. The rules are deliberately simple,
and every inference says which words it came from, or that it is a default, so that a reviewer
can check it in the persona's `origin`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_PERSONALITY = "amiable"
DEFAULT_EMOTION = "calm"

# Earlier rules win: "polite but brief" is a driver, because politeness is the commoner modifier.
_PERSONALITY_RULES = (
    (
        "driver",
        r"\b(impatient|terse(ly)?|brief|in a hurry|quickly|busy|direct|to the point|"
        r"short answers?|no time|don't have time)\b",
    ),
    (
        "analytical",
        r"\b(detail[- ]oriented|organi[sz]ed|precise|exact|methodical|meticulous|thorough|"
        r"numbers|figures|step[- ]by[- ]step)\b",
    ),
    (
        "expressive",
        r"\b(outgoing|emotional|expressive|talkative|chatty|funny|excited|dramatic|"
        r"talk to the agent for a while)\b",
    ),
    ("amiable", r"\b(polite|friendly|patient|kind|warm|chill|pleasant|easy-?going|thank)\b"),
)
_EMOTION_RULES = (
    (
        "frustrated",
        r"\b(upset|angry|furious|frustrat\w*|annoyed|irritated|rude|mad|unhappy|not happy|"
        r"fed up|ridiculous|unacceptable)\b",
    ),
    (
        "concerned",
        r"\b(anxious|worried|worry|nervous|concerned|stress(ed)?|distraught|sad|scared|afraid|"
        r"insecure|pessimistic|in debt)\b",
    ),
    (
        "confused",
        r"\b(confus\w*|absent[- ]minded|memory is not|not good at|unsure|not sure|"
        r"don't understand|do not understand|not tech[- ]savvy)\b",
    ),
)
_DEMANDING = (
    r"\b(insist\w*|persistent|firm|adamant|rigid|demand\w*|take no for an answer|"
    r"won't accept|will not accept|not willing to accept|don't accept|do not accept|coercion|"
    r"maximum compensation|do not end the conversation until)\b"
)


@dataclass(frozen=True)
class Traits:
    personality: str
    emotion: str
    demanding: bool
    evidence: str  # which words each trait came from, e.g. "personality driver ('impatient')"


def infer_traits(text: str) -> Traits:
    """The paper's traits for a customer described (or quoted) in `text`."""
    personality, why_personality = _first_rule(_PERSONALITY_RULES, text, DEFAULT_PERSONALITY)
    emotion, why_emotion = _first_rule(_EMOTION_RULES, text, DEFAULT_EMOTION)
    demand = re.search(_DEMANDING, text, re.IGNORECASE)
    why_demanding = f"demanding ('{demand.group(0)}')" if demand else "not demanding (no cue)"
    evidence = "; ".join(
        (f"personality {personality} ({why_personality})", f"emotion {emotion} ({why_emotion})")
    )
    return Traits(personality, emotion, bool(demand), f"{evidence}; {why_demanding}")


def _first_rule(rules: tuple[tuple[str, str], ...], text: str, default: str) -> tuple[str, str]:
    for name, pattern in rules:
        found = re.search(pattern, text, re.IGNORECASE)
        if found:
            return name, f"'{found.group(0)}'"
    return default, "no cue; default"
