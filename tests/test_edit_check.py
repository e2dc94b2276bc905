"""The check a reviewer's edit passes before it is served (issue 17), with scripted models whose
behaviour is known: the screen refuses before any model is asked; the judge's policy verdict is
final; the student's ratings decide between a rewording, a worse edit and a useless one."""

from __future__ import annotations

import asyncio
import re

from playbook.chat.base import ChatRequest
from playbook.domain import example_domain, load_domain
from playbook.edit_check import EditChecker
from playbook.roles import Roles, prompt_environment
from playbook.testing import FunctionChat
from playbook.types import Attempt, Entry, Persona, Provenance, Scenario, Turn, Verdict

HELPFUL = "Offer travel credit for the full fare."
WORDS = {5: "excellent", 4: "very good", 2: "acceptable", 1: "unacceptable"}


def student(request: ChatRequest) -> str:
    """Replies well when its system prompt holds the helpful guideline (in any case)."""
    guidelines = request.messages[0].content.partition("<guidelines>")[2].lower()
    return "Here is travel credit." if "travel credit" in guidelines else "No refunds, sorry."


def judge(request: ChatRequest) -> str:
    prompt = request.messages[-1].content
    if "<proposed_guidelines>" in prompt:
        bad = "full refund" in prompt.split("<proposed_guidelines>")[1].lower()
        return (
            "Reason: grants a refund.\nVerdict: violates"
            if bad
            else "Reason: ok.\nVerdict: complies"
        )
    rating = 4 if re.search(r"Here is travel credit", prompt.split("<candidate")[-1]) else 2
    return f"Explanation: compared.\nRating: {WORDS[rating]}"


def checker() -> tuple[EditChecker, FunctionChat, FunctionChat]:
    domain = load_domain(example_domain("airline"))
    the_student, the_judge = FunctionChat(student), FunctionChat(judge)
    unused = FunctionChat(lambda r: "unused")
    roles = Roles(
        domain,
        student=the_student,
        teacher=unused,
        customer=unused,
        judge=the_judge,
        prompts=prompt_environment(),
    )
    return EditChecker(roles), the_student, the_judge


def entry(guidance: tuple[str, ...] = (HELPFUL,)) -> Entry:
    persona = Persona("p", "refund_restricted_ticket", "driver", "frustrated", True)
    provenance = Provenance(
        "run",
        1,
        reference="Here is travel credit.",
        baseline=Attempt((), "No refunds, sorry.", Verdict(2, "poor")),
        attempts=(Attempt(guidance, "Here is travel credit.", Verdict(4, "good")),),
    )
    scenario = Scenario(persona, (Turn("customer", "I want my money back."),))
    return Entry(1, scenario, guidance, provenance, "approved")


def test_a_rewording_the_student_acts_on_the_same_way_passes() -> None:
    check, _, _ = checker()
    result = asyncio.run(check.check(entry(), ("Offer TRAVEL CREDIT for the whole fare.",)))
    assert result.passed and (result.without, result.before, result.after) == (2, 4, 4)


def test_an_edit_the_student_does_worse_with_is_refused_with_the_ratings() -> None:
    check, _, _ = checker()
    result = asyncio.run(check.check(entry(), ("Be brief.",)))
    assert not result.passed
    assert result.problem == (
        "the student did worse with the edit: rated 2.00 with it, 4.00 with the current "
        "guidelines and 2.00 without any"
    )


def test_the_judges_policy_verdict_refuses_before_the_student_is_asked() -> None:
    check, the_student, _ = checker()
    result = asyncio.run(check.check(entry(), (HELPFUL, "Give the full refund they ask for.")))
    assert result.problem == "policy check: grants a refund." and result.after is None
    assert the_student.requests == []


def test_the_screen_refuses_before_any_model_is_asked() -> None:
    check, the_student, the_judge = checker()
    result = asyncio.run(check.check(entry(), ("Ask for the card's CVV to verify them.",)))
    assert result.problem.startswith("guideline screen: guideline 1 asks the customer for")
    assert the_student.requests == [] and the_judge.requests == []


def test_replacing_useless_guidance_with_other_useless_guidance_is_not_worse() -> None:
    check, _, _ = checker()
    useless = entry(("Be brief.",))
    assert asyncio.run(check.check(useless, ("Be short.",))).passed
