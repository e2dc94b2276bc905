"""The simulated roles as ChatModels: they read the project's real prompts and answer in kind."""

from __future__ import annotations

import re
from random import Random

from playbook.chat.base import ChatModel, ChatRequest, Completion, Message
from playbook.sim import coach, language, world
from playbook.sim.personas import propose_personas
from playbook.types import Domain, Turn, Usage, rating_word

# What each simulated student does without being told (DESIGN.md section 5).
NATIVE = {
    "student": frozenset({"policy"}),
    "student-b": frozenset({"policy", "warmth", "detail"}),
}
CAVES_UNDER_PRESSURE = {"student": True, "student-b": False}
# From example replies (response teaching) a weak student picks up tone, not strategy.
IMITATED_FROM_EXAMPLES = frozenset({"empathy", "warmth"})
UNKNOWN_TASK = "Sorry, I am not sure what you would like me to do."


class SimWorld:
    """Builds the simulated role models for one domain: `world.model("student")`."""

    def __init__(self, domain: Domain) -> None:
        self.domain = domain

    def names(self) -> list[str]:
        return [*NATIVE, "teacher", "customer", "judge"]

    def model(self, name: str) -> ChatModel:
        if name in NATIVE:
            return SimChat(name, lambda r: _student(self.domain, name, r))
        answer = {"teacher": _teacher, "customer": _customer, "judge": _judge}.get(name)
        if answer is None:
            known = ", ".join(f"sim:{n}" for n in self.names())
            raise ValueError(f"no simulated model sim:{name}; known: {known}")
        domain = self.domain
        return SimChat(name, lambda r: answer(domain, r))


class SimChat:
    def __init__(self, role: str, answer: object) -> None:
        self._name = f"sim:{role}"
        self._answer = answer

    @property
    def name(self) -> str:
        return self._name

    async def complete(self, request: ChatRequest) -> Completion:
        text = self._answer(request)  # type: ignore[operator]
        prompt_words = sum(len(m.content.split()) for m in request.messages)
        usage = Usage(input_tokens=prompt_words * 4 // 3, output_tokens=len(text.split()) * 4 // 3)
        return Completion(text=text, usage=usage)


def _tag(text: str, name: str) -> str | None:
    match = re.search(rf"<{name}>\n?(.*?)\n?</{name}>", text, re.S)
    return match.group(1).strip() if match else None


def _guidance(messages: tuple[Message, ...]) -> list[str]:
    block = next((b for m in messages if (b := _tag(m.content, "guidelines"))), "")
    return [line[2:].strip() for line in block.splitlines() if line.startswith("- ")]


def _agent_turns(messages: tuple[Message, ...]) -> list[Turn]:
    turns = []
    for m in messages:
        if m.role != "system":
            text = m.content.split("\n\n<guidelines>")[0].strip()
            turns.append(Turn("customer" if m.role == "user" else "agent", text))
    return turns


def parse_conversation(text: str) -> list[Turn]:
    """`Customer: ...` / `Agent: ...` lines back into turns (continuation lines included)."""
    turns: list[Turn] = []
    for line in text.splitlines():
        match = re.match(r"(Customer|Agent): ?(.*)", line)
        if match:
            turns.append(Turn(match.group(1).lower(), match.group(2)))  # type: ignore[arg-type]
        elif turns:
            turns[-1] = Turn(turns[-1].speaker, f"{turns[-1].text}\n{line}")
    return turns


def _rng(request: ChatRequest, *salt: object) -> Random:
    return Random(f"{request.seed}|{len(request.messages)}|{salt}")


def _student(domain: Domain, name: str, request: ChatRequest) -> str:
    turns = _agent_turns(request.messages)
    if not turns or "<policy>" not in request.messages[0].content:
        return UNKNOWN_TASK
    situation = world.read_situation(domain, turns)
    taught = coach.adopt(_guidance(request.messages))
    imitated = _imitated(request.messages[0].content, situation) & IMITATED_FROM_EXAMPLES
    behaviours = (NATIVE[name] | taught.add | imitated) - taught.drop
    caves = CAVES_UNDER_PRESSURE[name] and situation.demanding and not taught.firm
    caves = caves and situation.customer_turns >= 2
    return world.compose_reply(situation, set(behaviours), _rng(request, name), caves, verbose=True)


def _imitated(system: str, situation: world.Situation) -> frozenset[str]:
    """Behaviours shown in the example replies of the prompt, if any."""
    block = _tag(system, "examples") or ""
    replies = re.findall(r"<reply>\n?(.*?)\n?</reply>", block, re.S)
    return frozenset().union(*(world.detect(reply, situation.goal) for reply in replies))


def _teacher(domain: Domain, request: ChatRequest) -> str:
    last = request.messages[-1].content
    if "<weak_reply>" in last:
        return _write_guidelines(domain, last)
    if "<current_guidelines>" in last:
        return _merge_guidelines(last)
    if "<weak_scenario " in last:
        return propose_personas(domain, last)
    turns = _agent_turns(request.messages)
    if not turns or "<policy>" not in request.messages[0].content:
        return UNKNOWN_TASK
    situation = world.read_situation(domain, turns)
    return world.compose_reply(situation, set(world.needs(situation)), _rng(request, "teacher"))


def _write_guidelines(domain: Domain, prompt: str) -> str:
    turns = parse_conversation(_tag(prompt, "conversation") or "")
    good, weak = _tag(prompt, "good_reply") or "", _tag(prompt, "weak_reply") or ""
    situation = world.read_situation(domain, turns)
    weak_has = world.detect(weak, situation.goal)
    lessons = [b for b in world.BEHAVIOURS if b in world.detect(good, situation.goal) - weak_has]
    if "promise" in weak_has:
        lessons.insert(0, "firm")
    if "clarify" in weak_has and "clarify" not in world.needs(situation):
        lessons.append("no_clarify")
    lessons = lessons or ["policy", "alternatives"]
    return "\n".join(f"{i}. {coach.guideline(b, situation)}" for i, b in enumerate(lessons, 1))


def _merge_guidelines(prompt: str) -> str:
    merged: dict[str, str] = {}
    for block in ("current_guidelines", "new_guidelines"):
        for line in (_tag(prompt, block) or "").splitlines():
            text = re.sub(r"^\d+\.\s*", "", line).strip()
            if text:
                merged[coach.lesson_topic(text)] = text  # the newer wording wins
    return "\n".join(f"{i}. {text}" for i, text in enumerate(list(merged.values())[:10], 1))


def _judge(domain: Domain, request: ChatRequest) -> str:
    prompt = request.messages[-1].content
    proposed = _tag(prompt, "proposed_guidelines")
    if proposed is not None:
        return _check_policy(domain, proposed)
    conversation = parse_conversation(_tag(prompt, "conversation") or "")
    candidate = _tag(prompt, "candidate_reply")
    if candidate is not None:
        return _judge_reply(domain, conversation, _tag(prompt, "reference_reply") or "", candidate)
    if conversation:
        return _judge_conversation(domain, conversation)
    return UNKNOWN_TASK


def _check_policy(domain: Domain, proposed: str) -> str:
    forbidden = [goal.forbidden for goal in domain.goals]
    lines = [re.sub(r"^\d+\.\s*", "", line).strip() for line in proposed.splitlines()]
    bad = [line for line in lines if line and coach.breaks_policy(line, forbidden)]
    if bad:
        reason = f"'{bad[0]}' tells the agent to grant what the policy forbids."
        return f"Reason: {reason}\nVerdict: violates"
    return "Reason: every guideline keeps to the policy.\nVerdict: complies"


_PROBLEMS = {
    "empathy": "does not acknowledge the customer's feelings",
    "warmth": "lacks the warm, appreciative tone this customer responds to",
    "clarify": "does not check what the confused customer needs",
    "policy": "does not explain the policy",
    "alternatives": "offers none of the alternatives the policy allows",
    "detail": "gives no specifics to a customer who wants exact terms",
    "brevity": "is too long for a customer who wants short answers",
    "promise": "promises something the policy forbids",
}


def _judge_reply(domain: Domain, turns: list[Turn], reference: str, candidate: str) -> str:
    situation = world.read_situation(domain, turns)
    verdict = world.assess(situation, candidate)
    problems = [_PROBLEMS[p] for p in sorted(verdict.missing | verdict.unwanted) if p in _PROBLEMS]
    if "clarify" in verdict.unwanted:
        problems.append("asks a question the customer has already answered")
    if not problems:
        explanation = "The reply handles this customer as well as the reference does."
    else:
        explanation = "Unlike the reference, the reply " + "; it ".join(problems) + "."
    return f"Explanation: {explanation}\nRating: {rating_word(verdict.rating)}"


def _judge_conversation(domain: Domain, turns: list[Turn]) -> str:
    ratings, promised = [], False
    for index, turn in enumerate(turns):
        if turn.speaker == "agent":
            verdict = world.assess(world.read_situation(domain, turns[:index]), turn.text)
            ratings.append(verdict.rating)
            promised = promised or "promise" in verdict.unwanted
    if not ratings:
        return UNKNOWN_TASK
    last = turns[-1].text if turns[-1].speaker == "customer" else ""
    outcome = (
        0.5 if language.reads_accepted(last) else -1.0 if language.reads_gave_up(last) else -0.5
    )
    satisfaction = min(5, max(1, round(sum(ratings) / len(ratings) + outcome)))
    compliance = 1 if promised else 5
    compliance_note = "a forbidden promise was made" if promised else "kept to the policy"
    return (
        f"Satisfaction explanation: mean reply quality {sum(ratings) / len(ratings):.1f}, "
        f"outcome {'accepted' if outcome > 0 else 'unresolved'}.\n"
        f"Satisfaction: {rating_word(satisfaction)}\n"
        f"Compliance explanation: {compliance_note}.\n"
        f"Compliance: {rating_word(compliance)}"
    )


def _customer(domain: Domain, request: ChatRequest) -> str:
    from playbook.sim.customer import next_message

    return next_message(domain, request)
