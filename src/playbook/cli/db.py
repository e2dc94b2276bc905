"""`playbook db`: the playbook's database itself: bring its schema up to date, or copy the whole
playbook, history included, to another database (a SQLite file to PostgreSQL, or back)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

db_app = typer.Typer(
    no_args_is_help=True, help="The playbook's database: migrate it, or copy it to another."
)


@db_app.command("migrate")
def db_migrate(
    playbook: Annotated[
        str | None, typer.Option("--playbook", help="A SQLite file or a postgresql:// URL.")
    ] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="The TOML config.")] = None,
) -> None:
    """Bring the schema up to date (every command does this when it opens a playbook; run it
    once before starting the replicas of a new release, so that none of them waits)."""
    import sqlalchemy as sa

    from playbook.cli.base import out, playbook_path, user_errors
    from playbook.store.core import Store

    location = playbook_path(config, playbook)
    with user_errors(), Store.open(location) as store, store._engine.connect() as conn:
        version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        out.print(f"{store.path}: schema version {version} (current)", markup=False)


@db_app.command("copy")
def db_copy(
    source: Annotated[str, typer.Argument(help="The playbook to copy: a SQLite file or a URL.")],
    target: Annotated[
        str, typer.Argument(help="Where to: a postgresql:// URL (an empty database) or a file.")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
) -> None:
    """Copy a whole playbook (runs, calls, entries, reviews, versions, evaluations, served
    requests; ids kept) into an empty database. Stop whatever writes to the source first."""
    from playbook.cli.base import err, out, user_errors
    from playbook.store.copy import copy_playbook
    from playbook.store.core import Store

    with user_errors(), Store.open(source, create=False) as origin, Store.open(target) as into:

        def said(table: str, rows: int) -> None:
            if rows % 10_000 == 0:
                err.print(f"{table}: {rows} rows", markup=False, highlight=False)

        copied = copy_playbook(origin, into, said)
        if as_json:
            print(
                json.dumps({"source": str(origin.path), "target": str(into.path), **copied.tables})
            )
            return
        parts = ", ".join(f"{n} {table}" for table, n in copied.tables.items() if n)
        out.print(
            f"Copied {origin.path} to {into.path}: {parts or 'nothing (it is empty)'}.",
            markup=False,
        )
