"""Assembles the parts named by a config (domain, store, models, embedder) for one command."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from playbook.chat.base import ChatModel
from playbook.chat.factory import build_chat_model
from playbook.chat.limits import EndpointLimits
from playbook.config import Config, ConfigError, did_you_mean
from playbook.domain import DomainError, load_domain, load_personas
from playbook.domain import example_domain as example_domain  # where many callers look for it
from playbook.embed import Embedder, build_embedder
from playbook.learn import LearnSettings
from playbook.recorder import Budget, Prices, Recorder
from playbook.roles import Roles, prompt_environment
from playbook.sim.models import SimWorld
from playbook.split import PersonaSplit, split_personas
from playbook.store.core import Store
from playbook.transcripts import read_transcripts
from playbook.types import RATING_WORDS, ROLES, Domain, Persona, Scenario

Models = dict[str, ChatModel]  # role -> its chat model


@dataclass
class Workspace:
    config: Config
    domain: Domain
    embedder: Embedder
    env: Mapping[str, str]
    # Models holding connection pools, closed by aclose() (an unclosed pool left behind by one
    # run can stall the next one in the same event loop).
    opened: list[Any] = field(default_factory=list)
    _store: Store | None = field(default=None, repr=False)

    @classmethod
    def open(cls, config: Config, env: Mapping[str, str] | None = None) -> Workspace:
        env = dict(os.environ) if env is None else env
        domain = load_domain(config.domain)
        return cls(config, domain, build_embedder(config.embedder, env), env)

    @property
    def store(self) -> Store:
        """The playbook, opened (or made) when first used: a command that stops at a check
        before it leaves no file behind."""
        if self._store is None:
            self._store = Store.open(self.config.playbook)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    async def aclose(self) -> None:
        """Close the model clients this workspace opened and its embedder's, then the store."""
        for model in self.opened:
            await model.aclose()
        self.opened.clear()
        await self.embedder.aclose()
        self.close()

    def models(self) -> dict[str, str]:
        return {role: self.config.models[role].spec for role in ROLES}

    def roles(
        self, recorder: Recorder, student: str | None = None, models: Models | None = None
    ) -> Roles:
        """The four roles, every call recorded; `student` overrides the configured student;
        `models` are chat models already built by `chat_models`."""
        models = models or self.chat_models(student)
        built = {role: recorder.bind(role, model) for role, model in models.items()}
        return Roles(
            self.domain, prompts=prompt_environment(), inject=self.config.retrieval.inject, **built
        )

    def chat_models(self, student: str | None = None) -> Models:
        """The chat model of every role, as configured: a misconfigured one (an unknown
        simulated model, a key variable not set) fails here, before any run is recorded."""
        world, limits = SimWorld(self.domain), EndpointLimits()
        built: Models = {}
        for role in ROLES:
            cfg = self.config.models[role]
            if role == "student" and student:
                cfg = cfg.model_copy(update={"spec": student})
            model = build_chat_model(role, cfg, self.env, world.model)
            self.opened.append(model)
            if cfg.concurrency is not None:
                model = limits.limit(model, cfg.concurrency)
            built[role] = model
        return built

    def recorder(self, run_id: str) -> Recorder:
        prices = {
            role: Prices(cfg.price_input, cfg.price_output)
            for role, cfg in self.config.models.items()
        }
        # A run's budget is the run's, not one process's: start from what it has spent.
        carried = [call.cache_key for call in self.store.calls_in_flight(run_id)]
        budget = Budget(self.config.budget, self.store.spent(run_id), carried)
        return Recorder(self.store, run_id, budget, prices)

    def personas(self) -> list[Persona]:
        """The goals' grids (unless turned off) and the personas of every persona file."""
        learn = self.config.learn
        personas: list[Persona] = []
        if learn.grid if learn.grid is not None else not learn.personas:
            personas += self.split().learning
        for path in learn.personas:
            personas += load_personas(path, self.domain)
        ids = [p.id for p in personas]
        if len(set(ids)) < len(ids):
            twice = next(i for i in ids if ids.count(i) > 1)
            raise DomainError(f"persona id {twice!r} is used twice in learn.personas or the grid")
        return personas

    def split(self) -> PersonaSplit:
        """The grid personas learning uses, and those evaluation holds out from it."""
        learn = self.config.learn
        return split_personas(
            self.domain, learn.goals, learn.held_out, learn.held_out_situations, learn.seed
        )

    def transcripts(self) -> list[Scenario]:
        """The scenarios of every transcript file, personal details masked."""
        return [
            s for path in self.config.learn.transcripts for s in read_transcripts(path).scenarios
        ]

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
            policy_check=learn.policy_check,
            validation=learn.validation,
            samples=learn.samples,
            prune=learn.prune,
            merge_similarity=learn.merge_similarity,
            max_entries=learn.max_entries,
            retrieval=retrieval,
            generated_personas=learn.generated_personas,
            generated_max_similarity=learn.generated_max_similarity,
        )


def check_names(config: Config, domain: Domain) -> None:
    """The goals and held-out situations of [learn] must be the domain's: a typo would
    otherwise learn on every goal, or hold nothing out, without a word."""
    goals = [g.name for g in domain.goals]
    for name in config.learn.goals:
        if name not in goals:
            hint = did_you_mean(name, goals, " (", ")")
            raise ConfigError(
                f"config: learn.goals names {name!r}{hint}, which {config.domain} has not; "
                f"its goals are {', '.join(goals)}"
            )
    situations = sorted({s.name for g in domain.goals for s in g.situations})
    for name in config.learn.held_out_situations:
        if name not in situations:
            hint = did_you_mean(name, situations, " (", ")")
            known = ", ".join(situations) or "none"
            raise ConfigError(
                f"config: learn.held_out_situations names {name!r}{hint}, which "
                f"{config.domain} has not; its situations are {known}"
            )
