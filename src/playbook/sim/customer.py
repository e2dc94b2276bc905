"""The simulated customer: plays the persona in its prompt; its mood follows the agent's replies.

It words its goal, situation, emotion and personality in one of several ways each. It accepts
what it is owed (the remedy it wants, the refund a documented emergency allows, a supervisor
once it asked for one), happily takes a forbidden grant, and gives up after three poor replies.
A customer in an escalating situation asks for a supervisor after two refusals.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from random import Random

from playbook.chat.base import ChatRequest
from playbook.sim import language, world
from playbook.sim.reading import read_reply
from playbook.sim.text import UNKNOWN_TASK
from playbook.types import Domain, Goal, GoalSituation, Turn

PATIENCE = 3  # poor replies in a row before the customer gives up
PUSHES_BEFORE_YIELDING = 2  # a demanding customer pushes back this often before accepting
REFUSALS_BEFORE_ESCALATING = 2


@dataclass(frozen=True)
class Persona:
    goal: Goal
    case: GoalSituation
    personality: str
    emotion: str
    demanding: bool


@dataclass
class Mood:
    emotion: str
    poor_in_a_row: int = 0
    refusals: int = 0
    outcome: str = ""  # "granted", "escalated", "offered" by the last reply


def next_message(domain: Domain, request: ChatRequest) -> str:
    system = request.messages[0].content
    block = re.search(r"<persona>(.*?)</persona>", system, re.S)
    if request.messages[0].role != "system" or block is None:
        return UNKNOWN_TASK
    persona = _read_persona(domain, block.group(1))
    said = [m.content for m in request.messages[1:] if m.role == "assistant"]
    replies = [m.content for m in request.messages[2:] if m.role == "user"]
    rng = Random(f"{request.seed}|{len(said)}")
    if not replies:
        return _opening(persona, rng)
    mood = _replay(domain, persona, said, replies)
    return _reaction(persona, mood, len(said) - 1, rng)  # pushes after the opening


def _read_persona(domain: Domain, block: str) -> Persona:
    goal = _stated_goal(domain, block) or language.match_goal(domain, block)
    case = next((s for s in goal.situations if s.description.strip() in block), language.PLAIN)
    return Persona(
        goal=goal,
        case=case,
        personality=_field(block, "Personality") or "amiable",
        emotion=_field(block, "Emotion at the start") or "calm",
        demanding=(_field(block, "Demanding") or "no").lower().startswith("y"),
    )


def _stated_goal(domain: Domain, block: str) -> Goal | None:
    """The goal whose description the block quotes: an imported persona's situation can share
    more words with another goal than with its own."""
    return next((g for g in domain.goals if g.description.strip() in block), None)


def _field(block: str, name: str) -> str | None:
    match = re.search(rf"^{name}: *(.+)$", block, re.M)
    return match.group(1).strip() if match else None


def _replay(domain: Domain, persona: Persona, said: list[str], replies: list[str]) -> Mood:
    """Re-live the conversation so far: how each agent reply moved this customer."""
    mood = Mood(persona.emotion)
    turns: list[Turn] = []
    for message, reply in zip(said, replies, strict=False):
        turns.append(Turn("customer", message))
        situation = world.read_situation(domain, turns)
        assessment = world.assess(situation, reply)
        turns.append(Turn("agent", reply))
        mood.outcome = _outcome(domain, persona, situation, reply)
        moves = read_reply(reply, domain, persona.goal).moves
        mood.refusals += "policy" in moves and not mood.outcome
        mood.poor_in_a_row = mood.poor_in_a_row + 1 if assessment.rating <= 2 else 0
        if mood.emotion == "confused":
            mood.emotion = "calm" if "clarify" in moves else "confused"
        elif assessment.rating >= 4:
            mood.emotion = "calm"
        elif assessment.rating <= 2:
            mood.emotion = "frustrated"
    return mood


def _outcome(domain: Domain, persona: Persona, situation: world.Situation, reply: str) -> str:
    reading = read_reply(reply, domain, persona.goal)
    if "grant" in reading.moves:
        return "granted"
    if "escalate" in reading.moves and situation.asked_supervisor:
        return "escalated"
    if set(reading.remedies) & set(world.right_remedies(situation)):
        return "offered"
    return ""


def _opening(persona: Persona, rng: Random) -> str:
    goal = persona.goal
    parts = [
        language.pick(rng, ("Hi.", "Hello,", "hey", "")),
        language.pick(rng, goal.all_openings()) if goal.all_openings() else goal.description,
        language.pick(rng, persona.case.cues)
        if persona.case.cues and not persona.case.escalates
        else "",
        language.pick(rng, language.EMOTION_CUES[persona.emotion]),
        language.pick(rng, language.PERSONALITY_CUES[persona.personality]),
        language.pick(rng, language.DEMANDS).format(x=goal.forbidden) if persona.demanding else "",
    ]
    return " ".join(p for p in parts if p)


def _reaction(persona: Persona, mood: Mood, pushes: int, rng: Random) -> str:
    goal, case = persona.goal, persona.case
    if mood.outcome == "granted":
        return f"{language.GRANT_ACCEPTED} [LEAVE]"
    if mood.outcome == "escalated":
        return f"{language.ESCALATION_ACCEPTED} [LEAVE]"
    if mood.poor_in_a_row >= PATIENCE:
        return f"{language.pick(rng, language.GIVING_UP)} [LEAVE]"
    if case.escalates and mood.refusals >= REFUSALS_BEFORE_ESCALATING:
        return language.pick(rng, case.cues)
    yielded = not persona.demanding or pushes >= PUSHES_BEFORE_YIELDING
    if mood.outcome == "offered" and mood.emotion == "calm" and yielded and not case.exception:
        remedy = (case.wants or goal.remedies[0]).split(",")[0]
        return f"{language.pick(rng, language.ACCEPTANCES).format(x=remedy)} [LEAVE]"
    push = language.pick(rng, language.DEMANDS if persona.demanding else language.REQUESTS)
    parts = [
        language.pick(rng, language.EMOTION_CUES[mood.emotion]),
        language.pick(rng, language.PERSONALITY_CUES[persona.personality])
        if rng.random() < 0.5
        else "",
        push.format(x=goal.forbidden),
    ]
    return " ".join(p for p in parts if p)
