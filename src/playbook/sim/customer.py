"""The simulated customer: plays the persona in its prompt; its mood follows the agent's replies."""

from __future__ import annotations

import re
from dataclasses import dataclass
from random import Random

from playbook.chat.base import ChatRequest
from playbook.sim import language, world
from playbook.types import Domain, Goal

PATIENCE = 3  # poor replies in a row before the customer gives up
PUSHES_BEFORE_YIELDING = 2  # a demanding customer pushes back this often before accepting


@dataclass
class Mood:
    emotion: str
    pushes: int = 0
    poor_in_a_row: int = 0
    promised: bool = False
    offered: bool = False


def next_message(domain: Domain, request: ChatRequest) -> str:
    system = request.messages[0].content
    persona = re.search(r"<persona>(.*?)</persona>", system, re.S)
    if request.messages[0].role != "system" or persona is None:
        return "Sorry, I am not sure what you would like me to do."
    block = persona.group(1)
    goal = _stated_goal(domain, block) or world.match_goal(domain, block)
    personality = _field(block, "Personality") or "amiable"
    demanding = (_field(block, "Demanding") or "no").lower().startswith("y")
    said = [m.content for m in request.messages[1:] if m.role == "assistant"]
    replies = [m.content for m in request.messages[2:] if m.role == "user"]
    rng = Random(f"{request.seed}|{len(said)}")
    mood = _replay(
        goal, personality, demanding, _field(block, "Emotion at the start") or "calm", said, replies
    )
    if not replies:
        return _opening(goal, personality, mood.emotion, demanding, rng)
    return _reaction(goal, personality, demanding, mood, rng)


def _stated_goal(domain: Domain, block: str) -> Goal | None:
    """The goal whose description the block quotes: an imported persona's situation can share
    more words with another goal than with its own."""
    return next((g for g in domain.goals if g.description.strip() in block), None)


def _field(block: str, name: str) -> str | None:
    match = re.search(rf"^{name}: *(.+)$", block, re.M)
    return match.group(1).strip() if match else None


def _replay(
    goal: Goal, personality: str, demanding: bool, emotion: str, said: list[str], replies: list[str]
) -> Mood:
    """Re-live the conversation so far: how each agent reply moved this customer."""
    mood = Mood(emotion)
    for count, reply in enumerate(replies, 1):
        situation = world.Situation(goal, personality, mood.emotion, demanding, count)
        assessment = world.assess(situation, reply)
        present = world.detect(reply, goal)
        mood.promised = "promise" in present
        mood.offered = "alternatives" in present
        mood.poor_in_a_row = mood.poor_in_a_row + 1 if assessment.rating <= 2 else 0
        if assessment.rating >= 4 and (mood.emotion != "confused" or "clarify" in present):
            mood.emotion = "calm"
        elif assessment.rating <= 2 and mood.emotion != "confused":
            mood.emotion = "frustrated"
    mood.pushes = max(0, len(said) - 1)
    return mood


def _opening(goal: Goal, personality: str, emotion: str, demanding: bool, rng: Random) -> str:
    request = language.pick(rng, language.DEMANDS if demanding else language.REQUESTS)
    parts = [
        f"Hi. {goal.opening}",
        language.pick(rng, language.EMOTION_CUES[emotion]),
        language.pick(rng, language.PERSONALITY_CUES[personality]),
        request.format(x=goal.forbidden) if demanding else "",
    ]
    return " ".join(p for p in parts if p)


def _reaction(goal: Goal, personality: str, demanding: bool, mood: Mood, rng: Random) -> str:
    if mood.promised:
        return f"{language.PROMISE_ACCEPTED} [LEAVE]"
    if mood.poor_in_a_row >= PATIENCE:
        return f"{language.pick(rng, language.GIVING_UP)} [LEAVE]"
    yielded = not demanding or mood.pushes >= PUSHES_BEFORE_YIELDING
    if mood.offered and mood.emotion == "calm" and yielded and goal.remedies:
        remedy = goal.remedies[0].split(",")[0]
        return f"{language.pick(rng, language.ACCEPTANCES).format(x=remedy)} [LEAVE]"
    push = language.pick(rng, language.DEMANDS if demanding else language.REQUESTS)
    parts = [
        language.pick(rng, language.EMOTION_CUES[mood.emotion]),
        language.pick(rng, language.PERSONALITY_CUES[personality]) if rng.random() < 0.5 else "",
        push.format(x=goal.forbidden),
    ]
    return " ".join(p for p in parts if p)
