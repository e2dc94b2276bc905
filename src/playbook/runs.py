"""The commands that run on a workspace, each recorded as a run of the store: learn, import
transcripts, evaluate. One context manager (run_life) records how a run ends."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from playbook.domain import example_domain as example_domain  # where many callers look for it
from playbook.evaluate import conditions, rate_condition
from playbook.index import Index, build_index
from playbook.learn import Learner, LearnResult, RoundReport
from playbook.locks import holding, run_lock, writer_lock
from playbook.recorder import Recorder
from playbook.report import ReportContext
from playbook.resume import resumable_run
from playbook.retrieve import Retriever
from playbook.runner import Reporter
from playbook.split import HELD_OUT
from playbook.stats import summarize
from playbook.store.core import FailureRecord, Store
from playbook.transcripts import TranscriptImport, read_transcripts
from playbook.types import Entry, Persona, Rated, Scenario
from playbook.workspace import Models, Workspace, check_names


async def learn(
    workspace: Workspace, reporter: Reporter, resume: str | None = None, limit: int | None = None
) -> LearnResult:
    """One `playbook learn` run, recorded in the store with its summary.

    `resume` ("" for the latest) continues an interrupted run under its own id: every call it
    already made is answered from the cache, so nothing paid for is paid for again. One learn
    works on a playbook at a time (a second one stops at once, naming the first). `limit`
    learns on the first personas only (a cheap smoke run); a resumed run must use the same.
    """
    # Everything a config can get wrong is checked before a run is recorded, so a mistake
    # leaves no run behind (stuck as "running", or in the way of a later --resume).
    check_names(workspace.config, workspace.domain)
    personas, transcripts = workspace.personas()[:limit], workspace.transcripts()
    models = workspace.chat_models()
    store, config = workspace.store, workspace.config.model_dump(mode="json")
    if limit is not None:
        config["limit"] = limit  # part of what the run is: --resume compares it
    with holding(store, [writer_lock("learn")], None) as held:
        if resume is None:
            run_id = store.start_run("learn", config, workspace.models())
        else:
            run_id = resumable_run(store, resume, config)
        held.for_run(run_id)
        with holding(store, [run_lock(run_id)], run_id):
            if resume is not None:
                store.reopen_run(run_id, config)  # a raised budget is the run's from now on
            learner = _learner(workspace, run_id, reporter, models)
            return await _learn_run(workspace, learner, personas, transcripts)


async def _learn_run(
    workspace: Workspace, learner: Learner, personas: list[Persona], transcripts: list[Scenario]
) -> LearnResult:
    run_id = learner.run_id
    with run_life(workspace.store, run_id):
        result = await learner.run(personas, transcripts)
    status = "stopped" if result.stopped else "finished"
    workspace.store.finish_run(run_id, status, learn_summary(workspace, result))
    return result


@contextlib.contextmanager
def run_life(store: Store, run_id: str) -> Iterator[None]:
    """The work of a recorded run: whatever ends it early (an error, Ctrl-C, a cancellation)
    records it as failed, saying what; the caller finishes it with its summary otherwise."""
    try:
        yield
    except BaseException as exc:
        store.finish_run(run_id, "failed", {"error": failure_text(exc)})
        raise


def failure_text(exc: BaseException) -> str:
    """What ended a run, for its record: Ctrl-C and cancellation carry no message of their own."""
    if isinstance(exc, KeyboardInterrupt | asyncio.CancelledError):
        return "interrupted (Ctrl-C or cancelled)"
    return str(exc) or type(exc).__name__


def learn_summary(workspace: Workspace, result: LearnResult) -> dict[str, Any]:
    stats = workspace.store.call_stats(result.run_id)
    return {
        "run": result.run_id,
        "verified": result.kept,
        "entries": len(workspace.store.entries()),
        "stopped": result.stopped,
        "converged": result.converged,
        "rounds": [vars(r) for r in result.rounds],
        "calls": {role: vars(s) for role, s in stats.items()},
        "failures": failures_by_cause(
            [f for f in workspace.store.failures(result.run_id) if f.created_at >= result.since]
        ),
        "generated_personas": [{"id": p.id, "origin": p.origin} for p in result.generated],
    }


def failures_by_cause(failures: Sequence[FailureRecord]) -> dict[str, dict[str, int]]:
    """How many conversations and scenarios were lost, per role and cause."""
    counts: dict[str, dict[str, int]] = {}
    for failure in failures:
        by_cause = counts.setdefault(failure.role, {})
        by_cause[failure.cause] = by_cause.get(failure.cause, 0) + 1
    return counts


def _learner(
    workspace: Workspace, run_id: str, reporter: Reporter, models: Models | None = None
) -> Learner:
    roles = workspace.roles(workspace.recorder(run_id), models=models)
    settings = workspace.learn_settings()
    return Learner(roles, workspace.store, workspace.embedder, settings, run_id, reporter)


async def import_transcripts(
    workspace: Workspace, path: Path, reporter: Reporter
) -> dict[str, Any]:
    """`playbook import transcripts`: step 2 on every scenario of the file, recorded as a run.

    The file is read, checked and masked in full before any model call; the playbook the
    scenarios are improved against is the stored one (proposed and approved entries).
    """
    imported = read_transcripts(path)
    models = workspace.chat_models()  # a misconfigured model is found before a run is recorded
    with holding(workspace.store, [writer_lock("learn")], None):
        return await _import_run(workspace, path, imported, reporter, models)


async def _import_run(
    workspace: Workspace,
    path: Path,
    imported: TranscriptImport,
    reporter: Reporter,
    models: Models,
) -> dict[str, Any]:
    config = {"transcripts": str(path), **workspace.config.model_dump(mode="json")}
    run_id = workspace.store.start_run("import", config, workspace.models())
    index = await build_index(
        workspace.store, workspace.embedder, statuses=("proposed", "approved")
    )
    playbook = retriever_for(index, workspace)
    report = RoundReport(round=1, student_share=0.0)
    with run_life(workspace.store, run_id):
        improved = await _learner(workspace, run_id, reporter, models).improve(
            imported.scenarios, 0, playbook, report
        )
    summary = {
        "run": run_id,
        "conversations": imported.conversations,
        "skipped_messages": imported.skipped_messages,
        "masked": imported.masked,
        **{k: v for k, v in vars(report).items() if k not in ("round", "student_share")},
        "stopped": improved.stopped,
        "entries": len(workspace.store.entries()),
    }
    workspace.store.finish_run(run_id, "stopped" if improved.stopped else "finished", summary)
    return summary


@dataclass(frozen=True)
class EvalPlan:
    students: tuple[str, ...] = ()  # model specs; empty: the configured student
    personas: tuple[Persona, ...] = ()  # empty: the config's split (learning and held-out sets)
    samples: int = 1
    approved_only: bool = False
    sets: dict[str, tuple[str, ...]] = field(default_factory=dict)  # set name -> persona ids
    limit: int | None = None  # only the first personas of each set (or of `personas`)


async def evaluate(
    workspace: Workspace, plan: EvalPlan, reporter: Reporter
) -> tuple[dict[str, Any], list[Rated]]:
    """One `playbook eval` run: every condition for every student, stored with its summary."""
    students = plan.students or (workspace.config.models["student"].spec,)
    # Every student's models are built before a run is recorded: a misconfigured one leaves none.
    models = {student: workspace.chat_models(student) for student in students}
    with holding(workspace.store, [writer_lock("eval")], None):
        return await _evaluate(workspace, plan, models, reporter)


async def _evaluate(
    workspace: Workspace, plan: EvalPlan, models: dict[str, Models], reporter: Reporter
) -> tuple[dict[str, Any], list[Rated]]:
    config, store = workspace.config, workspace.store
    students = list(models)
    if not plan.personas:
        plan = replace(plan, **_default_sets(workspace, plan.limit))
    elif plan.limit is not None:
        plan = replace(plan, personas=plan.personas[: plan.limit])
    run_id = store.start_run(
        "eval", {"plan": asdict(plan), "config": config.model_dump(mode="json")}, workspace.models()
    )
    recorder = workspace.recorder(run_id)
    statuses = ("approved",) if plan.approved_only else ("proposed", "approved")
    index = await build_index(store, workspace.embedder, statuses=statuses)
    retriever = retriever_for(index, workspace)
    personas = list(plan.personas)
    with run_life(store, run_id):
        rated = await _rate_all(workspace, models, plan, personas, recorder, retriever, reporter)
    store.record_evaluations(run_id, rated)
    # Transcript scenarios have no stated goal; they say nothing about which goals were trained.
    trained = {e.scenario.persona.goal for e in index.entries if e.scenario.persona.goal}
    summary = {"run": run_id, **summarize(rated, students, trained, plan.sets)}
    store.finish_run(run_id, "finished", summary)
    return summary, rated


def _default_sets(workspace: Workspace, limit: int | None = None) -> dict[str, Any]:
    """What learning used (fresh conversations), and the split's held-out sets; `limit`: the
    first personas of each."""
    split = workspace.split()
    groups = {"learning": tuple(workspace.personas())}
    groups |= {name: getattr(split, name) for name in HELD_OUT}
    groups = {name: group[:limit] for name, group in groups.items()}
    personas = tuple(p for group in groups.values() for p in group)
    return {
        "personas": personas,
        "sets": {name: tuple(p.id for p in group) for name, group in groups.items()},
    }


async def _rate_all(
    workspace: Workspace,
    models: dict[str, Models],
    plan: EvalPlan,
    personas: list[Persona],
    recorder: Recorder,
    retriever: Retriever,
    reporter: Reporter,
) -> list[Rated]:
    """Every condition for every student (`models`: each student's role models); the
    teacher's conversations only once."""
    rated: list[Rated] = []
    students = list(models)
    for student in students:
        roles = workspace.roles(recorder, student, models[student])
        for condition in conditions(roles, retriever):
            if condition.name == "teacher" and student != students[0]:
                continue  # the teacher's conversations do not depend on the student
            rated += await rate_condition(
                roles,
                condition,
                personas,
                samples=plan.samples,
                max_turns=workspace.config.learn.max_turns,
                concurrency=workspace.config.learn.concurrency,
                reporter=reporter,
            )
    return rated


def retriever_for(index: Index[Entry], workspace: Workspace) -> Retriever:
    """A retriever over `index` as the workspace's config sets retrieval up."""
    return Retriever(index, workspace.embedder, workspace.config.retrieval, workspace.domain.goals)


def report_context(workspace: Workspace, rated: Sequence[Rated]) -> ReportContext:
    """The report's title models and the guidelines of the entries the evaluation used."""
    used = {i for r in rated for i in r.entry_ids}
    guidance = {e.id: e.guidance for e in workspace.store.entries() if e.id in used}
    return ReportContext(models=workspace.models(), guidance=guidance)
