"""`playbook audit` (the review UI alone) and `playbook entries export|import` (entries out to
Markdown or JSONL, and JSONL back in with ids and history)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

PlaybookOption = Annotated[Path | None, typer.Option("--playbook", help="The playbook database.")]
ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="The TOML config.")]


def audit(
    playbook: PlaybookOption = None,
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="Default 127.0.0.1.")] = None,
    port: Annotated[int | None, typer.Option(help="Default 8000.")] = None,
) -> None:
    """Serve the audit UI alone: review, edit, approve and reject entries (no upstream needed)."""
    from playbook.cli import _run
    from playbook.server.audit.run import audit_command

    _run(lambda: audit_command(config, playbook, host, port, os.environ))


def entries_export(
    playbook: PlaybookOption = None,
    config: ConfigOption = None,
    fmt: Annotated[
        Literal["md", "jsonl"], typer.Option("--format", help="md: to review; jsonl: to import.")
    ] = "jsonl",
    status: Annotated[str, typer.Option(help="approved, proposed, rejected or all.")] = "approved",
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write here instead of to stdout.")
    ] = None,
) -> None:
    """Export entries: Markdown for a pull request, or JSONL with ids, history and vectors."""
    from playbook.cli import _run
    from playbook.exchange import export_statuses, to_jsonl, to_markdown
    from playbook.files import write_atomic

    async def work() -> str:
        statuses = export_statuses(status)
        with _open(config, playbook) as store:
            dumps = store.entry_dumps(statuses)
        if fmt == "md":
            return to_markdown(dumps, f"Playbook entries ({status})")
        return to_jsonl(dumps)

    text = _run(work)
    if out_file is None:
        sys.stdout.write(text)
    else:
        write_atomic(out_file, text)


def entries_import(
    file: Annotated[Path, typer.Argument(help="A JSONL export.")],
    playbook: PlaybookOption = None,
    config: ConfigOption = None,
) -> None:
    """Import a JSONL export: ids and history are kept; a bad line imports nothing."""
    from playbook.cli import _run, out
    from playbook.exchange import import_jsonl
    from playbook.files import read_text
    from playbook.store import Store

    async def work() -> Any:
        text = read_text(file, "entries")
        with Store.open(_path(config, playbook)) as store:
            return import_jsonl(store, text, str(file))

    counts = _run(work)
    out.print(
        f"Imported {file}: {counts.added} added, {counts.updated} updated, "
        f"{counts.unchanged} unchanged.",
        markup=False,
    )


def _open(config: Path | None, playbook: Path | None) -> Any:
    from playbook.config import ConfigError
    from playbook.store import Store

    path = _path(config, playbook)
    if not path.is_file():
        raise ConfigError(f"no playbook at {path}")
    return Store.open(path)


def _path(config: Path | None, playbook: Path | None) -> Path:
    from playbook.config import ConfigError, load_config

    if playbook is not None:
        return playbook
    if config is not None:
        return load_config(config).playbook
    raise ConfigError("which playbook? give --playbook DB or --config FILE")
