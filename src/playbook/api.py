"""The library's front door: learn, evaluate and ask for guidance from Python, with the same
config file, the same playbook database and the same results as the `playbook` command.

Every function is async (model calls are I/O); in a script, wrap the call in `asyncio.run`.
Progress goes to `reporter` (none by default); the environment (API keys, base URLs) is
`os.environ` unless `env` is given.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playbook.config import DEFAULT_CONFIG, Config, load_config
from playbook.runner import QuietReporter, Reporter
from playbook.runs import EvalPlan, learn_summary, retriever_for
from playbook.runs import evaluate as evaluate_run
from playbook.runs import learn as learn_run
from playbook.store.core import Store
from playbook.types import Entry
from playbook.workspace import Workspace

ConfigLike = Config | str | os.PathLike[str]


def read_config(config: ConfigLike) -> Config:
    """A Config as given, or read from a TOML file (a folder: its playbook.toml)."""
    if isinstance(config, Config):
        return config
    path = Path(config)
    return load_config(path / DEFAULT_CONFIG if path.is_dir() else path)


async def learn(
    config: ConfigLike,
    *,
    limit: int | None = None,
    resume: str | None = None,
    reporter: Reporter | None = None,
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """`playbook learn`: one learning run; its summary (run id, entries kept, calls per role).

    `limit`: the first N personas only; `resume`: a run id ("" for the latest) to continue."""
    workspace = Workspace.open(read_config(config), env)
    try:
        result = await learn_run(workspace, reporter or QuietReporter(), resume, limit)
        return learn_summary(workspace, result)
    finally:
        await workspace.aclose()


async def evaluate(
    config: ConfigLike,
    *,
    limit: int | None = None,
    samples: int = 1,
    students: Sequence[str] = (),
    approved_only: bool = False,
    reporter: Reporter | None = None,
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """`playbook eval`: every condition on the config's persona sets; the summary it prints
    with --json (means, intervals, gap closed, per set under "sets")."""
    workspace = Workspace.open(read_config(config), env)
    plan = EvalPlan(tuple(students), (), samples, approved_only, limit=limit)
    try:
        summary, _ = await evaluate_run(workspace, plan, reporter or QuietReporter())
        return summary
    finally:
        await workspace.aclose()


@dataclass(frozen=True)
class Guidance:
    """What the playbook says for one conversation: its guidelines and the entries they came
    from (empty when no entry is near enough)."""

    guidelines: tuple[str, ...]
    entries: tuple[Entry, ...]
    scores: tuple[float, ...]


class Coach:
    """Guidance for conversations from a learned playbook, retrieved as `playbook serve` does
    (the config's embedder and [retrieval]); get one with `coach(config)`."""

    def __init__(self, workspace: Workspace, store: Store, retriever: Any) -> None:
        self._workspace, self._store, self._retriever = workspace, store, retriever

    @classmethod
    async def open(
        cls,
        config: ConfigLike,
        *,
        approved_only: bool = False,
        env: Mapping[str, str] | None = None,
    ) -> Coach:
        """The playbook of `config`, searched with its embedder; a mistyped path creates
        nothing. `approved_only`: only reviewed and approved entries coach."""
        from playbook.index import build_index

        workspace = Workspace.open(read_config(config), env)
        store = Store.open(workspace.config.playbook, create=False)
        try:
            statuses = ("approved",) if approved_only else ("proposed", "approved")
            index = await build_index(store, workspace.embedder, statuses=statuses)
            retriever = retriever_for(index, workspace)
            await retriever.prepare()
        except BaseException:
            store.close()
            await workspace.aclose()
            raise
        return cls(workspace, store, retriever)

    async def guidance(self, messages: Sequence[Mapping[str, Any]]) -> Guidance:
        """For OpenAI-style chat messages (`user`: the customer, `assistant`: the agent;
        system messages are not part of the situation)."""
        from playbook.server.messages import conversation

        turns = conversation([dict(m) for m in messages])
        found = await self._retriever.retrieve(turns)
        hits = found.hits
        return Guidance(
            found.guidance, tuple(h.entry for h in hits), tuple(round(h.score, 4) for h in hits)
        )

    async def close(self) -> None:
        self._store.close()
        await self._workspace.aclose()


@asynccontextmanager
async def coach(
    config: ConfigLike, *, approved_only: bool = False, env: Mapping[str, str] | None = None
) -> AsyncIterator[Coach]:
    """`async with coach("my-agent") as c: await c.guidance(messages)`; see Coach.open."""
    opened = await Coach.open(config, approved_only=approved_only, env=env)
    try:
        yield opened
    finally:
        await opened.close()
