"""The learning loop end to end on the simulated world, with a real SQLite playbook (and, for
the first two, a real PostgreSQL one)."""

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

from playbook.chat.base import ChatRequest
from playbook.config import load_config
from playbook.learn import Learner, LearnError, RoundReport
from playbook.runner import QuietReporter
from playbook.runs import learn
from playbook.sim.models import SimWorld
from playbook.testing import FunctionChat
from playbook.types import Attempt, Entry, Persona, Provenance, Scenario, Turn, Verdict
from playbook.workspace import Workspace

MakeConfig = Callable[..., Path]


async def run_learn(config_path: Path):  # type: ignore[no-untyped-def]
    workspace = Workspace.open(load_config(config_path))
    try:
        return workspace, await learn(workspace, QuietReporter())
    finally:
        workspace.close()


async def test_only_verified_entries_are_kept_with_full_provenance(
    tmp_path: Path, make_config: MakeConfig, playbook_location: Path | str
) -> None:
    workspace, result = await run_learn(make_config(tmp_path, playbook=playbook_location))
    workspace = Workspace.open(workspace.config)
    entries = workspace.store.entries()
    assert 0 < len(entries) <= result.kept  # an entry verified twice is stored once
    for entry in entries:
        p = entry.provenance
        best = max(a.mean for a in p.attempts)  # the mean over the verification samples
        assert best > p.baseline.mean, "kept without verification"
        assert entry.guidance in [a.guidance for a in p.attempts]
        assert 0 < len(entry.guidance) <= 10
        assert p.reference and p.models["teacher"] == "sim:teacher"
        assert entry.scenario.turns[-1].speaker == "customer"
        assert entry.status == "proposed"
    assert {e.provenance.round for e in entries} == {1, 2}
    run = workspace.store.run(result.run_id)
    assert run.status == "finished" and run.summary["entries"] == len(entries)
    workspace.close()


async def test_rerun_on_the_same_playbook_makes_no_new_model_calls(
    tmp_path: Path, make_config: MakeConfig, playbook_location: Path | str
) -> None:
    config = make_config(tmp_path, playbook=playbook_location)
    _, first = await run_learn(config)
    _, second = await run_learn(config)
    with _open(config) as space:
        stats = space.store.call_stats(second.run_id)
        assert sum(s.calls for s in stats.values()) > 0
        assert all(s.cached == s.calls for s in stats.values())
        assert space.store.run(second.run_id).summary["entries"] == len(space.store.entries())
    assert second.kept == first.kept


def _open(config: Path):  # type: ignore[no-untyped-def]
    from contextlib import closing

    return closing(Workspace.open(load_config(config)))


async def test_budget_stops_the_run_cleanly(tmp_path: Path, make_config: MakeConfig) -> None:
    config = make_config(tmp_path, extra="[budget.teacher]\ncalls = 40\n")
    _, result = await run_learn(config)
    assert result.stopped and "teacher" in result.stopped and "40 calls" in result.stopped
    with _open(config) as space:
        assert space.store.run(result.run_id).status == "stopped"
        teacher = space.store.call_stats(result.run_id)["teacher"]
        assert teacher.calls - teacher.cached <= 40


def learner_with(space: Workspace, **models: object) -> Learner:
    run_id = space.store.start_run("learn", {}, space.models())
    roles = dataclasses.replace(space.roles(space.recorder(run_id)), **models)
    return Learner(
        roles, space.store, space.embedder, space.learn_settings(), run_id, QuietReporter()
    )


async def test_judge_that_never_answers_usably_ends_with_an_error_naming_it(
    tmp_path: Path, make_config: MakeConfig
) -> None:
    with _open(make_config(tmp_path)) as space:
        learner = learner_with(
            space, judge=FunctionChat(lambda r: "I like turtles.", "test:turtles")
        )
        with pytest.raises(
            LearnError, match=r"the judge \(test:turtles\) never gave a usable answer"
        ):
            await learner.run(space.personas()[:2])
        failures = space.store.failures(learner.run_id)
        assert failures and all(f.role == "judge" and "no rating" in f.reason for f in failures)


async def test_occasional_nonsense_skips_the_scenario_and_records_why(
    tmp_path: Path, make_config: MakeConfig
) -> None:
    with _open(make_config(tmp_path)) as space:
        judge = SimWorld(space.domain).model("judge")

        async def flaky(request: ChatRequest) -> str:
            # Nonsense for every scenario of confused customers, sense for the others.
            if "confused" in request.messages[-1].content:
                return "no idea"
            return (await judge.complete(request)).text

        learner = learner_with(space, judge=FunctionChat(flaky, "test:flaky"))
        result = await learner.run(space.personas())
        assert result.kept > 0
        failures = space.store.failures(learner.run_id)
        assert failures
        assert all(f.role == "judge" and f.cause == "unusable output" for f in failures)


async def test_validation_between_rounds_stops_learning_once_it_stops_improving(
    tmp_path: Path, make_config: MakeConfig
) -> None:
    config = make_config(tmp_path, extra="validation = 8\n")
    config.write_text(config.read_text().replace("rounds = 2", "rounds = 5"))
    _, result = await run_learn(config)
    scores = [r.validation for r in result.rounds]
    assert all(score is not None and 1 <= score <= 5 for score in scores)
    assert len(result.rounds) < 5 and result.converged
    assert "stopped improving" in result.converged or "reached the teacher" in result.converged


def _verified(customer: str, guidance: tuple[str, ...], gain: int) -> Entry:
    persona = Persona("p", "refund_restricted_ticket", "driver", "calm", True)
    verdict = Verdict(2, "")
    attempt = Attempt(guidance, "reply", Verdict(2 + gain, ""), (2 + gain,))
    provenance = Provenance("run", 1, "reference", Attempt((), "reply", verdict, (2,)), (attempt,))
    return Entry(None, Scenario(persona, (Turn("customer", customer),)), guidance, provenance)


async def test_similar_scenarios_that_need_other_guidance_are_both_kept(
    tmp_path: Path, make_config: MakeConfig
) -> None:
    """Bug: a verified entry was dropped as a near-duplicate of any scenario this similar, though
    the two customers needed different guidance (a calm driver and a frustrated one); the
    merge threw away about half of what the demo verified. Only the same guidance merges."""
    workspace = Workspace.open(load_config(make_config(tmp_path)))
    settings = dataclasses.replace(workspace.learn_settings(), merge_similarity=0.5)
    learner = Learner(None, workspace.store, workspace.embedder, settings, "run", QuietReporter())  # type: ignore[arg-type]
    refund = "I want a full refund for my restricted ticket. Keep it short, I don't have time."
    calm = _verified(refund, ("Keep the reply short.",), gain=2)
    frustrated = _verified(refund + " This is really frustrating.", ("Say sorry first.",), 1)
    same = _verified(refund + " Short answer please.", ("keep the reply short",), gain=1)
    report = RoundReport(1, 0.0)
    kept = await learner._keep([calm, frustrated, same], report)
    assert [e.guidance for e in kept.entries] == [calm.guidance, frustrated.guidance]
    assert (report.kept, report.merged) == (2, 1)
    workspace.close()
