"""Assembles the parts named by a config (domain, store, models, embedder) for one command."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playbook.chat.factory import build_chat_model
from playbook.chat.recorder import Budget, Prices, Recorder
from playbook.config import Config
from playbook.domain import load_domain, load_personas, persona_grid
from playbook.embed import Embedder, build_embedder
from playbook.learn import Learner, LearnResult, LearnSettings
from playbook.roles import Roles, prompt_environment
from playbook.runner import Reporter
from playbook.sim.models import SimWorld
from playbook.store import Store
from playbook.types import RATING_WORDS, ROLES, Domain, Persona


@dataclass
class Workspace:
    config: Config
    domain: Domain
    store: Store
    embedder: Embedder
    env: Mapping[str, str]

    @classmethod
    def open(cls, config: Config, env: Mapping[str, str] | None = None) -> Workspace:
        env = dict(os.environ) if env is None else env
        domain = load_domain(config.domain)
        embedder = build_embedder(config.embedder, env)
        return cls(config, domain, Store.open(config.playbook), embedder, env)

    def close(self) -> None:
        self.store.close()

    def models(self) -> dict[str, str]:
        return {role: self.config.models[role].spec for role in ROLES}

    def roles(self, recorder: Recorder, student: str | None = None) -> Roles:
        """The four roles, every call recorded; `student` overrides the configured student."""
        world = SimWorld(self.domain)
        built = {}
        for role in ROLES:
            cfg = self.config.models[role]
            if role == "student" and student:
                cfg = cfg.model_copy(update={"spec": student})
            built[role] = recorder.bind(role, build_chat_model(role, cfg, self.env, world.model))
        return Roles(
            self.domain, prompts=prompt_environment(), inject=self.config.retrieval.inject, **built
        )

    def recorder(self, run_id: str) -> Recorder:
        prices = {
            role: Prices(cfg.price_input, cfg.price_output)
            for role, cfg in self.config.models.items()
        }
        return Recorder(self.store, run_id, Budget(self.config.budget), prices)

    def personas(self) -> list[Persona]:
        if self.config.learn.personas is not None:
            return load_personas(self.config.learn.personas, self.domain)
        goals = self.config.learn.goals or tuple(g.name for g in self.domain.goals)
        return [p for name in goals for p in persona_grid(self.domain.goal(name))]

    def learn_settings(self) -> LearnSettings:
        learn, retrieval = self.config.learn, self.config.retrieval
        return LearnSettings(
            rounds=learn.rounds,
            mixing=learn.mixing,
            max_attempts=learn.max_attempts,
            accept=RATING_WORDS.index(learn.accept) + 1,
            max_turns=learn.max_turns,
            concurrency=learn.concurrency,
            seed=learn.seed,
            k=retrieval.k,
            floor=retrieval.floor,
        )


async def learn(workspace: Workspace, reporter: Reporter) -> LearnResult:
    """One `playbook learn` run: recorded as a run in the store, with its summary."""
    config = workspace.config.model_dump(mode="json")
    run_id = workspace.store.start_run("learn", config, workspace.models())
    learner = Learner(
        workspace.roles(workspace.recorder(run_id)),
        workspace.store,
        workspace.embedder,
        workspace.learn_settings(),
        run_id,
        reporter,
    )
    try:
        result = await learner.run(workspace.personas())
    except BaseException as exc:
        workspace.store.finish_run(run_id, "failed", {"error": str(exc)})
        raise
    status = "stopped" if result.stopped else "finished"
    workspace.store.finish_run(run_id, status, learn_summary(workspace, result))
    return result


def learn_summary(workspace: Workspace, result: LearnResult) -> dict[str, Any]:
    stats = workspace.store.call_stats(result.run_id)
    return {
        "run": result.run_id,
        "verified": result.kept,
        "entries": len(workspace.store.entries()),
        "stopped": result.stopped,
        "rounds": [vars(r) for r in result.rounds],
        "calls": {role: vars(s) for role, s in stats.items()},
        "failures": len(workspace.store.failures(result.run_id)),
    }


def example_domain(name: str) -> Path:
    return Path(__file__).parent / "examples" / name / "domain.toml"
