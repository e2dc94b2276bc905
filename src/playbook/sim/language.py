"""What the simulated customer says, and how the simulated agents and judge read it back."""

from __future__ import annotations

import re
from random import Random

EMOTION_CUES: dict[str, tuple[str, ...]] = {
    "frustrated": (
        "This is really frustrating.",
        "Honestly, I'm fed up with this.",
        "I'm getting frustrated here.",
    ),
    "concerned": (
        "I'm worried about losing this money.",
        "I'm quite concerned about this.",
        "This has me worried.",
    ),
    "confused": (
        "I'm confused about how this works.",
        "I don't really understand what my options are.",
        "Sorry, I'm a bit confused by all this.",
    ),
    "calm": ("I'd just like to sort this out.", "Thanks for looking into it.", ""),
}
PERSONALITY_CUES: dict[str, tuple[str, ...]] = {
    "analytical": (
        "Can you walk me through the exact rules?",
        "I'd like the precise figures, please.",
    ),
    "amiable": ("I hope you can help me out.", "I'd really appreciate your help with this."),
    "expressive": (
        "This meant so much to me!",
        "I was so excited about this, and now it's all gone wrong!",
    ),
    "driver": ("Get to the point, please.", "Keep it short, I don't have time."),
}
DEMANDS = ("I insist on a {x}.", "I won't accept anything less than a {x}.", "I demand a {x}.")
REQUESTS = (
    "Is there really no way to get a {x}?",
    "Could you check again whether a {x} is possible?",
)
ACCEPTANCES = (
    "Alright, I'll take the {x}. Thank you.",
    "OK, that works for me: I'll take the {x}.",
)
PROMISE_ACCEPTED = "Great, thank you for making an exception!"
GIVING_UP = ("I'm done with this. Goodbye.", "Forget it, this is going nowhere.")

_EMOTION_PATTERNS = {
    "frustrated": r"frustrat|fed up|infuriat|furious|angry",
    "concerned": r"worried|concerned|anxious|nervous",
    "confused": r"confus|don't (really )?understand|do not understand|not sure how",
}
_PERSONALITY_PATTERNS = {
    "analytical": r"exact rules|precise|figures|walk me through|numbers",
    "amiable": r"hope you can help|appreciate your help",
    "expressive": r"meant so much|so excited",
    "driver": r"to the point|keep it short|don't have time|no time",
}
_DEMANDING = r"\binsist\b|won't accept anything less|\bdemand\b"
_ACCEPTED = r"\bi'll take\b|\bi will take\b|that works for me|making an exception"
_GAVE_UP = r"i'm done with this|forget it"


def pick(rng: Random, options: tuple[str, ...]) -> str:
    return options[rng.randrange(len(options))]


def _first_match(patterns: dict[str, str], text: str) -> str | None:
    for name, pattern in patterns.items():
        if re.search(pattern, text, re.IGNORECASE):
            return name
    return None


def read_emotion(message: str) -> str:
    return _first_match(_EMOTION_PATTERNS, message) or "calm"


def read_personality(messages: list[str]) -> str | None:
    for message in messages:
        if found := _first_match(_PERSONALITY_PATTERNS, message):
            return found
    return None


def reads_demanding(messages: list[str]) -> bool:
    return any(re.search(_DEMANDING, m, re.IGNORECASE) for m in messages)


def reads_accepted(message: str) -> bool:
    return bool(re.search(_ACCEPTED, message, re.IGNORECASE))


def reads_gave_up(message: str) -> bool:
    return bool(re.search(_GAVE_UP, message, re.IGNORECASE))
