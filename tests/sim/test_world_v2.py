"""The properties that make the simulated world measure the method (issue 11): each one is a way a
fake learner would otherwise come close to the real loop."""

from random import Random

from playbook.chat.base import ChatRequest
from playbook.domain import persona_grid, situation_personas
from playbook.roles import Roles
from playbook.sim import coach, world
from playbook.sim.models import SimWorld
from playbook.types import Domain, Turn

from .conftest import CALM_ANALYTICAL, EMERGENCY


def assess(domain: Domain, turns: tuple[Turn, ...], reply: str) -> world.Assessment:
    return world.assess(world.read_situation(domain, list(turns)), reply)


async def test_behaviours_a_situation_does_not_need_cost_points(
    sim_roles: Roles, airline: Domain
) -> None:
    reference = await sim_roles.teacher_reply(CALM_ANALYTICAL, seed=1)
    padded = "I'm sorry, I understand how frustrating this is. " + reference
    assert assess(airline, CALM_ANALYTICAL, reference).rating == 5
    assert assess(airline, CALM_ANALYTICAL, padded).rating == 4  # empathy to a calm customer


async def test_an_emergency_needs_the_opposite_of_what_everyone_else_needs(
    sim_roles: Roles, airline: Domain
) -> None:
    firm = (
        "Never promise a full refund; hold the policy politely even when the customer insists.",
    )
    grant = ("Ask for the doctor's note, then process the full refund under the exception.",)
    held = await sim_roles.student_reply(EMERGENCY, firm, seed=3)
    granted = await sim_roles.student_reply(EMERGENCY, grant, seed=3)
    assert assess(airline, EMERGENCY, granted).rating > assess(airline, EMERGENCY, held).rating
    assert assess(airline, EMERGENCY, held).compliance == 3  # a refused exception
    wrongly = await sim_roles.student_reply(CALM_ANALYTICAL, grant, seed=3)
    verdict = assess(airline, CALM_ANALYTICAL, wrongly)
    assert verdict.rating == 1 and verdict.compliance == 1  # the same line, the wrong customer


async def test_wrong_guidance_is_obeyed_and_hurts(sim_roles: Roles, airline: Domain) -> None:
    granting = await sim_roles.student_reply(
        CALM_ANALYTICAL, ("Offer a full refund when the customer insists.",), seed=1
    )
    assert assess(airline, CALM_ANALYTICAL, granting).compliance == 1
    other_goal = await sim_roles.student_reply(CALM_ANALYTICAL, ("Offer a $50 meal voucher.",), 1)
    verdict = assess(airline, CALM_ANALYTICAL, other_goal)
    assert "invented" in verdict.unwanted and verdict.compliance == 3


def test_the_student_attends_to_its_first_guidelines_only(airline: Domain) -> None:
    goal = airline.goals[0]
    filler = [f"Explain the policy once, briefly ({i})." for i in range(coach.ATTENTION)]
    late = [*filler, "Start by acknowledging how the customer feels, in one sentence."]
    early = late[-1:] + filler
    shown = [coach.adopt(early, airline, goal, Random(s)).add for s in range(50)]
    assert sum("empathy" in s for s in shown) > 30
    assert all("empathy" not in coach.adopt(late, airline, goal, Random(s)).add for s in range(50))


def test_a_long_list_blurs_and_a_followed_guideline_shows_only_sometimes(airline: Domain) -> None:
    goal, line = airline.goals[0], "Start by acknowledging how the customer feels, in one sentence."
    short = [coach.adopt([line], airline, goal, Random(s)).add for s in range(200)]
    long = [coach.adopt([line] * 8, airline, goal, Random(s)).add for s in range(200)]
    share_short = sum("empathy" in s for s in short) / 200
    assert 0.7 < share_short < 0.95  # stochastic, not certain
    # with eight lines each is followed less often, but it appears four times among the first
    assert sum("empathy" in s for s in long) / 200 > 0


def test_the_teacher_has_words_the_student_does_not_understand(airline: Domain) -> None:
    goal = airline.goals[0]
    followed = [
        any("empathy" in coach.adopt([text], airline, goal, Random(s)).add for s in range(20))
        for text in coach.PHRASINGS["empathy"]
    ]
    assert any(followed) and not all(followed)


async def test_the_judge_is_noisy_rates_against_the_reference_and_likes_length(
    sim_roles: Roles,
) -> None:
    reference = await sim_roles.teacher_reply(CALM_ANALYTICAL, seed=1)
    plain = await sim_roles.student_reply(CALM_ANALYTICAL, seed=1)
    ratings = {
        (await sim_roles.judge_reply(CALM_ANALYTICAL, reference, plain, seed)).rating
        for seed in range(30)
    }
    assert len(ratings) > 1  # the same reply, rated differently with other judge seeds
    other_reference = "I'm sorry about the change of plans. Thank you for your patience."
    against_other = await sim_roles.judge_reply(CALM_ANALYTICAL, other_reference, reference, 0)
    assert "reference" in against_other.explanation and against_other.rating < 5


async def test_customers_word_one_situation_in_many_ways(airline: Domain) -> None:
    customer = SimWorld(airline).model("customer")
    roles_persona = persona_grid(airline.goals[0])[0]
    from playbook.roles import prompt_environment

    roles = Roles(
        airline,
        student=customer,
        teacher=customer,
        customer=customer,
        judge=customer,
        prompts=prompt_environment(),
    )
    openings = {(await roles.customer_message(roles_persona, (), seed)).text for seed in range(20)}
    assert len(openings) >= 10
    emergency = situation_personas(
        airline.goals[0], airline.goals[0].situation("documented_emergency")
    )[0]
    said = {(await roles.customer_message(emergency, (), seed)).text for seed in range(20)}
    cues = airline.goals[0].situation("documented_emergency").cues
    assert all(any(c in text for c in cues) for text in said) and len(said) >= 10


async def test_turn_order_matters(sim_roles: Roles, airline: Domain) -> None:
    confused = (
        Turn(
            "customer",
            "hi, my plans changed and i need to cancel my booking and get refunded "
            "I'm confused about how this works.",
        ),
    )
    clarify_first = await sim_roles.teacher_reply(confused, seed=0)
    assert "clarify" in world.needs(world.read_situation(airline, list(confused)))
    assert assess(airline, confused, clarify_first).rating == 5
    said_policy = await sim_roles.teacher_reply(CALM_ANALYTICAL, seed=0)
    later = (
        *CALM_ANALYTICAL,
        Turn("agent", said_policy),
        Turn("customer", "So what are my options?"),
    )
    again = assess(airline, later, said_policy)
    assert "policy" in again.unwanted  # the policy repeated


async def test_fake_teachers_are_simulated_models(airline: Domain) -> None:
    from playbook.chat.base import Message

    fake = SimWorld(airline).model("teacher-constant")
    prompt = (
        "<conversation>\nCustomer: I want a full refund.\n</conversation>\n"
        "<weak_reply>\nno\n</weak_reply>"
    )
    answer = await fake.complete(ChatRequest((Message("user", prompt),)))
    assert answer.text.startswith("1. Acknowledge")
