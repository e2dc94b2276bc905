"""The simulated judge's rubric on free text: real SmolLM2-135M replies labelled by reading them
(tests/data/smollm2_replies.jsonl), and the cases that decide a rating (negated promises)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from playbook.domain import load_domain
from playbook.sim.rubric import RUBRIC, detect, offered_remedies, promises_forbidden
from playbook.types import Domain, Goal
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


@pytest.mark.parametrize("brief", [False, True])
def test_the_simulated_worlds_own_replies_read_as_the_moves_they_make(
    domain: Domain, brief: bool
) -> None:
    """The simulated judge will read the simulated students with this rubric too."""
    from random import Random

    from playbook.sim import world
    from playbook.types import Turn

    for goal in domain.goals:
        situation = world.read_situation(domain, [Turn("customer", goal.opening)])
        for move in world.MOVES:
            remedies = goal.remedies if move == "alternatives" else ()
            for seed in range(4):
                reply = world.compose_reply(situation, {move}, Random(seed), remedies, brief=brief)
                behaviour = "promise" if move == "grant" else move
                assert behaviour in detect(reply, goal), reply
                assert "promise" not in detect(reply, goal) or move == "grant", reply
