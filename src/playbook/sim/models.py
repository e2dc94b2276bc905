"""The simulated roles as ChatModels: they read the project's real prompts and answer in kind."""

from __future__ import annotations

import re
from random import Random

from playbook.chat.base import ChatModel, ChatRequest, Completion, InProcess
from playbook.config import did_you_mean
from playbook.parse import MAX_GUIDELINES
from playbook.sim import coach, judge, world
from playbook.sim.personas import propose_personas
from playbook.sim.reading import Reading, read_reply
from playbook.sim.text import UNKNOWN_TASK, agent_turns, guidance_in, parse_conversation, tag
from playbook.types import Domain, Goal, Usage

# What each simulated student does without being told (DESIGN.md section 5).
NATIVE = {
    "student": frozenset({"policy"}),
    "student-b": frozenset({"policy", "warmth", "detail"}),
}
CAVES_UNDER_PRESSURE = {"student": True, "student-b": False}
# From example replies (response teaching) a weak student picks up tone, not strategy.
IMITATED_FROM_EXAMPLES = frozenset({"empathy", "warmth"})
MAX_LESSONS = 5  # the teacher's guideline prompt asks for at most 5


class SimWorld:
    """Builds the simulated role models for one domain: `world.model("student")`."""

    def __init__(self, domain: Domain) -> None:
        self.domain = domain

    def names(self) -> list[str]:
        return [*NATIVE, "teacher", "customer", "judge", *FAKE_TEACHERS]

    def model(self, name: str) -> ChatModel:
        if name in NATIVE:
            return SimChat(name, lambda r: _student(self.domain, name, r))
        if name in FAKE_TEACHERS:
            fake = FAKE_TEACHERS[name]
            return SimChat(name, lambda r: _fake_teacher(self.domain, fake, r))
        answer = {"teacher": _teacher, "customer": _customer, "judge": judge.answer}.get(name)
        if answer is None:
            known = [f"sim:{n}" for n in self.names()]
            hint = did_you_mean(f"sim:{name}", known, " (", ")")
            raise ValueError(f"no simulated model sim:{name}{hint}; known: {', '.join(known)}")
        domain = self.domain
        return SimChat(name, lambda r: answer(domain, r))


class SimChat(InProcess):
    def __init__(self, role: str, answer: object) -> None:
        self._name = f"sim:{role}"
        self._answer = answer

    async def complete(self, request: ChatRequest) -> Completion:
        text = self._answer(request)  # type: ignore[operator]
        prompt_words = sum(len(m.content.split()) for m in request.messages)
        usage = Usage(input_tokens=prompt_words * 4 // 3, output_tokens=len(text.split()) * 4 // 3)
        return Completion(text=text, usage=usage)


def _rng(request: ChatRequest, *salt: object) -> Random:
    return Random(f"{request.seed}|{len(request.messages)}|{salt}")


def _student(domain: Domain, name: str, request: ChatRequest) -> str:
    turns = agent_turns(request.messages)
    if not turns or "<policy>" not in request.messages[0].content:
        return UNKNOWN_TASK
    situation = world.read_situation(domain, turns)
    rng = _rng(request, name)
    taught = coach.adopt(guidance_in(request.messages), domain, situation.goal, rng)
    imitated = _imitated(request.messages[0].content, situation) & IMITATED_FROM_EXAMPLES
    moves = (NATIVE[name] | taught.add | imitated) - taught.drop
    caves = CAVES_UNDER_PRESSURE[name] and situation.demanding and not taught.firm
    if caves and situation.customer_turns >= 2:
        moves = (moves - {"policy"}) | {"grant"}
    remedies = taught.remedies
    if taught.own_remedies_only:
        remedies = tuple(r for r in remedies if r in situation.goal.remedies)
    return world.compose_reply(
        situation, set(moves), rng, remedies, brief=taught.brief, verbose=not taught.brief
    )


def _imitated(system: str, situation: world.Situation) -> frozenset[str]:
    """Moves shown in the example replies of the prompt, if any."""
    block = tag(system, "examples") or ""
    replies = re.findall(r"<reply>\n?(.*?)\n?</reply>", block, re.S)
    readings = [read_reply(reply, situation.domain, situation.goal) for reply in replies]
    return frozenset().union(*(r.moves for r in readings))


def _teacher(domain: Domain, request: ChatRequest) -> str:
    last = request.messages[-1].content
    if "<weak_reply>" in last:
        return _write_guidelines(domain, last, request)
    if "<current_guidelines>" in last:
        return _merge_guidelines(domain, last)
    if "<weak_scenario " in last:
        return propose_personas(domain, last)
    turns = agent_turns(request.messages)
    if not turns or "<policy>" not in request.messages[0].content:
        return UNKNOWN_TASK
    situation = world.read_situation(domain, turns)
    brief = world.wants_brevity(situation)
    remedies = world.right_remedies(situation)
    rng = _rng(request, "teacher")
    return world.compose_reply(situation, set(world.needs(situation)), rng, remedies, brief=brief)


def _write_guidelines(domain: Domain, prompt: str, request: ChatRequest) -> str:
    """Lessons from the contrast of the good and the weak reply, the ones the judge's
    explanation names first; each in one of the teacher's phrasings."""
    turns = parse_conversation(tag(prompt, "conversation") or "")
    situation = world.read_situation(domain, turns)
    good = read_reply(tag(prompt, "good_reply") or "", domain, situation.goal)
    weak = read_reply(tag(prompt, "weak_reply") or "", domain, situation.goal)
    lessons = _lessons(good, weak)
    if good.words <= world.BRIEF_WORDS < weak.words:
        lessons.append("brevity")
    explanation = (tag(prompt, "judge_explanation") or "").lower()
    lessons.sort(key=lambda lesson: judge.mentioned(lesson, explanation), reverse=True)
    lessons = lessons[:MAX_LESSONS] or sorted(good.moves)[:MAX_LESSONS]
    rng = _rng(request, "lessons")
    lines = [coach.phrase(lesson, situation.goal, good.remedies, rng) for lesson in lessons]
    return "\n".join(f"{i}. {line}" for i, line in enumerate(lines, 1))


def _lessons(good: Reading, weak: Reading) -> list[str]:
    lessons = ["firm"] if "grant" in weak.moves - good.moves else []
    if weak.invented:
        lessons.append("no_invented")
    for move in world.MOVES:
        if move == "alternatives":
            if good.remedies and not set(good.remedies) & set(weak.remedies):
                lessons.append(move)
        elif move in good.moves - weak.moves:
            lessons.append(move)
        elif move in weak.moves - good.moves and move != "grant":
            lessons.append(f"no_{move}")
    return lessons


def _merge_guidelines(domain: Domain, prompt: str) -> str:
    """New lessons first (they answer the latest failure), one guideline per lesson, the newer
    wording winning; a lesson and its opposite: the newer one stays."""
    merged: dict[str, str] = {}
    for block in ("new_guidelines", "current_guidelines"):
        for line in (tag(prompt, block) or "").splitlines():
            text = re.sub(r"^\d+\.\s*", "", line).strip()
            lesson = coach.lesson_of(text)
            opposite = lesson[3:] if lesson.startswith("no_") else f"no_{lesson}"
            if text and lesson not in merged and opposite not in merged:
                merged[lesson] = text
    kept = list(merged.values())[:MAX_GUIDELINES]
    return "\n".join(f"{i}. {text}" for i, text in enumerate(kept, 1))


def _constant(domain: Domain, goal: Goal, rng: Random) -> list[str]:
    return [
        "Acknowledge the customer's feelings.",
        "Explain the policy briefly.",
        "Offer the alternatives the policy allows.",
        f"Never promise a {goal.forbidden}.",
    ]


def _random_templates(domain: Domain, goal: Goal, rng: Random) -> list[str]:
    lessons = rng.sample(sorted(coach.PHRASINGS), rng.randint(2, 5))
    return [coach.phrase(lesson, goal, goal.remedies, rng) for lesson in lessons]


def _everything(domain: Domain, goal: Goal, rng: Random) -> list[str]:
    lessons: tuple[str, ...] = ("empathy", "warmth", "clarify", "detail", "brevity", "policy")
    lessons += ("alternatives", "documentation", "escalate", "firm")
    return [coach.phrasing(lesson, 0, goal, goal.remedies) for lesson in lessons]


# Fake learners (controls): the teacher's reference replies, but guidelines that do not come
# from the contrast of replies.
FAKE_TEACHERS = {
    "teacher-constant": _constant,
    "teacher-random": _random_templates,
    "teacher-all": _everything,
}


def _fake_teacher(domain: Domain, write: object, request: ChatRequest) -> str:
    last = request.messages[-1].content
    if "<weak_reply>" not in last and "<current_guidelines>" not in last:
        return _teacher(domain, request)
    turns = parse_conversation(tag(last, "conversation") or "")
    goal = world.read_situation(domain, turns).goal if turns else domain.goals[0]
    lines = write(domain, goal, _rng(request, "fake"))  # type: ignore[operator]
    return "\n".join(f"{i}. {line}" for i, line in enumerate(lines, 1))


def _customer(domain: Domain, request: ChatRequest) -> str:
    from playbook.sim.customer import next_message

    return next_message(domain, request)


__all__ = ["NATIVE", "UNKNOWN_TASK", "SimChat", "SimWorld"]
