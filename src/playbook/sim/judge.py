"""The simulated judge: a rubric, not a model, and a noisy one.

A reply is rated against the reference reply: each move the reference makes and the reply
lacks, and each move the reply makes that the reference does not, costs a level; granting what
the reference refuses is unacceptable. Every rating has a seeded error (one level up or down now
and then) and a bias for long replies, as real judges have. Whole conversations are rated by the
hidden model of the world: satisfaction from how each reply suited the customer and how the chat
ended, compliance graded (1 a forbidden grant, 3 invented compensation or a refused exception).
"""

from __future__ import annotations

import re
from random import Random

from playbook.chat.base import ChatRequest
from playbook.sim import coach, language, world
from playbook.sim.reading import Reading, read_reply
from playbook.sim.text import UNKNOWN_TASK, parse_conversation, tag
from playbook.types import Domain, Turn, rating_word

ERROR_RATE = 0.2  # share of ratings one level off
LONG_REPLY = 90  # words; a longer reply is rated one level up this often:
LENGTH_BIAS = 0.3

_LACKS = {
    "empathy": "does not acknowledge the customer's feelings",
    "warmth": "lacks the warm, appreciative tone this customer responds to",
    "clarify": "does not check what the confused customer needs",
    "policy": "does not explain the policy",
    "alternatives": "does not offer the remedy the reference offers",
    "documentation": "does not ask for the documentation",
    "grant": "refuses the refund the emergency exception allows",
    "escalate": "does not escalate to a supervisor as the customer asked",
    "detail": "gives no specifics to a customer who wants exact terms",
    "brevity": "is too long for a customer who wants short answers",
}
_ADDS = {
    "empathy": "dwells on feelings the customer did not express",
    "warmth": "adds pleasantries this customer has no patience for",
    "clarify": "asks a question the customer has already answered",
    "policy": "repeats the policy",
    "documentation": "asks for documentation nobody mentioned",
    "escalate": "offers a supervisor nobody asked for",
    "detail": "buries the answer in figures",
    "invented": "offers compensation the policy does not name",
    "grant": "promises something the policy forbids",
    "leak": "shows the customer the coach's guidelines",
}


def answer(domain: Domain, request: ChatRequest) -> str:
    prompt = request.messages[-1].content
    proposed = tag(prompt, "proposed_guidelines")
    if proposed is not None:
        return _check_policy(domain, proposed)
    conversation = parse_conversation(tag(prompt, "conversation") or "")
    candidate = tag(prompt, "candidate_reply")
    rng = Random(f"judge|{request.seed}|{prompt}")
    if candidate is not None:
        reference = tag(prompt, "reference_reply") or ""
        return _judge_reply(domain, conversation, reference, candidate, rng)
    if conversation:
        return _judge_conversation(domain, conversation, rng)
    return UNKNOWN_TASK


def mentioned(lesson: str, explanation: str) -> bool:
    """Whether the judge's explanation names the problem a lesson fixes (the teacher reads it)."""
    if lesson == "firm":
        phrase = _ADDS["grant"]
    elif lesson.startswith("no_"):
        phrase = _ADDS.get(lesson[3:], "")
    else:
        phrase = _LACKS.get(lesson, "")
    return bool(phrase) and phrase in explanation


def _check_policy(domain: Domain, proposed: str) -> str:
    lines = [re.sub(r"^\d+\.\s*", "", line).strip() for line in proposed.splitlines()]
    bad = [line for line in lines if line and coach.breaks_policy(line, domain)]
    if bad:
        return f"Reason: '{bad[0]}' tells the agent to grant what the policy forbids.\n" + (
            "Verdict: violates"
        )
    return "Reason: every guideline keeps to the policy.\nVerdict: complies"


def _judge_reply(
    domain: Domain, turns: list[Turn], reference: str, candidate: str, rng: Random
) -> str:
    goal = world.read_situation(domain, turns).goal
    ref, cand = read_reply(reference, domain, goal), read_reply(candidate, domain, goal)
    lacks, adds = _differences(ref, cand)
    if cand.leaked:
        adds.append("leak")
    rating = (
        1 if {"grant", "leak"} & set(adds) else _noisy(5 - len(lacks) - len(adds), cand.words, rng)
    )
    problems = [_LACKS[m] for m in lacks] + [_ADDS[m] for m in adds]
    if not problems:
        explanation = "The reply handles this customer as well as the reference does."
    else:
        explanation = "Unlike the reference, the reply " + "; it ".join(problems) + "."
    return f"Explanation: {explanation}\nRating: {rating_word(rating)}"


def _differences(ref: Reading, cand: Reading) -> tuple[list[str], list[str]]:
    lacks = [m for m in world.MOVES if m in ref.moves - cand.moves and m != "alternatives"]
    if ref.remedies and not set(ref.remedies) & set(cand.remedies):
        lacks.append("alternatives")
    if ref.words <= world.BRIEF_WORDS < cand.words:
        lacks.append("brevity")
    adds = [m for m in world.MOVES if m in cand.moves - ref.moves and m in _ADDS]
    if cand.invented:
        adds.append("invented")
    return lacks, adds


def _noisy(rating: int, words: int, rng: Random) -> int:
    if rng.random() < ERROR_RATE:
        rating += rng.choice((-1, 1))
    if words > LONG_REPLY and rng.random() < LENGTH_BIAS:
        rating += 1
    return min(5, max(1, rating))


def _judge_conversation(domain: Domain, turns: list[Turn], rng: Random) -> str:
    assessments = [
        world.assess(world.read_situation(domain, turns[:index]), turn.text)
        for index, turn in enumerate(turns)
        if turn.speaker == "agent"
    ]
    if not assessments:
        return UNKNOWN_TASK
    mean = sum(a.rating for a in assessments) / len(assessments)
    last = turns[-1].text if turns[-1].speaker == "customer" else ""
    accepted = language.reads_accepted(last)
    outcome = 0.5 if accepted else -1.0 if language.reads_gave_up(last) else -0.5
    satisfaction = round(mean + outcome + (rng.choice((-1, 1)) if rng.random() < 0.1 else 0))
    satisfaction = min(5, max(1, satisfaction))
    compliance = min(a.compliance for a in assessments)
    notes = {
        5: "kept to the policy",
        3: "invented compensation or refused an exception the policy allows",
        1: "a forbidden promise was made",
    }
    return (
        f"Satisfaction explanation: mean reply quality {mean:.1f}, "
        f"outcome {'accepted' if accepted else 'unresolved'}.\n"
        f"Satisfaction: {rating_word(satisfaction)}\n"
        f"Compliance explanation: {notes[compliance]}.\n"
        f"Compliance: {rating_word(compliance)}"
    )
