"""`playbook logs`: the individual model calls the recorder wrote, like `llm logs`: the newest
few, oldest first, each with its prompt, answer, tokens, latency, cost and whether the cache
answered it."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from playbook.cli.base import open_playbook, out, user_errors

if TYPE_CHECKING:
    from playbook.store.calls import LoggedCall

ROLE_NAMES = ("student", "teacher", "customer", "judge")


def logs(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", help="The TOML config file (default: playbook.toml in this folder)."
        ),
    ] = None,
    playbook: Annotated[
        str | None, typer.Option("--playbook", help="The playbook: a file or a URL.")
    ] = None,
    run_id: Annotated[
        str | None, typer.Option("--run", help="Only this run's calls ('latest': the last run).")
    ] = None,
    role: Annotated[
        str | None, typer.Option(help="Only this role's calls: student, teacher, customer, judge.")
    ] = None,
    errors: Annotated[bool, typer.Option("--errors", help="Only calls that failed.")] = False,
    count: Annotated[
        int, typer.Option("--count", "-n", min=0, help="The newest N calls; 0 for all.")
    ] = 10,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON list of the calls on stdout.")
    ] = False,
) -> None:
    """The model calls of the runs, newest last: prompt, answer, tokens, latency, cost, cache.

    Example: playbook logs --run latest --role judge -n 3"""
    from playbook.config import ConfigError, did_you_mean
    from playbook.store.calls import CallQuery

    if role is not None and role not in ROLE_NAMES:
        with user_errors():
            hint = did_you_mean(role, ROLE_NAMES, " (", ")")
            raise ConfigError(f"--role {role!r}{hint} is not a role; use {', '.join(ROLE_NAMES)}")
    with open_playbook(config, playbook) as store, user_errors():
        if run_id == "latest":
            runs = store.runs()
            if not runs:
                raise ConfigError(f"{store.path} has no runs yet")
            run_id = runs[-1].id
        elif run_id is not None:
            store.run(run_id)  # an unknown run is an error, not an empty log
        calls = store.call_log(CallQuery(run_id, role, errors, count))
    if as_json:
        print(json.dumps([call_json(c) for c in calls]))
        return
    for call in calls:
        print_call(call)
    if not calls:
        out.print("No calls match.", markup=False)


def call_json(call: LoggedCall) -> dict[str, Any]:
    data = asdict(call)
    data["created_at"] = call.created_at.isoformat() if call.created_at else None
    return data


def print_call(call: LoggedCall) -> None:
    when = call.created_at.strftime("%Y-%m-%d %H:%M:%S") if call.created_at else ""
    out.print(
        f"## call {call.id} · {call.role} · {call.model} · run {call.run_id} · {when}",
        markup=False,
        highlight=False,
    )
    out.print(facts(call), markup=False, highlight=False)
    out.print("### prompt", markup=False)
    for message in call.messages:
        out.print(f"[{message['role']}]\n{message['content']}", markup=False, highlight=False)
    out.print("### error" if call.error else "### answer", markup=False)
    out.print(call.error or call.answer, markup=False, highlight=False)
    out.print("")


def facts(call: LoggedCall) -> str:
    """Tokens, latency, cost and cache, on one line."""
    source = "cache hit (not paid)" if call.cached else "paid"
    return (
        f"{call.input_tokens} tokens in, {call.output_tokens} out · {call.latency_ms:.0f} ms · "
        f"${call.cost:.6f} · {source}"
    )
