"""`playbook check`: is every model reachable, and what would `playbook learn` cost? Pays for
four tiny requests, writes nothing, exits 2 when an endpoint fails."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from playbook.cli.base import error_line, load_config, out, run

if TYPE_CHECKING:
    from playbook.check import CheckReport

LimitOption = Annotated[
    int | None,
    typer.Option("--limit", min=1, help="Only the first N personas (a cheap smoke run)."),
]


def check(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", help="The TOML config file (default: playbook.toml in this folder)."
        ),
    ] = None,
    limit: LimitOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = (
        False
    ),
) -> None:
    """Ping every role's model once; estimate the calls, tokens and cost of `learn`.

    One tiny request to each role's model (student, teacher, customer, judge) through the path
    a run uses; then the estimate of `playbook learn` with this config. Writes nothing.

    Example: playbook check --limit 4"""
    loaded = load_config(config)

    async def work() -> CheckReport:
        from playbook.check import check as run_check
        from playbook.workspace import Workspace

        workspace = Workspace.open(loaded)
        try:
            return await run_check(workspace, limit)
        finally:
            await workspace.aclose()

    report = run(work)
    if as_json:
        print(json.dumps(report_json(report)))
    else:
        print_check(report)
    if not report.ok:
        raise typer.Exit(2)


def report_json(report: CheckReport) -> dict[str, Any]:
    found = report.estimate
    return {
        "ok": report.ok,
        "endpoints": [asdict(e) for e in report.endpoints],
        "estimate": {
            "personas": found.personas,
            "transcripts": found.transcripts,
            "rounds": found.rounds,
            "calls": found.calls,
            "max_calls": found.max_calls,
            "cost": round(found.cost, 4),
            "max_cost": round(found.max_cost, 4),
            "roles": {role: asdict(r) for role, r in found.roles.items()},
        },
    }


def print_check(report: CheckReport) -> None:
    for e in report.endpoints:
        if e.ok:
            line = f"{e.role}: ok, {e.spec} at {e.where} {e.detail} in {e.latency_ms:.0f} ms"
            out.print(line, markup=False, highlight=False)
        else:
            error_line(f"{e.role}: {e.detail}")
    found = report.estimate
    title = (
        f"playbook learn: {found.personas} personas, {found.transcripts} transcript scenarios, "
        f"{found.rounds} rounds"
    )
    columns = ("role", "calls", "at most", "input tokens", "output tokens", "cost", "at most")
    table = Table(*columns, title=title)
    for role, r in found.roles.items():
        counts = (r.calls, r.max_calls, r.input_tokens, r.output_tokens)
        costs = (f"${r.cost:,.2f}", f"${r.max_cost:,.2f}")
        table.add_row(role, *(f"{n:,}" for n in counts), *costs)
    all_costs = (f"${found.cost:,.2f}", f"${found.max_cost:,.2f}")
    table.add_row("all", f"{found.calls:,}", f"{found.max_calls:,}", "", "", *all_costs)
    out.print(table)
    sources = " and ".join(sorted({r.tokens_from for r in found.roles.values()}))
    out.print(
        f"Tokens per call as in {sources}; prices from [models.*] price_input and "
        "price_output. Typical calls: the share of the ceiling a run of the airline example made.",
        markup=False,
    )
    if not report.ok:
        failed = sum(not e.ok for e in report.endpoints)
        error_line(f"{failed} of {len(report.endpoints)} models did not answer; fix them first")
