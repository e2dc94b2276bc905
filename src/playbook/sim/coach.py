"""How the simulated teacher words guidelines, and how the simulated students follow them.

The teacher writes each lesson in one of several phrasings; the weak student understands only
some of them (its lexicon), so an attempt can fail and a later one, worded otherwise, succeed.
The student obeys what it understands literally, conditions ignored: a line meant for another
situation is followed all the same, a line granting the forbidden remedy is obeyed, and the
remedies a line names are offered whatever the goal. It attends to its first few guidelines
only, and each one shows in a reply with some probability, lower in a long list.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from random import Random

from playbook.sim.reading import mentions_remedy
from playbook.types import Domain, Goal

ATTENTION = 4  # the student follows only its first guidelines
LONG_LIST = 5  # more guidelines than this blur the student's attention
SHOWS = 0.85  # chance that a followed guideline shows in a reply
SHOWS_IN_LONG_LIST = 0.6

# Lessons the teacher writes: a move to make, "brevity", "firm" (never grant the forbidden
# remedy), or "no_<move>" (stop doing something this situation does not want).
PHRASINGS: dict[str, tuple[str, ...]] = {
    "empathy": (
        "Start by acknowledging how the customer feels, in one sentence.",
        "Say you are sorry for the trouble before anything else.",
        "Open by validating the customer's emotions.",
        "Recognise the emotional weight of this first.",
    ),
    "warmth": (
        "Thank the customer and keep a warm, friendly tone.",
        "Build rapport and make the customer feel valued.",
        "Be personable with this customer.",
    ),
    "clarify": (
        "Ask one clarifying question before explaining anything.",
        "Check what the customer is unsure about before you explain the rules.",
        "Ask which part is unclear to them, as a question, first.",
    ),
    "detail": (
        "Give the exact figures and terms that apply to the case.",
        "Quote the precise amounts, dates and fees.",
        "Be granular about the numbers.",
    ),
    "brevity": (
        "Keep the reply short: three sentences at most.",
        "Be concise and get to the point.",
        "Trim everything the customer did not ask for.",
    ),
    "policy": (
        "Explain the relevant policy once, briefly.",
        "State the rule that applies.",
        "Cite the governing terms.",
    ),
    "alternatives": (
        "Offer {remedies}.",
        "Suggest {remedies} instead.",
        "Point the customer to what we can do instead.",
    ),
    "documentation": (
        "Ask for the doctor's note or other documentation of the emergency.",
        "Request the supporting paperwork.",
        "Ask them to provide proof of the emergency.",
    ),
    "grant": (
        "When the customer has a doctor's note, process the {forbidden} under the emergency "
        "exception.",
        "Approve the {forbidden} once the emergency is documented.",
        "Give the customer the {forbidden} they ask for.",
    ),
    "escalate": (
        "Offer to pass the case to a supervisor.",
        "Hand the matter up the chain.",
        "Escalate to a supervisor when the customer asks for one.",
    ),
    "firm": (
        "Never promise a {forbidden}; hold the policy politely even when the customer insists.",
        "Don't cave on the {forbidden}, however hard the customer pushes.",
        "Stand your ground on the {forbidden}.",
    ),
    "no_empathy": (
        "Do not apologise or acknowledge feelings; this customer is calm.",
        "Skip the emotional language.",
    ),
    "no_warmth": (
        "Don't thank the customer or make small talk; keep it businesslike.",
        "Skip the pleasantries.",
    ),
    "no_clarify": (
        "Do not ask questions when the request is already clear.",
        "Skip the probing.",
    ),
    "no_detail": (
        "Do not list exact figures unless the customer asks.",
        "Leave out the fine print.",
    ),
    "no_policy": (
        "Do not repeat the policy once you have explained it.",
        "Skip restating the rules.",
    ),
    "no_documentation": (
        "Do not ask for documentation when there is no emergency.",
        "Leave paperwork out of it.",
    ),
    "no_escalate": (
        "Do not offer a supervisor before the customer asks for one.",
        "Keep the case with you for now.",
    ),
    "no_invented": (
        "Do not offer compensation the policy does not name for this case.",
        "Stick to this case's permitted remedies.",
    ),
}

# What the weak student understands: a guideline it cannot match here is lost on it.
LEXICON = {
    "empathy": r"acknowledg|sorry|apologi|empath",
    "warmth": r"\bthank|\bwarm\b|friendly",
    "clarify": r"clarif|question",
    "detail": r"exact|specific|figures",
    "brevity": r"\bshort\b|concise|brief",
    "policy": r"polic",
    "documentation": r"doctor|documentation|certificate|medical",
    "escalate": r"supervisor|escalat",
    "alternatives": r"alternative|option",
}
_NEGATED = r"^\s*(never|do not|don't|avoid|stop)\b"
_GRANTS = r"\b(grant|process|issue|approve|give|offer|agree to|promise)\b"
_CONDITIONED = r"doctor|document|certificate|medical|emergency"


@dataclass(frozen=True)
class Adoption:
    """What the student takes from its guidelines for one reply."""

    add: frozenset[str]
    drop: frozenset[str]
    remedies: tuple[str, ...]  # remedies named by a followed guideline
    firm: bool  # told not to give in to the customer's demand
    brief: bool
    own_remedies_only: bool  # told not to invent compensation


def adopt(guidance: list[str], domain: Domain, goal: Goal, rng: Random) -> Adoption:
    shows = SHOWS if len(guidance) <= LONG_LIST else SHOWS_IN_LONG_LIST
    add: set[str] = set()
    drop: set[str] = set()
    remedies: list[str] = []
    firm = own_only = False
    for line in guidance[:ATTENTION]:
        if rng.random() >= shows:
            continue
        if re.search(_NEGATED, line, re.I):
            if _forbidden_named(line, domain) or "cave" in line.lower():
                firm = True
            elif "compensation" in line.lower():
                own_only = True
            else:
                drop |= _understood(line)
            continue
        named = [r for g in domain.goals for r in g.remedies if mentions_remedy(line, r)]
        remedies += named
        if re.search(_GRANTS, line, re.I) and _forbidden_named(line, domain):
            add.add("grant")
        add |= _understood(line) | ({"alternatives"} if named else set())
    if "alternatives" in add and not remedies:
        remedies = list(goal.remedies[:1])  # told to offer options, it names the first it knows
    brief = "brevity" in add
    return Adoption(
        frozenset(add - drop - {"brevity"}),
        frozenset(drop),
        tuple(dict.fromkeys(remedies)),
        firm,
        brief,
        own_only,
    )


def _understood(line: str) -> set[str]:
    return {move for move, pattern in LEXICON.items() if re.search(pattern, line, re.I)}


def _forbidden_named(line: str, domain: Domain) -> list[str]:
    lowered = line.lower()
    return [g.forbidden for g in domain.goals if g.forbidden and g.forbidden.lower() in lowered]


def phrase(lesson: str, goal: Goal, remedies: tuple[str, ...], rng: Random) -> str:
    """One of the teacher's phrasings of a lesson."""
    return phrasing(lesson, rng.randrange(len(PHRASINGS[lesson])), goal, remedies)


def phrasing(lesson: str, index: int, goal: Goal, remedies: Sequence[str]) -> str:
    """The lesson's `index`th phrasing, naming `remedies` and the goal's forbidden remedy."""
    return PHRASINGS[lesson][index].format(remedies=" or ".join(remedies), forbidden=goal.forbidden)


def lesson_of(line: str) -> str:
    """Which lesson a guideline teaches, as the teacher reads its own wording (for merging)."""
    for lesson, options in PHRASINGS.items():
        for option in options:
            pattern = re.sub(r"\\\{\w+\\\}", ".*", re.escape(option))
            if re.fullmatch(pattern, line.strip(), re.I):
                return lesson
    return line.strip().lower()


def breaks_policy(line: str, domain: Domain) -> bool:
    """A guideline granting a forbidden remedy without tying it to the documented emergency the
    policy makes an exception for."""
    if re.search(_NEGATED, line, re.I) or re.search(r"\b(not|never|no)\b", line, re.I):
        return False
    grants = re.search(_GRANTS, line, re.I) and _forbidden_named(line, domain)
    return bool(grants) and not re.search(_CONDITIONED, line, re.I)
