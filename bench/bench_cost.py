"""Cost of learning: tokens and calls per kept entry for each role, and the share of calls served
from the call cache when the same run is repeated on the same playbook (it should be all).

It runs the shipped airline example config (`src/playbook/examples/airline/playbook.toml`: 32
personas, 3 rounds) on the simulated world in-process, since the simulated models report the
same token counts over HTTP. Tokens are counted for calls the models really served; the
simulated world counts about 4/3 tokens per word, so these are the run's shape, not a price.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import emit, progress, settle

from playbook.config import Config, load_config
from playbook.learn import LearnResult
from playbook.runner import QuietReporter
from playbook.runs import learn
from playbook.store.records import RoleStats
from playbook.types import Persona
from playbook.workspace import Workspace, example_domain


def example_config(playbook: Path, rounds: int | None = None) -> Config:
    """The airline example's config, writing its playbook to `playbook`."""
    config = load_config(example_domain("airline").parent / "playbook.toml")
    learn_config = config.learn
    if rounds is not None:
        learn_config = learn_config.model_copy(update={"rounds": rounds})
    return config.model_copy(update={"playbook": playbook, "learn": learn_config})


@dataclass
class FewPersonas(Workspace):
    """The workspace with only its first `limit` personas (for a quick check of this script)."""

    limit: int | None = None

    def personas(self) -> list[Persona]:
        return super().personas()[: self.limit]


def learning_main(
    doc: str | None, run: Callable[[int | None, int | None], Coroutine[Any, Any, dict[str, Any]]]
) -> None:
    """The command line of a benchmark that learns the example: --personas, --rounds."""
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    parser.add_argument("--personas", type=int, default=None, help="only the first few")
    parser.add_argument("--rounds", type=int, default=None, help="instead of the example's")
    args = parser.parse_args()
    emit(asyncio.run(run(args.personas, args.rounds)))


async def counted_learn(
    config: Config, limit: int | None
) -> tuple[LearnResult, dict[str, RoleStats]]:
    workspace = FewPersonas.open(config)
    workspace.limit = limit
    try:
        result = await learn(workspace, QuietReporter())
        return result, workspace.store.call_stats(result.run_id)
    finally:
        workspace.close()


def per_entry(stats: dict[str, RoleStats], kept: int) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for role, s in sorted(stats.items()):
        figures[role] = {
            "calls_per_entry": round(s.calls / kept, 2),
            "input_tokens_per_entry": round(s.input_tokens / kept, 1),
            "output_tokens_per_entry": round(s.output_tokens / kept, 1),
        }
    total = sum(s.input_tokens + s.output_tokens for s in stats.values())
    figures["all_roles_tokens_per_entry"] = round(total / kept, 1)
    return figures


async def run(personas: int | None = None, rounds: int | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        config = example_config(Path(tmp) / "playbook.db", rounds)
        progress("cost: learning the airline example on the simulated world")
        first, stats = await counted_learn(config, personas)
        progress("cost: the same run again on the same playbook")
        _, again = await counted_learn(config, personas)
    await settle()
    calls = sum(s.calls for s in again.values())
    cached = sum(s.cached for s in again.values())
    return {
        "kept_entries": first.kept,
        "per_kept_entry": per_entry(stats, max(first.kept, 1)),
        "rerun_calls": calls,
        "rerun_cache_share": round(cached / calls, 4) if calls else None,
    }


def main() -> None:
    learning_main(__doc__, run)


if __name__ == "__main__":
    main()
