"""`playbook check`: before a run pays for anything, one tiny request to each role's model through
the same path a run uses, and an estimate of what the configured learning run will cost.

The estimate has a ceiling (every conversation runs all its turns, every scenario takes every
attempt and pruning tries every line) and a typical figure: the share of that ceiling a run of
the airline example made on the simulated world. Tokens per call come from this playbook's
earlier calls of the same role when it has any, else from that run. Real models converse
differently, so the typical figure is a guide and the ceiling is what to set a budget against.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from playbook.chat.base import ChatModel, ChatRequest, Message, ModelError
from playbook.chat.factory import build_chat_model
from playbook.config import Config
from playbook.embed import Embedder
from playbook.embed.base import LOCAL
from playbook.learn import LearnSettings
from playbook.location import Location
from playbook.parse import MAX_GUIDELINES
from playbook.sim.models import SimWorld
from playbook.store.core import Store, StoreError
from playbook.store.records import RoleStats
from playbook.types import ROLES
from playbook.workspace import Workspace, check_names

PING = ChatRequest((Message("user", "Reply with the single word: ok"),), max_tokens=5)
PING_TIMEOUT_S = 20.0  # a check answers within seconds even when a run would wait longer

# Mean tokens per call (input, output) in a `playbook init` run on the simulated world (48
# personas, 3 rounds, 15,300 calls), used when the playbook holds no call of that role yet.
TYPICAL_TOKENS: dict[str, tuple[int, int]] = {
    "student": (427, 74),
    "teacher": (399, 53),
    "customer": (394, 28),
    "judge": (580, 37),
}
# The share of `call_bound` that run made (customers leave early, most scenarios need fewer
# attempts than K, pruning tries a few lines, not ten).
TYPICAL_SHARE = {"student": 0.19, "teacher": 0.27, "customer": 0.52, "judge": 0.19}


@dataclass(frozen=True)
class EndpointCheck:
    role: str
    spec: str
    where: str  # the base URL, or the simulated model's name
    ok: bool
    detail: str  # what answered, or the one line saying what to fix
    latency_ms: float


@dataclass(frozen=True)
class RoleEstimate:
    max_calls: int  # the bound
    calls: int  # typical: the bound times the share of it the airline example used
    input_tokens: int  # of the typical calls
    output_tokens: int
    max_cost: float
    cost: float
    tokens_from: str  # "this playbook" or "the airline example"


@dataclass(frozen=True)
class Estimate:
    personas: int
    transcripts: int
    rounds: int
    roles: dict[str, RoleEstimate]

    @property
    def calls(self) -> int:
        return sum(r.calls for r in self.roles.values())

    @property
    def max_calls(self) -> int:
        return sum(r.max_calls for r in self.roles.values())

    @property
    def cost(self) -> float:
        return sum(r.cost for r in self.roles.values())

    @property
    def max_cost(self) -> float:
        return sum(r.max_cost for r in self.roles.values())


def ping_models(
    config: Config, env: Mapping[str, str], sim: Callable[[str], ChatModel]
) -> dict[str, ChatModel]:
    """Each role's model as a run builds it, but without retries and with a short timeout, so
    that a wrong address fails at once instead of after minutes of backoff."""
    models: dict[str, ChatModel] = {}
    for role in ROLES:
        cfg = config.models[role]
        quick = cfg.model_copy(
            update={"max_retries": 0, "timeout": min(cfg.timeout, PING_TIMEOUT_S)}
        )
        models[role] = build_chat_model(role, quick, env, sim)
    return models


async def ping(
    role: str, model: ChatModel, clock: Callable[[], float] = time.perf_counter
) -> EndpointCheck:
    """One tiny request: does the endpoint answer, with this model, accepting this key?"""
    where = model.endpoint
    started = clock()
    try:
        completion = await model.complete(PING)
    except ModelError as exc:
        return EndpointCheck(role, model.name, where, False, str(exc), _ms(clock, started))
    answer = " ".join(completion.text.split())
    answer = answer if len(answer) <= 40 else answer[:37] + "..."
    detail = f"answered {answer!r}" if answer else "answered (an empty reply)"
    return EndpointCheck(role, model.name, where, True, detail, _ms(clock, started))


async def ping_embedder(
    embedder: Embedder, clock: Callable[[], float] = time.perf_counter
) -> EndpointCheck:
    """One embedding of one word from an embedding endpoint."""
    where = embedder.endpoint
    started = clock()
    try:
        vectors = await embedder.embed(["ok"])
    except ModelError as exc:
        return EndpointCheck("embedder", embedder.id, where, False, str(exc), _ms(clock, started))
    detail = f"answered a vector of {vectors.shape[1]} dimensions"
    return EndpointCheck("embedder", embedder.id, where, True, detail, _ms(clock, started))


def _ms(clock: Callable[[], float], started: float) -> float:
    return round((clock() - started) * 1000, 1)


def call_bound(settings: LearnSettings, personas: int, transcripts: int) -> dict[str, int]:
    """The most calls per role that learning with `settings` can make."""
    s, k, turns = settings.samples, settings.max_attempts, settings.max_turns
    prune = MAX_GUIDELINES - 1 if settings.prune else 0
    # Step 2 for one scenario: reference; baseline; the playbook's guidance; K attempts
    # (lesson, merge, samples); pruning; the policy check.
    tries = 2 + k + prune
    scenario = {
        "teacher": 1 + 2 * k,
        "student": s * tries,
        "judge": s * tries + int(settings.policy_check),
        "customer": 0,
    }
    # Step 1 for one conversation: the customer and the agent (teacher or student) each turn.
    conversation = {"customer": turns, "teacher": turns, "student": turns, "judge": 0}
    rounds = settings.rounds
    scenarios = rounds * personas * turns + transcripts
    calls: dict[str, int] = {
        role: rounds * personas * conversation[role] + scenarios * scenario[role] for role in ROLES
    }
    # Validation after each round: the playbook and teacher conditions, each rated once.
    validated = rounds * settings.validation * 2
    for role in ("customer", "teacher", "student"):
        calls[role] += validated * turns
    calls["judge"] += validated
    calls["teacher"] += (rounds - 1) * int(settings.generated_personas > 0)
    return calls


def estimate(
    config: Config,
    settings: LearnSettings,
    personas: int,
    transcripts: int,
    earlier: Mapping[str, RoleStats],
) -> Estimate:
    """Calls, tokens and cost of one learning run, typical and at most; `earlier`: this
    playbook's calls so far, whose tokens per call are the best guess for the next run's."""
    roles: dict[str, RoleEstimate] = {}
    for role, bound in call_bound(settings, personas, transcripts).items():
        per_in, per_out, source = _tokens_per_call(role, earlier.get(role))
        cfg = config.models[role]
        per_call = (per_in * cfg.price_input + per_out * cfg.price_output) / 1_000_000
        calls = round(bound * TYPICAL_SHARE[role])
        roles[role] = RoleEstimate(
            bound,
            calls,
            calls * per_in,
            calls * per_out,
            round(bound * per_call, 4),
            round(calls * per_call, 4),
            source,
        )
    return Estimate(personas, transcripts, settings.rounds, roles)


def _tokens_per_call(role: str, stats: RoleStats | None) -> tuple[int, int, str]:
    served = stats.calls - stats.cached - stats.errors if stats else 0
    if stats is None or served <= 0:
        return (*TYPICAL_TOKENS[role], "the airline example")
    per_in = round(stats.input_tokens / served)
    per_out = round(stats.output_tokens / served)
    return per_in, per_out, "this playbook"


@dataclass(frozen=True)
class CheckReport:
    endpoints: list[EndpointCheck]
    estimate: Estimate

    @property
    def ok(self) -> bool:
        return all(e.ok for e in self.endpoints)


async def check(workspace: Workspace, limit: int | None = None) -> CheckReport:
    """Ping every role's model and estimate the configured learning run; writes nothing."""
    check_names(workspace.config, workspace.domain)
    personas = len(workspace.personas()[:limit])
    transcripts = len(workspace.transcripts())
    models = ping_models(workspace.config, workspace.env, SimWorld(workspace.domain).model)
    try:
        pings = [ping(r, m) for r, m in models.items()]
        if workspace.embedder.endpoint != LOCAL:
            pings.append(ping_embedder(workspace.embedder))  # local embedders need no check
        endpoints = list(await asyncio.gather(*pings))
    finally:
        for model in models.values():
            await model.aclose()
    earlier = _earlier_calls(workspace.config.playbook)
    settings = workspace.learn_settings()
    found = estimate(workspace.config, settings, personas, transcripts, earlier)
    return CheckReport(endpoints, found)


def _earlier_calls(location: Location) -> dict[str, RoleStats]:
    """The calls already in the playbook, per role; none when there is no playbook yet (a
    check creates nothing)."""
    if isinstance(location, Path) and (not location.is_file() or location.stat().st_size == 0):
        return {}
    try:
        with Store.open(location, create=False) as store:
            return store.call_stats()
    except StoreError:  # a PostgreSQL database not made yet
        return {}
