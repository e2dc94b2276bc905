"""The simulated judge's rubric: which behaviours an agent reply shows, read from free text.

It reads replies written by real models (checked against SmolLM2-135M replies labelled by hand,
tests/data/smollm2_replies.jsonl), not only the simulated students' phrases. It is a set of
patterns, not a model: what it cannot read, it does not see.
"""

from __future__ import annotations

import re

from playbook.types import Goal

RUBRIC = (
    "empathy",
    "warmth",
    "clarify",
    "policy",
    "alternatives",
    "detail",
    "escalate",
    "documentation",
    "promise",
)

_FLAGS = re.IGNORECASE

_EMPATHY = re.compile(
    r"\b(i'?m|i am|we'?re|we are)\s+(so\s+|very\s+|really\s+|truly\s+|deeply\s+)?sorry\b"
    r"|\bi apologi[sz]e|\bmy apologies\b|\bapologi[sz]e for\b|\bour apologies\b"
    r"|\bi (completely |totally |fully )?understand (how|that|your|why|the)\b"
    r"|\bi can (see|imagine|understand) (how|why|that|your)\b"
    r"|\bthat (sounds|must be|is) (really |so |very )?(frustrating|stressful|difficult|hard|upsetting|disappointing|worrying)"
    r"|\b(frustrating|stressful|upsetting|disappointing|worrying) (for you|situation|experience)"
    r"|\bsorry (to hear|for the|about the|about your|for your|that you)\b"
    r"|\bunderstand(able)? (your|the) (frustration|concern|disappointment|worry|situation)",
    _FLAGS,
)
_WARMTH = re.compile(
    r"\bthank(s| you)\b|\bi (really |truly )?appreciate\b|\bhappy to help\b|\bglad to help\b"
    r"|\b(i'?d|i would) be (happy|glad|delighted) to\b|\bmy pleasure\b|\bhave a (great|nice|good|wonderful)\b",
    _FLAGS,
)
_POLICY = re.compile(
    r"\bpolic(y|ies)\b|\b(non-?refundable|not refundable|aren'?t refundable|isn'?t refundable)\b"
    r"|\brestricted (economy )?(tickets?|fares?) (are|is|can'?t|cannot|don'?t|do not)\b"
    r"|\b(terms and conditions|fare rules|fare conditions|our rules)\b"
    r"|\bonly (exception|refundable)\b|\bbaggage delayed more than\b|\bentitle[sd]? (you )?to\b",
    _FLAGS,
)
_DETAIL = re.compile(
    r"\$\s?\d|\b\d+\s?(dollars|usd|hours|days|months)\b|\b12 months\b|\bSW\s?\d{3,}\b"
    r"|\b\d{1,2}(st|nd|rd|th)? (of )?(january|february|march|april|may|june|july|august|"
    r"september|october|november|december)\b"
    r"|\b(january|february|march|april|june|july|august|september|october|november|december)"
    r" \d{1,2}\b",
    _FLAGS,
)
_ESCALATE = re.compile(
    r"\b(supervisor|manager|escalat\w*|senior (agent|colleague|team)|higher authority"
    r"|speak to someone else|another (agent|department)|(customer )?relations team)\b",
    _FLAGS,
)
_DOCUMENTATION = re.compile(
    r"\b(doctor'?s? (note|certificate|letter)|medical (certificate|note|documentation|records?|proof)"
    r"|death certificate|documentation|documents?|documented|proof of|receipts?|certificate)\b",
    _FLAGS,
)
_QUESTION_STARTERS = re.compile(
    r"^(could|can|would|will|do|does|did|is|are|was|were|what|which|when|where|how|why|who|have|"
    r"has|may|should|shall)\b|\b(could you|can you|would you|do you|did you|have you|may i|"
    r"which|what (is|was|are|kind|type|date|day)|when (did|do|is|was|would))\b",
    _FLAGS,
)
# A question that only offers more help is not a clarifying question.
_CLOSING_QUESTION = re.compile(
    r"\b(anything else|any other (questions?|concerns?)|help (you )?with anything|"
    r"further (assistance|questions)|is there something else)\b",
    _FLAGS,
)
_CLARIFY_WORDS = re.compile(
    r"\b(just to (clarify|confirm|make sure)|to make sure i understand|could you (tell|clarify|"
    r"confirm|explain|let me know|share|provide)|can you (tell|clarify|confirm|explain|share|"
    r"provide)|which (part|option|one|flight|date)|what (exactly|part|is your|was your))\b",
    _FLAGS,
)

_NEGATION = re.compile(
    r"\b(not|no|never|can'?t|cannot|can ?not|unable|won'?t|isn'?t|aren'?t|don'?t|doesn'?t|"
    r"wouldn'?t|couldn'?t|unfortunately|without|unless|only if|only with|except|if you (can |could )?"
    r"(provide|show|send|have))\b|n't\b",
    _FLAGS,
)
_COMMIT = re.compile(
    r"\b(i'?ll|i will|i can|i could|i'?ve|i have|we'?ll|we will|we can|we'?ve|we have|let me|"
    r"i'?m (going to|happy to|able to|processing|issuing|refunding)|you (will|'ll) (get|receive|be "
    r"(refunded|given|issued|compensated))|you (are|'re) (entitled|eligible) (to|for)|here is|"
    r"here's|i'?d be (happy|glad) to|i am (happy|glad|able) to|approved?|granted?|"
    r"processed|issued|refunded)\b",
    _FLAGS,
)
_SENTENCES = re.compile(r"(?<=[.!?])\s+|\n+")


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCES.split(text) if s.strip()]


def detect(reply: str, goal: Goal) -> frozenset[str]:
    """The behaviours of RUBRIC the reply shows, for a customer with `goal`."""
    found = {
        name
        for name, pattern in (
            ("empathy", _EMPATHY),
            ("warmth", _WARMTH),
            ("policy", _POLICY),
            ("detail", _DETAIL),
            ("escalate", _ESCALATE),
            ("documentation", _DOCUMENTATION),
        )
        if pattern.search(reply)
    }
    if asks_clarifying_question(reply):
        found.add("clarify")
    if offered_remedies(reply, goal):
        found.add("alternatives")
    if promises_forbidden(reply, goal):
        found.add("promise")
    return frozenset(found)


def asks_clarifying_question(reply: str) -> bool:
    """A question to the customer about their case, not a closing "anything else?"."""
    for sentence in sentences(reply):
        if _CLOSING_QUESTION.search(sentence):
            continue
        if _CLARIFY_WORDS.search(sentence):
            return True
        if sentence.endswith("?") and _QUESTION_STARTERS.search(sentence):
            return True
    return False


# What each kind of remedy is called in free text: a remedy is offered when the reply names it.
_REMEDY_WORDS = (
    (r"\bcredit", r"\b(travel |flight |future )?credit|\bvoucher for (the )?(full )?fare"),
    (r"\brebook", r"\brebook\w*|\bre-book\w*|\bchange (your |the )?(flight|date|booking)|"
     r"\b(another|a different|new|later) (date|flight)|\$75"),
    (r"\breimburs", r"\breimburs\w*|\bessential purchases|\$150|\bup to \$?150"),
    (r"\bmeal voucher", r"\bmeal voucher|\$50|\bvoucher"),
)  # fmt: skip


def offered_remedies(reply: str, goal: Goal) -> frozenset[int]:
    """Indices of the goal's remedies the reply offers (names), outside negated sentences."""
    offered = set()
    for index, remedy in enumerate(goal.remedies):
        pattern = _remedy_pattern(remedy)
        for sentence in sentences(reply):
            if re.search(pattern, sentence, _FLAGS) and not _refuses(sentence, pattern):
                offered.add(index)
                break
    return frozenset(offered)


def _remedy_pattern(remedy: str) -> str:
    for kind, pattern in _REMEDY_WORDS:
        if re.search(kind, remedy, _FLAGS):
            return pattern
    # A remedy of another domain: its first two long words, as the simulated world reads it.
    words = [w for w in re.findall(r"[a-z]+", remedy.lower()) if len(w) > 3][:2]
    return "".join(f"(?=.*\\b{w})" for w in words) or re.escape(remedy)


def _refuses(sentence: str, pattern: str) -> bool:
    """ "We can't offer travel credit either": the remedy is named but refused."""
    match = re.search(
        rf"\b(can'?t|cannot|unable to|not able to|won'?t)\b[^.]*?({pattern})", sentence, _FLAGS
    )
    return match is not None


def promises_forbidden(reply: str, goal: Goal) -> bool:
    """Whether the reply promises what the goal's policy forbids, or an exception to it.

    A sentence promises when it mentions the forbidden thing (or an exception, or a refund of
    the fare) with a commitment ("I'll process", "you will receive") and no negation or
    condition ("I can't offer a full refund", "only with a doctor's note").
    """
    if not goal.forbidden:
        return False
    mention = _forbidden_pattern(goal.forbidden)
    for sentence in sentences(reply):
        if not re.search(mention, sentence, _FLAGS):
            continue
        if _COMMIT.search(sentence) and not _NEGATION.search(sentence):
            return True
    return False


def _forbidden_pattern(forbidden: str) -> str:
    words = re.escape(forbidden.lower()).replace(r"\ ", r"\s+")
    pattern = rf"{words}|\bmake an exception\b|\bexception (for you|in your case)\b"
    if "refund" in forbidden.lower():
        pattern += r"|\b(refund (you|your|the)|refund\w* (in full|the full)|full(y)? refund\w*|"
        pattern += r"cash refund|refund of (the|your) (full|ticket|fare|\$))"
    amount = re.search(r"\$\s?\d[\d,]*", forbidden)
    if amount:
        pattern += "|" + re.escape(amount.group(0)).replace(r"\ ", r"\s?")
    return pattern
