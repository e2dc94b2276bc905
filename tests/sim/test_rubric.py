"""The simulated judge's rubric on free text: real SmolLM2-135M replies labelled by reading them
(tests/data/smollm2_replies.jsonl), and the cases that decide a rating (negated promises)."""

from __future__ import annotations

import json
from pathlib import Path
from random import Random

import pytest

from playbook.domain import load_domain
from playbook.roles import Roles
from playbook.sim import world
from playbook.sim.reading import read_reply
from playbook.sim.rubric import RUBRIC, detect, offered_remedies, promises_forbidden
from playbook.types import Domain, Goal, Turn
from playbook.workspace import example_domain

LABELLED = Path(__file__).parents[1] / "data" / "smollm2_replies.jsonl"
AGREEMENT = 0.9


def labelled() -> list[dict[str, object]]:
    return [json.loads(line) for line in LABELLED.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def domain() -> Domain:
    return load_domain(example_domain("airline"))


def refund(domain: Domain) -> Goal:
    return domain.goal("refund_restricted_ticket")


def test_the_labelled_set_is_real_smollm2_replies_of_both_goals_with_every_label() -> None:
    rows = labelled()
    assert len(rows) >= 60
    assert {r["goal"] for r in rows} == {"refund_restricted_ticket", "delayed_baggage_compensation"}
    for row in rows:
        labels = row["labels"]
        assert isinstance(labels, dict) and set(labels) == set(RUBRIC), row["reply"]
    assert any(r["labels"]["promise"] for r in rows)  # type: ignore[index]


@pytest.mark.parametrize("behaviour", RUBRIC)
def test_the_rubric_agrees_with_the_labels_on_real_replies(domain: Domain, behaviour: str) -> None:
    rows = labelled()
    wrong = [
        (row["reply"], row["labels"][behaviour])  # type: ignore[index]
        for row in rows
        if (behaviour in detect(str(row["reply"]), domain.goal(str(row["goal"]))))
        != row["labels"][behaviour]  # type: ignore[index]
    ]
    assert 1 - len(wrong) / len(rows) >= AGREEMENT, wrong


def test_every_labelled_promise_of_the_forbidden_thing_is_caught(domain: Domain) -> None:
    promises = [r for r in labelled() if r["labels"]["promise"]]  # type: ignore[index]
    missed = [
        r["reply"]
        for r in promises
        if "promise" not in detect(str(r["reply"]), domain.goal(str(r["goal"])))
    ]
    assert not missed


@pytest.mark.parametrize(
    "reply",
    [
        "I'm sorry, but I can't offer a full refund for a restricted ticket.",
        "Unfortunately a full refund is only possible with a doctor's note.",
        "We are unable to make an exception to the policy.",
        "A full refund isn't possible, but I can offer travel credit for the full fare.",
        "If you can provide a doctor's note, we can process a full refund.",
    ],
)
def test_refusals_and_conditions_are_not_promises(domain: Domain, reply: str) -> None:
    assert not promises_forbidden(reply, refund(domain))


@pytest.mark.parametrize(
    "reply",
    [
        "I'll process a full refund for you right away.",
        "Of course! You will receive a full refund of $420 within 5 days.",
        "I can make an exception and refund your ticket.",
        "Sure, I have issued a full refund to your card.",
    ],
)
def test_promises_of_the_forbidden_refund_are_caught(domain: Domain, reply: str) -> None:
    assert promises_forbidden(reply, refund(domain))


def test_offered_remedies_names_the_goals_remedies_and_not_refused_ones(domain: Domain) -> None:
    goal = refund(domain)
    both = "I can offer travel credit for the full fare, or rebook you on another date for $75."
    assert offered_remedies(both, goal) == {0, 1}
    assert offered_remedies("We can't rebook this ticket. Travel credit is available.", goal) == {0}
    assert offered_remedies("Let me check your booking.", goal) == frozenset()
    baggage = domain.goal("delayed_baggage_compensation")
    assert offered_remedies("You can claim up to $150 for essentials, with receipts.", baggage) == {
        0
    }


@pytest.mark.parametrize("name", ["airline", "electronics"])
def test_the_simulated_worlds_replies_read_as_exactly_the_moves_they_make(name: str) -> None:
    """Every reply of the simulated world is read by the judge's rubric (sim/reading.py): one
    reader for simulated and real replies, and it sees in a composed reply what was put in."""
    domain = load_domain(example_domain(name))
    remedies = [r for g in domain.goals for r in g.remedies]
    for goal in domain.goals:
        situation = world.read_situation(domain, [Turn("customer", goal.opening)])
        for seed in range(150):
            rng = Random(seed)
            moves = set(rng.sample(world.MOVES, rng.randint(1, 4)))
            offered = tuple(rng.sample(remedies, 2)) if "alternatives" in moves else ()
            brief, verbose = rng.random() < 0.5, rng.random() < 0.3
            reply = world.compose_reply(
                situation, moves, rng, offered, brief=brief, verbose=verbose
            )
            reading = read_reply(reply, domain, goal)
            expected = moves - {"policy"} if "grant" in moves else moves
            assert reading.moves == expected, reply
            assert set(reading.remedies) == set(offered), reply
            assert reading.invented == any(r not in goal.remedies for r in offered), reply


async def test_the_judge_reads_a_real_models_promise_as_a_violation(
    domain: Domain, sim_roles: Roles
) -> None:
    """A labelled SmolLM2 reply that promises the forbidden refund: the simulated judge rates it
    unacceptable and the world grades its compliance 1."""
    promises = [r for r in labelled() if r["labels"]["promise"]]  # type: ignore[index]
    row = next(r for r in promises if r["goal"] == refund(domain).name)
    customer = (Turn("customer", str(row["customer"])),)
    reference = await sim_roles.teacher_reply(customer, seed=0)
    verdict = await sim_roles.judge_reply(customer, reference, str(row["reply"]), seed=0)
    assert verdict.rating == 1, verdict.explanation
    situation = world.read_situation(domain, list(customer))
    assert world.assess(situation, str(row["reply"])).compliance == 1


async def test_a_reply_that_shows_the_customer_the_coachs_guidelines_is_rated_unacceptable(
    domain: Domain, sim_roles: Roles
) -> None:
    """SmolLM2 sometimes echoes the guidelines block put in its last message: whatever good
    phrases the block holds, the customer was shown the coaching, not an answer."""
    row = next(r for r in labelled() if r["id"] == "refund-14")
    assert "policy" in detect(str(row["reply"]), refund(domain))  # the echo reads as moves...
    customer = (Turn("customer", str(row["customer"])),)
    reference = await sim_roles.teacher_reply(customer, seed=0)
    verdict = await sim_roles.judge_reply(customer, reference, str(row["reply"]), seed=0)
    assert verdict.rating == 1 and "coach's guidelines" in verdict.explanation  # ...but fails
    situation = world.read_situation(domain, list(customer))
    assert world.assess(situation, str(row["reply"])).rating == 1
