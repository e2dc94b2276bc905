"""The `playbook` command: parse input, call the library, render. Errors end in one line."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from playbook.cli.audit import audit, entries_export, entries_import
from playbook.cli.base import (
    INTERRUPTED,
    emit,
    err,
    error_line,
    load_config,
    open_playbook,
    out,
    playbook_path,
    run,
    user_errors,
)
from playbook.cli.check import LimitOption, check
from playbook.cli.db import db_app
from playbook.cli.imports import import_app
from playbook.cli.local import local
from playbook.cli.logs import logs
from playbook.cli.progress import reporter
from playbook.cli.render import print_demo, print_entries, print_eval, print_learn_summary

HELP = """A teacher model coaches a weak student model through a playbook of guidelines.

Start with: playbook demo (offline, about a minute), or playbook init my-agent, then
cd my-agent and playbook learn."""
app = typer.Typer(no_args_is_help=True, help=HELP, rich_markup_mode=None)
entries_app = typer.Typer(
    no_args_is_help=True, help="Look at the entries of a playbook; export and import them."
)
app.add_typer(entries_app, name="entries")
app.add_typer(import_app, name="import")
app.add_typer(db_app, name="db")
app.command()(audit)
app.command()(check)
app.command()(local)
app.command()(logs)
entries_app.command("export")(entries_export)
entries_app.command("import")(entries_import)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="The TOML config file (default: playbook.toml in this folder)."
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]


def _version(show: bool) -> None:
    if show:
        from importlib.metadata import version

        out.print(f"llm-playbook {version('llm-playbook')}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """The options of `playbook` itself, before a command."""


@app.command()
def init(
    folder: Annotated[Path, typer.Argument(help="Where to write the files.")] = Path("."),
) -> None:
    """Write a starter config (simulated models) and domain (the airline example)."""
    from playbook.domain import example_domain

    source = example_domain("airline").parent
    targets = [folder / "playbook.toml", folder / "domain.toml"]
    existing = [str(t) for t in targets if t.exists()]
    if existing:
        error_line(f"{', '.join(existing)} already exist; nothing was written")
        raise typer.Exit(2)
    folder.mkdir(parents=True, exist_ok=True)
    for target in targets:
        shutil.copyfile(source / target.name, target)
    next_step = "playbook learn" if folder == Path(".") else f"cd {folder} && playbook learn"
    out.print(f"Wrote {targets[0]} and {targets[1]}. Next: {next_step}", markup=False)


@app.command()
def learn(
    config: ConfigOption = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue an interrupted run (the latest, or RUN).")
    ] = False,
    run_id: Annotated[str | None, typer.Argument(metavar="[RUN]", show_default=False)] = None,
    limit: LimitOption = None,
    as_json: JsonOption = False,
) -> None:
    """Learn a playbook: simulated conversations, teacher guidelines, verified entries.

    Ctrl-C stops it; `playbook learn --resume` continues it, paying for no call twice.
    `playbook check` first says whether every model answers and what a run may cost;
    `playbook learn --limit 2` is a cheap first run on two personas."""
    if run_id is not None and not resume:
        error_line(f"a run id ({run_id}) is only taken with --resume")
        raise typer.Exit(2)
    loaded = load_config(config)

    async def work() -> dict[str, Any]:
        from playbook import runs
        from playbook.workspace import Workspace

        space = Workspace.open(loaded)
        try:
            with reporter(err, as_json) as progress:
                result = await runs.learn(
                    space, progress, (run_id or "") if resume else None, limit
                )
            return runs.learn_summary(space, result)
        finally:
            await space.aclose()

    try:
        summary = run(work)
    except KeyboardInterrupt:
        again = "playbook learn --resume" + (f" --config {config}" if config else "")
        err.print(f"interrupted; to continue where it stopped: {again}", markup=False)
        raise typer.Exit(INTERRUPTED) from None
    emit(summary, as_json, print_learn_summary)


@app.command()
def demo(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the demo's playbook.")] = Path(
        "playbook-demo"
    ),
    controls: Annotated[
        bool, typer.Option("--controls", help="Also run the fake learners F1-F8 as controls.")
    ] = False,
    seed: Annotated[
        int | None,
        typer.Option(help="Learning's seed (default: the example's); others split and learn anew."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Offline: learn a playbook for the airline example on the simulated world, then evaluate
    it on personas learning never saw."""
    from playbook.demo import run_demo

    async def work() -> dict[str, Any]:
        with reporter(err, as_json) as progress:
            return await run_demo(out_dir, progress, controls, seed)

    emit(run(work), as_json, print_demo)


@app.command("eval")
def eval_command(
    config: ConfigOption = None,
    playbook: Annotated[
        str | None, typer.Option(help="Evaluate this playbook (a file or a URL) instead.")
    ] = None,
    student: Annotated[
        list[str] | None, typer.Option("--student", help="Student model spec; repeat for several.")
    ] = None,
    personas: Annotated[
        Path | None, typer.Option(help="A persona file instead of the grid.")
    ] = None,
    samples: Annotated[int, typer.Option(min=1, help="Conversations per persona.")] = 1,
    approved_only: Annotated[bool, typer.Option(help="Only approved entries coach.")] = False,
    report: Annotated[Path | None, typer.Option(help="Folder for report.html.")] = None,
    limit: Annotated[
        int | None,
        typer.Option("--limit", min=1, help="Only the first N personas of each set (smoke run)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Evaluate: student alone, generic guidance, response teaching, playbook, teacher."""
    loaded = load_config(config)
    if playbook is not None:
        loaded = loaded.model_copy(update={"playbook": playbook_path(config, playbook)})

    async def work() -> tuple[dict[str, Any], Path | None]:
        from playbook import runs
        from playbook.domain import load_personas
        from playbook.report import write_report
        from playbook.workspace import Workspace

        space = Workspace.open(loaded)
        try:
            chosen = tuple(load_personas(personas, space.domain)) if personas else ()
            plan = runs.EvalPlan(tuple(student or ()), chosen, samples, approved_only, limit=limit)
            with reporter(err, as_json) as progress:
                summary, rated = await runs.evaluate(space, plan, progress)
            if report is None:
                return summary, None
            return summary, write_report(report, summary, rated, runs.report_context(space, rated))
        finally:
            await space.aclose()

    summary, written = run(work)
    emit(summary, as_json, print_eval)
    if written and not as_json:
        out.print(f"Report: {written}")


@entries_app.command("list")
def entries_list(
    config: ConfigOption = None,
    playbook: Annotated[
        str | None, typer.Option("--playbook", help="The playbook: a file or a URL.")
    ] = None,
    status: Annotated[str | None, typer.Option(help="proposed, approved or rejected")] = None,
    as_json: JsonOption = False,
) -> None:
    """List entries: id, status, persona source, round, last customer message, guidelines."""
    with open_playbook(config, playbook) as store, user_errors():
        entries = store.entries(statuses=[status] if status else None)
    if as_json:
        print(json.dumps([_entry_json(e) for e in entries]))
        return
    print_entries(entries)


@entries_app.command("show")
def entries_show(
    entry_id: int,
    config: ConfigOption = None,
    playbook: Annotated[str | None, typer.Option("--playbook")] = None,
    as_json: JsonOption = False,
) -> None:
    """One entry: the scenario, its guidelines and where they came from."""
    with open_playbook(config, playbook) as store, user_errors():
        entry = store.entry(entry_id)
    if as_json:
        print(json.dumps(_entry_json(entry, full=True)))
        return
    p = entry.provenance
    out.print(f"[bold]Entry {entry.id}[/bold] ({entry.status}), run {p.run_id}, round {p.round}")
    out.print(entry.scenario.text(), markup=False)
    out.print("[bold]Guidelines[/bold]")
    for i, line in enumerate(entry.guidance, 1):
        out.print(f"  {i}. {line}", markup=False)
    out.print(
        f"Baseline: {p.baseline.verdict.word}; attempts: "
        + ", ".join(a.verdict.word for a in p.attempts)
    )


@entries_app.command("reembed")
def entries_reembed(config: ConfigOption = None) -> None:
    """Embed every entry again with the config's \\[embedder], after changing it."""
    loaded = load_config(config)

    async def work() -> tuple[int, str]:
        from playbook.vectors import reembed
        from playbook.workspace import Workspace

        workspace = Workspace.open(loaded)
        try:
            total = len(workspace.store.scenario_texts())
            with reporter(err) as progress:
                tally = progress.stage(f"re-embedding ({workspace.embedder.id})", total)
                done = await reembed(workspace.store, workspace.embedder, tally.advance)
            return done, workspace.embedder.id
        finally:
            await workspace.aclose()

    done, model = run(work)
    err.print(f"re-embedded {done} entries with {model}")


def _entry_json(entry: Any, full: bool = False) -> dict[str, Any]:
    from pydantic import TypeAdapter

    from playbook.types import Entry

    data: dict[str, Any] = TypeAdapter(Entry).dump_python(entry, mode="json")
    if not full:
        data.pop("provenance")
    return data


@app.command()
def serve(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="The TOML config.")] = None,
    playbook: Annotated[
        str | None, typer.Option(help="The playbook: a SQLite file or a postgresql:// URL.")
    ] = None,
    upstream: Annotated[
        str | None, typer.Option(help="The student's base URL, e.g. http://localhost:11434/v1")
    ] = None,
    model: Annotated[str | None, typer.Option(help="Model name sent upstream.")] = None,
    host: Annotated[str | None, typer.Option(help="Default 127.0.0.1.")] = None,
    port: Annotated[int | None, typer.Option(help="Default 8780.")] = None,
) -> None:
    """Serve the playbook: an OpenAI-compatible endpoint in front of the student."""
    import os

    from playbook.server.run import serve_command
    from playbook.server.settings import Overrides

    location = playbook_path(config, playbook) if playbook is not None else None
    overrides = Overrides(location, upstream, model, host, port)
    run(lambda: serve_command(config, overrides, os.environ), fast_loop=True)


@app.command()
def simulate(
    domain: Annotated[
        Path | None, typer.Option(help="Domain file (default: the airline example).")
    ] = None,
    host: str = "127.0.0.1",
    port: int = 8765,
    delay: Annotated[float, typer.Option(help="Seconds to wait before each answer.")] = 0.0,
) -> None:
    """Serve the simulated world as an OpenAI-compatible server (model names: student, ...)."""
    import uvicorn

    from playbook.domain import example_domain, load_domain
    from playbook.embed import HashEmbedder
    from playbook.sim.models import SimWorld
    from playbook.sim.server import create_openai_app

    world = SimWorld(load_domain(domain or example_domain("airline")))
    models = {name: world.model(name) for name in world.names()}
    uvicorn.run(create_openai_app(models, HashEmbedder(), delay), host=host, port=port)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(INTERRUPTED)
