"""How the simulated teacher words guidelines, and how the simulated students follow them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from playbook.sim.world import Situation

_ADOPT = {
    "empathy": r"acknowledg|empath|sympath|apologi|feelings",
    "warmth": r"\bthank|appreciat|\bwarm|friendly|rapport",
    "clarify": r"clarif|\bask\b.*question|make sure you understand",
    "policy": r"polic",
    "alternatives": r"alternative|\boffer\b|\boption",
    "detail": r"exact|specific|figures|\bdetail",
    "brevity": r"\bshort\b|concise|brief|to the point",
}
_NEGATED = r"^\s*(never|do not|don't|avoid|stop)\b"
_FIRM = r"promise|exception|give in|cave"


@dataclass(frozen=True)
class Adoption:
    """What a literal-minded student takes from the guidelines in its prompt."""

    add: frozenset[str]
    drop: frozenset[str]
    firm: bool  # told not to promise what the policy forbids


def adopt(guidance: list[str]) -> Adoption:
    add: set[str] = set()
    drop: set[str] = set()
    firm = False
    for line in guidance:
        matched = {name for name, pattern in _ADOPT.items() if re.search(pattern, line, re.I)}
        if not re.search(_NEGATED, line, re.I):
            add |= matched
        elif re.search(_FIRM, line, re.I):
            firm = True
        else:
            drop |= matched
    return Adoption(frozenset(add - drop), frozenset(drop), firm)


def guideline(behaviour: str, situation: Situation) -> str:
    """The teacher's plain-language guideline for a behaviour the weak reply lacked."""
    goal = situation.goal
    texts = {
        "empathy": f"When the customer is {situation.emotion}, start by acknowledging their "
        "feelings in one sentence.",
        "warmth": "Thank the customer and show appreciation; a warm, friendly tone matters here.",
        "clarify": "When the customer is confused, ask one clarifying question to make sure you "
        "understand what they need.",
        "policy": "Explain the relevant policy briefly and plainly.",
        "alternatives": "Offer the alternatives the policy allows: "
        + " or ".join(goal.remedies)
        + ".",
        "detail": "Give the exact figures and specific terms that apply to the customer's case.",
        "brevity": "Keep the reply short and to the point: three sentences at most.",
        "no_clarify": "Do not ask questions when the customer's request is already clear.",
        "firm": f"Never promise a {goal.forbidden}; hold the policy politely even when the "
        "customer insists.",
    }
    return texts[behaviour]


def lesson_topic(line: str) -> str:
    """What a guideline is about, so that merging keeps one guideline per topic."""
    adoption = adopt([line])
    if adoption.firm:
        return "firm"
    if adoption.drop:
        return "no_" + sorted(adoption.drop)[0]
    return ",".join(sorted(adoption.add)) or line.lower()


_GRANTS = r"\b(offer|promise|give|grant|approve|agree to|process|issue|make an exception)\b"


def breaks_policy(line: str, forbidden: list[str]) -> bool:
    """A guideline telling the agent to grant what the policy forbids (and not to refuse it)."""
    lowered = line.lower()
    grants = re.search(_GRANTS, lowered) and not re.search(_NEGATED, lowered)
    grants = grants and not re.search(r"\b(not|never|no)\b", lowered)
    return bool(grants) and any(f.lower() in lowered for f in forbidden if f)
