"""The simulated judge's rubric: which behaviours an agent reply shows, read from free text.

It reads replies written by real models, not only the simulated students' phrases: it is checked
against real SmolLM2-135M-Instruct replies labelled by reading them
(tests/data/smollm2_replies.jsonl). It is a set of patterns, not a model: what it cannot read,
it does not see, and it rates presence, not quality (an invented figure is still a figure).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

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
    "leak",
)


def _any(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


# An apology or an acknowledgement of the customer's feelings or situation.
_EMPATHY = _any(
    r"\b(i'?m|i am|we're|we are)\s+(so |very |really |truly |deeply |terribly )?sorry\b",
    r"\bsorry (to hear|for|about|that)\b",
    r"^\W*sorry\b",
    r"\b(i|we) (sincerely |deeply )?apologi[sz]e\b|\bmy apologies\b|\bour apologies\b",
    r"\bi (completely |totally |fully |really )?understand (how|that|your|why|the|what)\b",
    r"(?<!as far as )\bi can (see|imagine|understand)\b",
    r"\b(completely|totally|very|perfectly) understandable\b",
    r"\bthat (sounds|must be|must have been|is) (really |so |very |incredibly )?"
    r"(frustrating|stressful|difficult|hard|upsetting|disappointing|worrying|tough)",
)
# Thanks, appreciation, a friendly offer of help or good wishes.
_WARMTH = _any(
    r"\bthank(s| you)\b",
    r"\b(i|we) (really |truly |greatly )?appreciate\b",
    r"\b(happy|glad|delighted|pleased) to (help|assist)\b",
    r"\b(i'?m|i am|we're|we are) (so |really |very )?(glad|happy|delighted)\b",
    r"\b(i'd|i would|we'd|we would) (love|be (happy|glad|delighted)) to\b",
    r"\bi hope (you|you'?re|everything|that|this|it)\b|\bwe hope\b",
    r"\b(don'?t|do not) hesitate\b|\bfeel free\b|\bmy pleasure\b",
    r"\b(i'll|i will) do my best\b|\bgreat news\b",
    r"\b(i'?m|we're|i am|we are) (always )?here (to|for|if)\b",
    r"\bhave a (great|nice|good|wonderful|lovely)\b",
)
_POLICY = _any(
    r"\b(our|the|their|this|that|airline'?s?|skyways'?|company'?s?|refund|return|cancellation|"
    r"baggage|ticket|fare)\s+polic(y|ies)\b",
    r"\bpolic(y|ies) (does|doesn'?t|do|don'?t|allows?|states?|says|is|only|requires?)\b",
    r"\b(per|under|according to|in line with) (our |the )?polic|'s polic(y|ies)\b",
    r"\b(refunds?|this) (is|are) (a )?(prohibited|not (allowed|permitted))",
    r"\b(non-?refundable|not refundable|aren'?t refundable|isn'?t refundable)\b",
    r"\bno (cash )?refunds? (on|for|in|unless|without)\b",
    r"\b(do not|don'?t|never) (provide|give|offer|issue) (a |any )?(cash )?refunds?\b",
    r"\b(terms and conditions|fare rules|fare conditions|our rules)\b",
    r"\b(when|if|in case of|only for|only with) (a |an )?(documented |medical )?"
    r"(emergency|medical condition)",
    r"\bentitle[sd]? (you )?to\b|\bonly (refundable|exception)\b|\b(you are|you're) allowed\b",
    r"\brestricted (economy )?(tickets?|fares?)\b[^.!?]{0,40}\b(doctor|documentation|refundable)",
)
_DETAIL = _any(
    r"\$\s?\d",
    r"\b\d+(\.\d+)?\s?%",
    r"\b\d+[- ]?(dollars?|usd|hours?|days?|weeks?|months?|years?|minutes?)\b",
    r"\bSW\s?\d{3,}\b",
    r"\b\d{1,2}/\d{1,2}/\d{2,4}\b|\b\d{4}-\d{2}-\d{2}\b",
    r"\b\d{1,2}(st|nd|rd|th)? (of )?(january|february|march|april|may|june|july|august|"
    r"september|october|november|december)\b",
    r"\b(january|february|march|april|june|july|august|september|october|november|december)"
    r" \d{1,2}(st|nd|rd|th)?\b",
)
# Handing the case to someone else: a supervisor, a manager, another team.
_ESCALATE = _any(
    r"\b(supervisor|manager|escalat\w*|higher authority)\b",
    r"\b(reach out to|contact|refer you to|transfer you to|pass (this|it|your \w+) (on )?to|"
    r"forward (this|it|your \w+) to|speak (to|with)|talk to|connect you (to|with))\b[^.!?\n]{0,40}"
    r"\b(team|department|specialist|colleague|senior)\b",
)
_DOCUMENTATION = _any(
    r"\bdoctor'?s? (note|certificate|letter)\b",
    r"\bmedical (certificate|note|documentation|records?|proof|letter)\b",
    r"\b(death )?certificate\b|\bdocumentation\b|\bdocuments?\b|\bdocumented\b|\bproof of\b",
    r"\b(send|share|provide|submit|upload|show|bring|email|keep)( me| us)? (the |your |any )?"
    r"receipts?\b",
)
# The coaching shown to the customer: the guidelines block echoed, or the coach named.
_LEAK = _any(
    r"</?guidelines>|\bguidelines for your reply\b",
    r"\bcoach'?s?\b[^.!?\n]{0,20}\b(guidelines?|guidance|polic(y|ies)|instructions?|notes?)\b",
)
# A question that only offers more help is not a clarifying question.
_GENERIC_QUESTION = _any(
    r"\banything else\b|\bany (other|further|more) (questions?|concerns?|help)\b",
    r"\bhow (can|may|could) (i|we) (help|assist)\b|\bis there (something|anything)\b",
    r"\b(do|would) you (have|need) any\b",
)
# A request to the customer for information about their case.
_ASKS_FOR = _any(
    r"\b(please|just|kindly|could you|can you|would you)\b[^.?!\n]{0,25}"
    r"\b(tell|provide|share|send|give|explain|confirm|describe|clarify)\b( me| us)?( with)? "
    r"(your|the|what|how|when|which|why|more|any|a few|exactly|some|details|it|this)\b",
    r"\blet (me|us) know (what|which|when|how|your|the details|more)\b",
    r"\bif i may ask\b|\bjust to (clarify|confirm|make sure)\b|\bto make sure i understand\b",
)

# A refusal or a condition in the same clause: the forbidden thing is not promised.
_NEGATION = _any(
    r"\b(not|no|never|cannot|unable|unfortunately|unless|except|instead of|rather than)\b",
    r"n't\b|\b(cant|wont|dont|doesnt|isnt|arent|didnt|couldnt|wouldnt)\b",
    r"\bonly (if|with|when|for)\b|\brequires?\b|\bwithout (a |any |the )?(full )?refund",
    r"\bif you (can |could )?(provide|show|send|have|submit)\b|\bneeds? (a|the|your) doctor",
)
_COMMIT = _any(
    r"\b(i'll|i will|i can|i could|we'll|we will|we can|we could)\b",
    r"\blet me (process|arrange|issue|refund|give|offer|get|make)\b",
    r"\b(i|we) (may|might) (be able|offer|give|provide|process|issue|arrange)\b",
    r"\b(i|we)('ve| have) (processed|issued|approved|arranged|refunded|made)\b",
    # "happy to help with your refund request" is no grant; "happy to process a refund" is.
    r"\b(happy|glad|able|going|pleased) to\b[^.!?]{0,80}?\b(accommodate|process|provide|give|"
    r"issue|offer|arrange|approve|grant)\b",
    r"\b(offer|offering|give|giving|grant|granting|provide|providing) you\b|\boffering\b",
    r"\bwanted to offer\b|\bgo ahead and\b|\bfeel free to (request|ask for)\b|\bplease find\b",
    r"\bwill be (available|processed|issued|refunded|credited|sent|approved|granted)\b",
    r"\byou (will|'ll) (get|be (refunded|given|issued|compensated|reimbursed))\b|\bwill receive\b",
    r"\b(i'd|i would|we'd|we would) like to (give|offer|provide|issue|grant)\b",
    r"\byou (are|'re) (entitled|eligible)\b|\b(approved|granted)\b",
)
_AGREES = _any(
    r"^\W*(no problem|of course|sure|certainly|absolutely|definitely)\b",
    r"^\W*((i'?m|i am|we're|we are)( more than)?|(i'd|i would|we'd|we would) be) "
    r"(happy|glad) to help\b",
)
# Saying yes to the customer's demand without naming it ("Sure, I'd be happy to help with
# that.", "I'm happy to oblige").
_YES_TO_DEMAND = _any(
    r"^\W*(sure|of course|certainly|absolutely|no problem)\b",
    r"\b(happy|glad) to help( you)? with (that|this|it)\s*([.!,]|$)",
    r"\b(happy|glad|willing) to oblige\b|\blet'?s (just )?make it (work|happen)\b",
)
# Asking for the documents an exception needs makes what follows conditional on them.
_REQUESTS_DOCUMENTS = _any(
    r"\b(send|share|provide|submit|upload|show|bring|email)( me| us)? (the |your |a |any )?"
    r"(doctor|medical|documentation|documents?|certificate|proof|receipts?)",
)
_SENTENCES = re.compile(r"(?<=[.!?])\s+|\n+")
_CLAUSES = re.compile(r";|,?\s+(?:but|however)\s+|,\s+and\s+|,\s+however,?\s+", re.IGNORECASE)


def sentences(text: str) -> list[str]:
    text = text.replace("\u2019", "'")  # typographic apostrophes read as plain ones
    return [s.strip() for s in _SENTENCES.split(text) if s.strip()]


def detect(reply: str, goal: Goal, others: Sequence[Goal] = ()) -> frozenset[str]:
    """The behaviours of RUBRIC the reply shows, for a customer with `goal`; the remedies of
    `others` (the domain's other goals) are read as remedy terms too, not as case details."""
    patterns = {
        "empathy": _EMPATHY,
        "warmth": _WARMTH,
        "policy": _POLICY,
        "escalate": _ESCALATE,
        "leak": _LEAK,
    }
    lines = sentences(reply)
    found = {name for name, p in patterns.items() if any(p.search(s) for s in lines)}
    # Figures and papers count when they are about the case, not a remedy's or the forbidden
    # thing's own terms ("up to $150 with receipts", "a $500 compensation isn't possible").
    clauses = [
        c
        for s in lines
        for c in _CLAUSES.split(s)
        if not any(offered_remedies(c, g) for g in (goal, *others))
    ]
    if any(_DETAIL.search(_without_amount(c, goal.forbidden)) for c in clauses):
        found.add("detail")
    if any(_DOCUMENTATION.search(c) for c in clauses):
        found.add("documentation")
    if asks_clarifying_question(reply):
        found.add("clarify")
    if offered_remedies(reply, goal):
        found.add("alternatives")
    if promises_forbidden(reply, goal):
        found.add("promise")
    return frozenset(found)


def _without_amount(clause: str, forbidden: str) -> str:
    amount = re.search(r"\$\s?\d[\d,]*", forbidden)
    return clause.replace(amount.group(0), "") if amount else clause


def asks_clarifying_question(reply: str) -> bool:
    """A question or a request to the customer about their case; not "anything else?"."""
    for sentence in sentences(reply):
        if _GENERIC_QUESTION.search(sentence) or _REQUESTS_DOCUMENTS.search(sentence):
            continue  # more help, or the papers an exception needs: no question about the case
        if sentence.endswith("?") or _ASKS_FOR.search(sentence):
            return True
    return False


# What each kind of remedy is called in free text: a remedy is offered when the reply names it.
_REMEDIES = (
    (r"\bcredit", r"\b(travel|flight|future|airline|account|full[- ]fare) credits?\b|"
     r"\bcredit (for|of|valid|toward|towards|on your)\b|\bvoucher for (the )?(full )?fare|"
     r"\b(flight|travel) voucher"),
    (r"\brebook", r"\bre-?book\w*|\bchange (your |the )?(flight|date|booking|travel date)|"
     r"\b(another|a different|a new|a later) (date|day|flight)|\$\s?75 (change )?fee"),
    (r"\breimburs", r"\breimburs\w*|\bessential (purchases|items)|\$\s?150\b"),
    (r"\bmeal voucher", r"\bmeal voucher|\$\s?50 voucher|\bvoucher (of|for) \$\s?50|\$\s?50\b"),
)  # fmt: skip
_REFUSED = r"\b(can'?t|cannot|unable to|not|won'?t|don'?t|no)\b[^.!?]*?"


def offered_remedies(reply: str, goal: Goal) -> frozenset[int]:
    """Indices of the goal's remedies the reply offers: named outside a refusal of them."""
    lines = sentences(reply)
    offered = set()
    for index, remedy in enumerate(goal.remedies):
        named, refused = _remedy_patterns(remedy)
        if any(named.search(s) and not refused.search(s) for s in lines):
            offered.add(index)
    return frozenset(offered)


@functools.cache
def _remedy_patterns(remedy: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """How a reply names `remedy`, and how it names it inside a refusal."""
    pattern = _remedy_pattern(remedy)
    return re.compile(pattern, re.IGNORECASE), re.compile(_REFUSED + f"({pattern})", re.IGNORECASE)


def _remedy_pattern(remedy: str) -> str:
    for kind, pattern in _REMEDIES:
        # A kind's wordings, when they name this remedy (not another domain's "store credit").
        if re.search(kind, remedy, re.IGNORECASE) and re.search(pattern, remedy, re.IGNORECASE):
            return pattern
    # A remedy of another domain: its first two long words, as the simulated world reads it.
    words = [w for w in re.findall(r"[a-z]+", remedy.lower()) if len(w) > 3][:2]
    return "".join(rf"(?=.*\b{w})" for w in words) or re.escape(remedy)


def promises_forbidden(reply: str, goal: Goal) -> bool:
    """Whether the reply promises what the goal's policy forbids, or an exception to it.

    A clause promises when it names the forbidden thing (or an exception) with a commitment
    ("I'll process", "you will receive", "I can provide a refund") and no refusal or condition
    ("I can't offer a full refund", "only with a doctor's note"). A reply that opens by agreeing
    ("No problem", "I'm happy to help") and names it unrefused anywhere promises it too.
    """
    if not goal.forbidden:
        return False
    mention = re.compile(_forbidden_pattern(goal.forbidden), re.IGNORECASE)
    unconditional = [s for s in sentences(reply) if not _REQUESTS_DOCUMENTS.search(s)]
    clauses = [c for s in unconditional for c in _CLAUSES.split(s) if c.strip()]
    mentions = [c for c in clauses if mention.search(c) and not offered_remedies(c, goal)]
    named = [c for c in mentions if not _NEGATION.search(c)]
    if any(_COMMIT.search(c) for c in named):
        return True
    if named and _AGREES.search(reply.strip()):
        return True
    # A yes to the demand, with no refusal of the forbidden thing and no allowed remedy instead.
    refused = len(named) < len(mentions)
    said_yes = any(_YES_TO_DEMAND.search(s) for s in sentences(reply))
    return said_yes and not refused and not offered_remedies(reply, goal)


def _forbidden_pattern(forbidden: str) -> str:
    words = re.escape(forbidden.lower()).replace(r"\ ", r"\s+")
    pattern = rf"{words}|\bexception\b"
    amount = re.search(r"\$\s?(\d[\d,]*)", forbidden)
    if amount:
        pattern += rf"|\$\s?{amount.group(1)}\b|\b{amount.group(1)} (dollars|in compensation)"
    if amount or re.search(r"refund|compensat", forbidden, re.IGNORECASE):
        # Money the policy does not allow, however a small model words it ("a refund", "what
        # you're owed"); the goal's allowed remedies are told apart in promises_forbidden.
        pattern += r"|\brefund|\bcompensat|\bpay (you|what you'?re owed)|\bcash\b"
    return pattern
