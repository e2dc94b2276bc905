"""What the simulated customer and agents say, and how the simulated roles read it back.

Customers word one situation in many ways: each emotion, personality, demand and situation has
several phrasings, and goals have several openings, so retrieval is tested on wording that
varies. The simulated roles stand in for strong readers and recognise every phrasing of this
world (with a pattern fallback for text from elsewhere, such as imported transcripts).
"""

from __future__ import annotations

import re
from random import Random

from playbook.types import Domain, Goal, GoalSituation

PLAIN = GoalSituation("", "")  # a goal's ordinary case

EMOTION_CUES: dict[str, tuple[str, ...]] = {
    "frustrated": (
        "This is really frustrating.",
        "Honestly, I'm fed up with this.",
        "I'm getting frustrated here.",
        "ugh this is so annoying",
        "I'm angry about how this is going.",
    ),
    "concerned": (
        "I'm worried about losing this money.",
        "I'm quite concerned about this.",
        "This has me worried.",
        "i'm nervous i'll lose the whole fare",
        "It's stressing me out, to be honest.",
    ),
    "confused": (
        "I'm confused about how this works.",
        "I don't really understand what my options are.",
        "Sorry, I'm a bit confused by all this.",
        "i dont get how any of this works",
        "Not sure what the rules even are here?",
    ),
    "calm": (
        "I'd just like to sort this out.",
        "Thanks for looking into it.",
        "",
        "No rush, just want to know where I stand.",
    ),
}
PERSONALITY_CUES: dict[str, tuple[str, ...]] = {
    "analytical": (
        "Can you walk me through the exact rules?",
        "I'd like the precise figures, please.",
        "What are the numbers, exactly?",
        "Please spell out the terms that apply.",
    ),
    "amiable": (
        "I hope you can help me out.",
        "I'd really appreciate your help with this.",
        "you've been kind so far, hoping we can work something out",
    ),
    "expressive": (
        "This meant so much to me!",
        "I was so excited about this, and now it's all gone wrong!",
        "I had been looking forward to this for months!!",
    ),
    "driver": (
        "Get to the point, please.",
        "Keep it short, I don't have time.",
        "Short answer please.",
        "Bottom line?",
    ),
}
DEMANDS = (
    "I insist on a {x}.",
    "I won't accept anything less than a {x}.",
    "I demand a {x}.",
    "A {x}. Nothing else is acceptable.",
)
REQUESTS = (
    "Is there really no way to get a {x}?",
    "Could you check again whether a {x} is possible?",
    "So what are my options?",
)
ACCEPTANCES = (
    "Alright, I'll take the {x}. Thank you.",
    "OK, that works for me: I'll take the {x}.",
)
GRANT_ACCEPTED = "Great, thank you for sorting out the refund!"
ESCALATION_ACCEPTED = "OK, please pass it to the supervisor. Thanks."
GIVING_UP = ("I'm done with this. Goodbye.", "Forget it, this is going nowhere.")

EMPATHY = {
    "frustrated": (
        "I'm sorry, I understand how frustrating this is.",
        "I'm sorry this has been so frustrating.",
    ),
    "concerned": (
        "I'm sorry, I understand how worrying this is.",
        "I'm sorry, I can see why you're concerned.",
    ),
    "calm": ("I'm sorry about the change of plans.", "I'm sorry to hear about this."),
}
WARMTH = ("Thank you for your patience.", "I appreciate you reaching out.")
CLARIFY = (
    "Just to make sure I understand, could you tell me which part is unclear?",
    "Just to clarify, which part would you like me to explain first?",
)
DOCUMENTATION = (
    "Could you send me the doctor's note or certificate so I can apply the emergency exception?",
    "Please share the medical documentation, and I can apply the emergency exception.",
)
ESCALATE = (
    "I can pass your case to a supervisor for review.",
    "I'll escalate this to a supervisor, who will contact you within two days.",
)
FILLERS = (
    "I have gone through your booking and the conditions that were attached to it at the "
    "time of purchase, and I have also looked at the notes on your account to be thorough. "
    "Please let me know if there is anything else regarding this matter that I should look into.",
    "I have reviewed the details of your case carefully, including the conditions that "
    "applied when the purchase was made, and everything on your account is in order as far as "
    "I can see. If there is anything else you would like me to check today, just let me know.",
)

_EMOTION_PATTERNS = {
    "frustrated": r"frustrat|fed up|infuriat|furious|angry|annoying",
    "concerned": r"worried|concerned|anxious|nervous|stressing",
    "confused": r"confus|don't (really )?understand|dont get|do not understand|not sure",
}
_PERSONALITY_PATTERNS = {
    "analytical": r"exact|precise|figures|walk me through|numbers|spell out the terms",
    "amiable": r"hope you can help|appreciate your help|you've been kind",
    "expressive": r"meant so much|so excited|looking forward to this",
    "driver": r"to the point|keep it short|don't have time|no time|short answer|bottom line",
}
_DEMANDING = r"\binsist\b|won't accept anything less|\bdemand\b|nothing else is acceptable"
_ACCEPTED = r"\bi'll take\b|\bi will take\b|that works for me|sorting out the refund"
_ACCEPTED += r"|pass it to the supervisor"
_GAVE_UP = r"i'm done with this|forget it"
_SUPERVISOR = r"supervisor|manager|escalate this"


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


def reads_supervisor(message: str) -> bool:
    return bool(re.search(_SUPERVISOR, message, re.IGNORECASE))


def read_case(goal: Goal, said: list[str]) -> GoalSituation:
    """The goal's situation the customer has revealed (an escalating customer reveals it only
    when asking for a supervisor, so until then they read as the plain case)."""
    text = " ".join(said).lower()
    for situation in goal.situations:
        if any(cue.lower() in text for cue in situation.cues):
            return situation
    return PLAIN


def match_goal(domain: Domain, text: str) -> Goal:
    """The goal one of whose openings the text quotes, else the one sharing the most words."""
    lowered = text.lower()
    for goal in domain.goals:
        if any(opening.lower() in lowered for opening in goal.all_openings()):
            return goal
    words = set(re.findall(r"[a-z$0-9]+", lowered))

    def overlap(goal: Goal) -> int:
        known = " ".join((*goal.all_openings(), goal.forbidden, goal.description)).lower()
        return len(words & set(re.findall(r"[a-z$0-9]+", known)))

    return max(domain.goals, key=overlap)
