"""Which learn run `playbook learn --resume` continues, and why not when the config changed."""

from __future__ import annotations

from typing import Any

from playbook.config import ConfigError
from playbook.store.core import Store


def resumable_run(store: Store, run_id: str, config: dict[str, Any]) -> str:
    """The run to resume: the one named, or the latest learn run that did not finish."""
    runs = [r for r in store.runs() if r.kind == "learn"]
    if not run_id:
        unfinished = [r for r in runs if r.status != "finished"]
        if not unfinished:
            raise ConfigError(f"{store.path}: no interrupted learn run to resume")
        run_id = unfinished[-1].id
    run = next((r for r in runs if r.id == run_id), None)
    if run is None:
        raise ConfigError(f"{store.path}: no learn run {run_id!r} to resume")
    if run.status == "finished":
        raise ConfigError(f"learn run {run_id} already finished; nothing to resume")
    changed = _changed_keys(_without_budget(run.config), _without_budget(config))
    if changed:
        raise ConfigError(
            f"learn run {run_id} was started with another config ({', '.join(changed[:3])} "
            "changed since); resume it with that config (only [budget] may change), or start "
            "a new run without --resume"
        )
    return run_id


def _changed_keys(before: Any, after: Any, where: str = "") -> list[str]:
    """The dotted names of the settings that differ (never their values, which may be paths)."""
    if isinstance(before, dict) and isinstance(after, dict):
        return [
            changed
            for key in sorted(set(before) | set(after), key=str)
            for changed in _changed_keys(
                before.get(key), after.get(key), f"{where}.{key}" if where else str(key)
            )
        ]
    return [] if before == after else [where or "the config"]


def _without_budget(config: dict[str, Any]) -> dict[str, Any]:
    # Budgets are the one thing a resume may change: raising one is how a stopped run goes on.
    return {key: value for key, value in config.items() if key != "budget"}
