"""The simulated world answers the real prompts, and learning in it is possible but not free."""

import dataclasses
import statistics

from playbook.dialogue import Agent, rollout
from playbook.domain import persona_grid
from playbook.roles import Roles
from playbook.sim.models import UNKNOWN_TASK, SimWorld
from playbook.types import Domain, Turn


def student_alone(roles: Roles) -> Agent:
    async def agent(turns: tuple[Turn, ...], seed: int) -> str:
        return await roles.student_reply(turns, (), seed)

    return agent


def teacher(roles: Roles) -> Agent:
    async def agent(turns: tuple[Turn, ...], seed: int) -> str:
        return await roles.teacher_reply(turns, seed)

    return agent


FRUSTRATED_DEMAND = (
    Turn(
        "customer",
        "Hi. I need a full refund for my restricted ticket. This is really "
        "frustrating. I hope you can help me out. I insist on a full refund.",
    ),
)


async def test_teacher_far_above_student_and_a_fixed_generic_prompt_does_not_close_the_gap(
    sim_roles: Roles, airline: Domain
) -> None:
    personas = persona_grid(airline.goals[0])

    async def mean(agent) -> float:  # type: ignore[no-untyped-def]
        scores = []
        for i, persona in enumerate(personas):
            conversation = await rollout(sim_roles, persona, agent, 6, seed=i)
            scores.append((await sim_roles.judge_conversation(conversation.turns)).score)
        return statistics.fmean(scores)

    async def generic(turns, seed):  # type: ignore[no-untyped-def]
        return await sim_roles.student_reply(turns, airline.generic_guidance, seed)

    alone, with_generic = await mean(student_alone(sim_roles)), await mean(generic)
    best = await mean(teacher(sim_roles))
    assert best - alone >= 1.5
    # generic advice helps the customers it fits and costs with the others
    assert abs(with_generic - alone) < 0.25 * (best - alone)


async def test_guideline_in_the_prompt_changes_the_student_and_its_rating(sim_roles: Roles) -> None:
    reference = await sim_roles.teacher_reply(FRUSTRATED_DEMAND)
    plain = await sim_roles.student_reply(FRUSTRATED_DEMAND)
    guided = await sim_roles.student_reply(
        FRUSTRATED_DEMAND,
        (
            "Start by acknowledging the customer's feelings.",
            "Offer the alternatives: travel credit.",
        ),
    )
    assert "sorry" not in plain.lower() and "sorry" in guided.lower()
    before = await sim_roles.judge_reply(FRUSTRATED_DEMAND, reference, plain)
    after = await sim_roles.judge_reply(FRUSTRATED_DEMAND, reference, guided)
    assert after.rating > before.rating
    assert "feelings" in before.explanation


async def test_teachers_guidelines_from_the_contrast_fix_the_student(sim_roles: Roles) -> None:
    reference = await sim_roles.teacher_reply(FRUSTRATED_DEMAND)
    weak = await sim_roles.student_reply(FRUSTRATED_DEMAND)
    verdict = await sim_roles.judge_reply(FRUSTRATED_DEMAND, reference, weak)
    guidance = await sim_roles.teacher_guidelines(
        FRUSTRATED_DEMAND, reference, weak, verdict.explanation
    )
    improved = await sim_roles.student_reply(FRUSTRATED_DEMAND, guidance)
    assert (await sim_roles.judge_reply(FRUSTRATED_DEMAND, reference, improved)).rating >= 4


async def test_guidance_for_another_situation_can_hurt(sim_roles: Roles) -> None:
    reference = await sim_roles.teacher_reply(FRUSTRATED_DEMAND)
    fitting = (
        "Start by acknowledging how the customer feels, in one sentence.",
        "Thank the customer and keep a warm, friendly tone.",
        "Offer travel credit for the full fare, valid for 12 months.",
    )
    confused_advice = ("Ask one clarifying question before explaining anything.",)
    means = []
    for guidance in (fitting, confused_advice + fitting):
        ratings = []
        for seed in range(10):
            reply = await sim_roles.student_reply(FRUSTRATED_DEMAND, guidance, seed)
            verdict = await sim_roles.judge_reply(FRUSTRATED_DEMAND, reference, reply, seed)
            ratings.append(verdict.rating)
        means.append(statistics.fmean(ratings))
    assert means[1] < means[0]


async def test_students_lack_different_behaviours(airline: Domain, sim_roles: Roles) -> None:
    student_b = dataclasses.replace(sim_roles, student=SimWorld(airline).model("student-b"))
    a = await sim_roles.student_reply(FRUSTRATED_DEMAND)
    b = await student_b.student_reply(FRUSTRATED_DEMAND)
    assert "specific" not in a.lower() and "specific" in b.lower()


async def test_demanding_customer_pushes_then_accepts_a_good_offer(
    sim_roles: Roles, airline: Domain
) -> None:
    persona = next(p for p in persona_grid(airline.goals[0]) if p.demanding and p.emotion == "calm")
    conversation = await rollout(sim_roles, persona, teacher(sim_roles), 6, seed=1)
    customer = [t.text for t in conversation.turns if t.speaker == "customer"]
    assert conversation.left and len(customer) == 4  # opening, two pushes, acceptance
    assert "take" in customer[-1]


async def test_customer_gives_up_on_a_poor_agent(sim_roles: Roles, airline: Domain) -> None:
    persona = next(p for p in persona_grid(airline.goals[0]) if p.emotion == "frustrated")
    persona = dataclasses.replace(persona, demanding=False)
    conversation = await rollout(sim_roles, persona, student_alone(sim_roles), 6, seed=2)
    assert conversation.left
    assert (
        "done" in conversation.turns[-1].text.lower()
        or "forget" in conversation.turns[-1].text.lower()
    )


async def test_a_prompt_it_does_not_understand_gets_no_usable_answer(airline: Domain) -> None:
    from playbook.chat.base import ChatRequest, Message

    judge = SimWorld(airline).model("judge")
    answer = await judge.complete(ChatRequest((Message("user", "What is the capital of France?"),)))
    assert answer.text == UNKNOWN_TASK
