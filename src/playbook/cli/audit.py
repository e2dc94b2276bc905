"""`playbook audit` (the review UI alone) and `playbook entries export|import` (entries out to
Markdown or JSONL, and JSONL back in with ids and history)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Literal

import typer

PlaybookOption = Annotated[
    str | None, typer.Option("--playbook", help="The playbook: a file or a postgresql:// URL.")
]
ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="The TOML config.")]


def audit(
    playbook: PlaybookOption = None,
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="Default 127.0.0.1.")] = None,
    port: Annotated[int | None, typer.Option(help="Default 8780.")] = None,
) -> None:
    """Serve the audit UI alone: review, edit, approve and reject entries (no upstream needed)."""
    from playbook.cli.base import playbook_path, run
    from playbook.server.audit.run import audit_command

    location = playbook_path(config, playbook) if playbook is not None else None
    run(lambda: audit_command(config, location, host, port, os.environ))


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
    force: Annotated[bool, typer.Option("--force", help="Overwrite the --out file.")] = False,
) -> None:
    """Export entries: Markdown for a pull request, or JSONL with ids, history and vectors."""
    from playbook.cli.base import err, open_playbook, user_errors
    from playbook.errors import UserError
    from playbook.exchange import export_statuses, to_jsonl, to_markdown
    from playbook.files import write_atomic

    with user_errors():
        if out_file is not None and out_file.exists() and not force:
            raise UserError(f"{out_file} already exists; nothing was written (--force replaces it)")
        statuses = export_statuses(status)
    with open_playbook(config, playbook) as store, user_errors():
        dumps = store.entry_dumps(statuses)
    text = to_markdown(dumps, f"Playbook entries ({status})") if fmt == "md" else to_jsonl(dumps)
    if out_file is None:
        sys.stdout.write(text)
        return
    with user_errors():
        write_atomic(out_file, text)
    err.print(f"Wrote {len(dumps)} entries ({status}) to {out_file}", markup=False, highlight=False)


def entries_import(
    file: Annotated[Path, typer.Argument(help="A JSONL export.")],
    playbook: PlaybookOption = None,
    config: ConfigOption = None,
) -> None:
    """Import a JSONL export: ids and history are kept; a bad line imports nothing."""
    from playbook.cli.base import out, playbook_path, user_errors
    from playbook.exchange import import_jsonl
    from playbook.files import read_text
    from playbook.store.core import Store

    path = playbook_path(config, playbook)
    with user_errors():
        text = read_text(file, "entries")
        with Store.open(path) as store:  # importing into a new playbook makes it
            counts = import_jsonl(store, text, str(file))
    out.print(
        f"Imported {file}: {counts.added} added, {counts.updated} updated, "
        f"{counts.unchanged} unchanged.",
        markup=False,
    )
