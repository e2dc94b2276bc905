"""Teacher-generated personas: proposed between rounds where the student was rated lowest,
near-duplicates dropped, each saying why it was made, and they join the next round."""

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from playbook.chat.base import ChatRequest
from playbook.config import load_config
from playbook.embed import HashEmbedder
from playbook.generate import drop_near_duplicates, weakest
from playbook.learn import Learner
from playbook.parse import ParseError, parse_personas
from playbook.roles import Roles
from playbook.runner import QuietReporter
from playbook.runs import learn, learn_summary
from playbook.sim.models import SimWorld
from playbook.testing import FunctionChat
from playbook.types import Persona, Scenario, Turn, Verdict
from playbook.workspace import Workspace

MakeConfig = Callable[..., Path]
GOALS = ["refund_restricted_ticket", "delayed_baggage_compensation"]
PROPOSAL = {
    "goal": "refund_restricted_ticket",
    "personality": "Driver",
    "emotion": "frustrated",
    "demanding": "yes",
    "situation": "Second cancellation this year.",
    "facts": "Booking SW4821.",
    "hidden_intentions": "",
    "reason": "Tests holding the policy under pressure.",
}


@pytest.mark.parametrize(
    "answer",
    [
        f"Sure! Here they are:\n```json\n{json.dumps([PROPOSAL])}\n```\nHope this helps.",
        f"1. {json.dumps(PROPOSAL)}\n2. {json.dumps({**PROPOSAL, 'emotion': 'sleepy'})}",
        "- goal: refund_restricted_ticket\n  personality: driver\n  emotion: Frustrated\n"
        "  demanding: true\n  situation: Second cancellation this year.\n"
        "  reason: Tests holding the policy under pressure.",
    ],
)
def test_the_parser_takes_json_or_yaml_among_prose(answer: str) -> None:
    (proposal,) = parse_personas(answer, GOALS)
    assert (proposal.personality, proposal.emotion, proposal.demanding) == (
        "driver",
        "frustrated",
        True,
    )
    assert proposal.reason == "Tests holding the policy under pressure."


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ("I cannot think of anyone.", "no list of persona objects found"),
        (json.dumps([{**PROPOSAL, "goal": "free_upgrade"}]), "persona 1: goal 'free_upgrade'"),
        (json.dumps([{**PROPOSAL, "demanding": "very"}]), "demanding 'very' is not true or false"),
    ],
)
def test_an_unusable_answer_says_what_to_fix(answer: str, problem: str) -> None:
    with pytest.raises(ParseError, match=problem):
        parse_personas(answer, GOALS)


def persona(pid: str, situation: str = "", **changes: object) -> Persona:
    base = Persona(pid, GOALS[0], "driver", "calm", True, situation=situation)
    return dataclasses.replace(base, **changes)


async def test_near_duplicates_of_existing_or_earlier_personas_are_dropped() -> None:
    existing = [persona("grid/1"), persona("file/1", "You call for your elderly mother.")]
    candidates = [
        persona("new/1"),  # the grid persona again
        persona("new/2", "You call for your elderly mother."),  # the file persona again
        persona("new/3", "Your flight was moved twice and you missed a wedding."),
        persona("new/4", "Your flight was moved twice and you missed a wedding!"),  # new/3 again
        persona("new/5", "You call for your elderly mother.", emotion="confused", goal=GOALS[1]),
    ]
    kept = await drop_near_duplicates(candidates, existing, HashEmbedder(), max_similarity=0.9)
    assert [p.id for p in kept] == ["new/3", "new/5"]


def test_weak_spots_are_the_lowest_rated_one_per_persona() -> None:
    def rated(pid: str, rating: int) -> tuple[Scenario, Verdict]:
        return Scenario(persona(pid), (Turn("customer", pid),)), Verdict(rating, "")

    spots = weakest([rated("a", 3), rated("b", 1), rated("b", 2), rated("c", 2), rated("d", 5)])
    assert [(s.persona.id, v.rating) for s, v in spots] == [("b", 1), ("c", 2), ("a", 3), ("d", 5)]


async def test_the_simulated_teacher_answers_the_real_prompt(sim_roles: Roles) -> None:
    weak = [
        (
            Scenario(persona("grid/x", emotion="frustrated"), (Turn("customer", "Hi"),)),
            Verdict(1, "It promises a full refund."),
        )
    ]
    proposals = await sim_roles.teacher_personas(weak, count=3)
    assert len(proposals) == 3
    assert {p.goal for p in proposals} <= set(GOALS)
    assert all(p.emotion == "frustrated" and "rated unacceptable" in p.reason for p in proposals)


async def test_generated_personas_join_the_next_round_and_say_why(
    tmp_path: Path, make_config: MakeConfig
) -> None:
    config = make_config(tmp_path, extra="generated_personas = 3\n")
    space = Workspace.open(load_config(config))
    try:
        result = await learn(space, QuietReporter())
        summary = learn_summary(space, result)
        entries = space.store.entries()
    finally:
        space.close()
    first, second = result.rounds
    assert first.generated_personas == len(result.generated) > 0 and second.generated_personas == 0
    assert second.conversations == first.conversations + len(result.generated)
    for new in result.generated:
        assert new.source == "generated" and new.id.startswith("generated/r1-")
        assert new.origin.startswith("teacher, after round 1, aimed at the lowest-rated")
        assert "tests the same weakness" in new.origin  # the teacher's reason
    generated = [e for e in entries if e.scenario.persona.source == "generated"]
    assert generated and {e.provenance.round for e in generated} == {2}
    assert [p["id"] for p in summary["generated_personas"]] == [p.id for p in result.generated]


async def test_off_by_default(tmp_path: Path, make_config: MakeConfig) -> None:
    space = Workspace.open(load_config(make_config(tmp_path)))
    try:
        result = await learn(space, QuietReporter())
        prompts = [c.request.messages[-1].content for c in space.store.calls(result.run_id)]
    finally:
        space.close()
    assert result.generated == [] and not [p for p in prompts if "<weak_scenario " in p]


async def test_a_teacher_without_usable_personas_costs_only_the_new_personas(
    tmp_path: Path, make_config: MakeConfig
) -> None:
    space = Workspace.open(load_config(make_config(tmp_path, extra="generated_personas = 3\n")))
    try:
        run_id = space.store.start_run("learn", {}, space.models())
        teacher = _teacher_without_personas(SimWorld(space.domain))
        roles = dataclasses.replace(space.roles(space.recorder(run_id)), teacher=teacher)
        settings = space.learn_settings()
        learner = Learner(roles, space.store, space.embedder, settings, run_id, QuietReporter())
        result = await learner.run(space.personas())
        failures = space.store.failures(run_id)
    finally:
        space.close()
    assert result.generated == [] and result.kept > 0 and len(result.rounds) == 2
    assert [(f.role, f.scenario_text) for f in failures] == [
        ("teacher", "new personas after round 1")
    ]
    assert "no list of persona objects found" in failures[0].reason


def _teacher_without_personas(world: SimWorld) -> FunctionChat:
    """The simulated teacher, except that it never proposes a usable persona."""
    teacher = world.model("teacher")

    async def answer(request: ChatRequest) -> str:
        if "<weak_scenario " in request.messages[-1].content:
            return "No."
        return (await teacher.complete(request)).text

    return FunctionChat(answer, "test:no-personas")
