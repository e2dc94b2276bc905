"""The role tasks: render the prompt file, call the role's model, parse the answer (one retry)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import jinja2

from playbook.chat.base import ChatModel, ChatRequest, Message
from playbook.config import RetrievalConfig
from playbook.errors import UserError
from playbook.fence import fence
from playbook.parse import (
    MAX_GUIDELINES,
    CustomerMessage,
    ParseError,
    PolicyVerdict,
    ProposedPersona,
    parse_customer,
    parse_guidelines,
    parse_personas,
    parse_policy_verdict,
    parse_reply,
    parse_verdict,
)
from playbook.types import (
    EMOTIONS,
    PERSONALITIES,
    ConversationVerdict,
    Domain,
    Guidance,
    Persona,
    Scenario,
    Turn,
    Verdict,
    conversation_text,
)

T = TypeVar("T")
PROMPTS = Path(__file__).parent / "prompts"


class RoleOutputError(UserError):
    """A role's model gave no usable answer, even when told what was wrong."""

    def __init__(self, role: str, model: str, problem: str) -> None:
        super().__init__(f"the {role} ({model}) gave no usable answer: {problem}")
        self.role, self.model, self.problem = role, model, problem


INJECT = RetrievalConfig().inject  # the config's default


@dataclass(frozen=True)
class Example:
    """A teacher's reply in another conversation, shown to the student (response teaching)."""

    conversation: str
    reply: str


def prompt_environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(PROMPTS),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        keep_trailing_newline=False,
        autoescape=False,  # prompts are plain text, not HTML
    )
    env.filters["fence"] = fence
    return env


@dataclass(frozen=True)
class Roles:
    """The four roles' models for one domain. Every task is one method."""

    domain: Domain
    student: ChatModel
    teacher: ChatModel
    customer: ChatModel
    judge: ChatModel
    prompts: jinja2.Environment
    inject: str = INJECT  # where the student's guidance goes: "system" or "last_message"

    def render(self, template: str, **values: object) -> str:
        return self.prompts.get_template(template).render(domain=self.domain, **values).strip()

    def agent_messages(
        self,
        turns: Sequence[Turn],
        guidance: Guidance = (),
        inject: str = INJECT,
        examples: Sequence[Example] = (),
    ) -> tuple[Message, ...]:
        """The agent's prompt: system (role, policy, maybe guidance or examples) + conversation."""
        in_system = guidance if inject == "system" else ()
        system = self.render("agent_system.j2", guidance=in_system, examples=examples)
        messages = [Message("system", system)]
        messages += [
            Message("user" if t.speaker == "customer" else "assistant", fence(t.text))
            for t in turns
        ]
        if guidance and inject == "last_message":
            last = self.render(
                "guidance_in_message.j2", message=fence(turns[-1].text), guidance=guidance
            )
            messages[-1] = Message("user", last)
        return tuple(messages)

    async def student_reply(
        self,
        turns: Sequence[Turn],
        guidance: Guidance = (),
        seed: int = 0,
        examples: Sequence[Example] = (),
    ) -> str:
        """The student's next message, coached by guidance or (response teaching) examples."""
        messages = self.agent_messages(turns, guidance, self.inject, examples)
        return await ask(self.student, "student", messages, parse_reply, seed)

    async def teacher_reply(self, turns: Sequence[Turn], seed: int = 0) -> str:
        return await ask(self.teacher, "teacher", self.agent_messages(turns), parse_reply, seed)

    async def customer_message(
        self, persona: Persona, turns: Sequence[Turn], seed: int
    ) -> CustomerMessage:
        goal = self.domain.goal(persona.goal)
        messages = [
            Message("system", self.render("customer_system.j2", persona=persona, goal=goal))
        ]
        messages.append(Message("user", self.render("customer_start.j2")))
        # The customer model plays the assistant side: its own messages are "assistant".
        messages += [
            Message("assistant" if t.speaker == "customer" else "user", fence(t.text))
            for t in turns
        ]
        return await ask(self.customer, "customer", tuple(messages), parse_customer, seed)

    async def judge_reply(
        self, turns: Sequence[Turn], reference: str, candidate: str, seed: int | None = None
    ) -> Verdict:
        prompt = self.render(
            "judge_reply.j2",
            conversation=fence(conversation_text(turns)),
            reference=fence(reference),
            candidate=fence(candidate),
        )
        return await ask(self.judge, "judge", (Message("user", prompt),), parse_verdict, seed)

    async def judge_conversation(
        self, turns: Sequence[Turn], seed: int | None = None
    ) -> ConversationVerdict:
        prompt = self.render("judge_conversation.j2", conversation=fence(conversation_text(turns)))
        return await ask(self.judge, "judge", (Message("user", prompt),), _parse_two_axes, seed)

    async def teacher_guidelines(
        self,
        turns: Sequence[Turn],
        reference: str,
        reply: str,
        explanation: str,
        seed: int | None = None,
    ) -> Guidance:
        prompt = self.render(
            "teacher_guidelines.j2",
            conversation=fence(conversation_text(turns)),
            reference=fence(reference),
            reply=fence(reply),
            explanation=fence(explanation),
        )
        messages = (Message("user", prompt),)
        return await ask(self.teacher, "teacher", messages, parse_guidelines, seed)

    async def policy_check(self, guidance: Guidance) -> PolicyVerdict:
        """The judge's check that following `guidance` would not break the domain policy."""
        prompt = self.render("judge_policy.j2", guidance=guidance)
        return await ask(self.judge, "judge", (Message("user", prompt),), parse_policy_verdict)

    async def teacher_merge(self, current: Guidance, new: Guidance) -> Guidance:
        if not current:
            return new
        prompt = self.render("teacher_merge.j2", current=current, new=new, limit=MAX_GUIDELINES)
        return await ask(self.teacher, "teacher", (Message("user", prompt),), parse_guidelines)

    async def teacher_personas(
        self, weak: Sequence[tuple[Scenario, Verdict]], count: int
    ) -> list[ProposedPersona]:
        """New customers like those of the scenarios the student was rated lowest on."""
        prompt = self.render(
            "teacher_personas.j2",
            weak=weak,
            count=count,
            personalities=PERSONALITIES,
            emotions=EMOTIONS,
        )
        goals = [goal.name for goal in self.domain.goals]
        messages = (Message("user", prompt),)
        return await ask(self.teacher, "teacher", messages, lambda t: parse_personas(t, goals))


def _parse_two_axes(text: str) -> ConversationVerdict:
    return ConversationVerdict(
        satisfaction=parse_verdict(text, "satisfaction"),
        compliance=parse_verdict(text, "compliance"),
    )


async def ask(
    model: ChatModel,
    role: str,
    messages: tuple[Message, ...],
    parse: Callable[[str], T],
    seed: int | None = None,
) -> T:
    """Call the model and parse; on an unusable answer ask once more, saying what was wrong."""
    completion = await model.complete(ChatRequest(messages, seed=seed))
    try:
        return parse(completion.text)
    except ParseError as first:
        retry = (
            *messages,
            Message("assistant", completion.text),
            Message(
                "user", f"Your answer could not be used: {first} Answer again in the form asked."
            ),
        )
        again = await model.complete(ChatRequest(retry, seed=seed))
        try:
            return parse(again.text)
        except ParseError as second:
            raise RoleOutputError(role, model.name, str(second)) from None
