"""`playbook import ...`: scenarios from elsewhere (tau2-bench tasks and policies, chat
transcripts). Every file is checked in full before anything is written or sent to a model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

import_app = typer.Typer(
    no_args_is_help=True,
    help="Bring in scenarios from elsewhere: tau2-bench tasks and policies, chat transcripts.",
)
ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="The TOML config file.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]


@import_app.command("tau2")
def tau2_tasks(
    file: Annotated[Path, typer.Argument(help="A tau2-bench tasks file (a JSON list of tasks).")],
    goal: Annotated[str, typer.Option(help="The goal of the config's domain they all pursue.")],
    config: ConfigOption,
    out_file: Annotated[
        Path, typer.Option("--out", help="The persona file to write: .yaml, .yml or .json.")
    ] = Path("personas.yaml"),
    force: Annotated[bool, typer.Option(help="Replace --out if it exists.")] = False,
) -> None:
    """tau2-bench tasks -> a persona file to review (then list it in learn.personas)."""
    from playbook.cli.base import out, run
    from playbook.config import load_config
    from playbook.domain import load_domain, personas_text
    from playbook.files import ImportFileError, write_atomic
    from playbook.tau2 import IGNORED, import_tasks

    async def work() -> Any:
        domain = load_domain(load_config(config).domain)
        imported = import_tasks(file, domain, goal)
        if out_file.exists() and not force:
            raise ImportFileError(f"{out_file} already exists; nothing was written (--force)")
        yaml_format = out_file.suffix.lower() in (".yaml", ".yml")
        write_atomic(out_file, personas_text(imported.personas, yaml_format))
        return imported

    imported = run(work)
    out.print(f"Wrote {len(imported.personas)} personas (goal {goal}) to {out_file}.")
    out.print("Personality, emotion and demands were inferred from each task's text by keyword")
    out.print("rules; each persona's origin says from which words. Review and edit them freely.")
    if imported.ignored:
        out.print("Ignored, as they do not apply to a conversation-only agent:")
        for field, count in imported.ignored.items():
            why = IGNORED.get(field, "not a field this importer knows")
            tasks = "1 task" if count == 1 else f"{count} tasks"
            out.print(f"  {field} ({tasks}): {why}", markup=False)
    out.print(f'Next: add "{out_file}" to [learn] personas in {config}.', markup=False)


@import_app.command("tau2-policy")
def tau2_policy(
    file: Annotated[Path, typer.Argument(help="A tau2-bench policy (markdown).")],
    domain: Annotated[Path, typer.Option(help="The domain TOML whose policy it replaces.")],
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write the new domain here, not over --domain.")
    ] = None,
) -> None:
    """Make a tau2-bench policy a domain's `policy` (the rest of the file is kept as it is)."""
    from playbook.cli.base import out, run
    from playbook.domain import load_domain
    from playbook.files import write_atomic
    from playbook.tau2 import policy_into_domain

    target = out_file or domain

    async def work() -> None:
        load_domain(domain)  # a broken domain file is named as such, before anything else
        write_atomic(target, policy_into_domain(file, domain))

    run(work)
    out.print(f"The policy of {target} is now {file}. Its goals stay as they were.", markup=False)


@import_app.command("transcripts")
def transcripts(
    file: Annotated[Path, typer.Argument(help="Chat transcripts, one conversation per line.")],
    config: ConfigOption,
    as_json: JsonOption = False,
) -> None:
    """Learn from real chats (JSONL): personal details masked, then improved like scenarios.

    Every prefix that ends with a customer message is a scenario; verified entries are stored
    with the persona source "transcript".
    """
    from playbook import runs
    from playbook.cli.base import emit, err, run
    from playbook.cli.progress import reporter
    from playbook.config import load_config
    from playbook.workspace import Workspace

    async def work() -> dict[str, Any]:
        space = Workspace.open(load_config(config))
        try:
            with reporter(err, as_json) as progress:
                return await runs.import_transcripts(space, file, progress)
        finally:
            await space.aclose()

    emit(run(work), as_json, _print_import)


def _print_import(summary: dict[str, Any]) -> None:
    from playbook.cli.base import out

    table = Table("conversations", "scenarios", "kept", "not verified", "already good", "failed")
    keys = ("conversations", "scenarios", "kept", "not_verified", "already_good", "failed")
    table.add_row(*(str(summary[k]) for k in keys))
    out.print(table)
    masked = ", ".join(f"{n} {kind}" for kind, n in summary["masked"].items()) or "nothing"
    out.print(
        f"Masked before use: {masked}. Skipped messages (system, notes, tools): "
        f"{summary['skipped_messages']}.",
        markup=False,
    )
    if summary["stopped"]:
        # The hint names [budget.<role>], which rich would take for markup and drop.
        out.print(f"[yellow]Stopped early:[/yellow] {escape(summary['stopped'])}")
    out.print(f"Playbook entries: {summary['entries']} (run {summary['run']})")
