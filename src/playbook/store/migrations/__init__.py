"""Schema migrations of the playbook database (alembic), applied when a playbook is opened,
and the check that a file is a playbook this release can open before anything touches it.

Each file in versions/ is one ordered step, never edited once shipped; add a new one instead.
Its name starts with its revision (`0009_postgresql.py` is revision "0009", after "0008"), so
that the versions this release knows, and the newest, are read from the file names: alembic
(a quarter of a second to import) loads only when a playbook's schema is behind.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy import Connection

from playbook.store.dialect import Dialect

if TYPE_CHECKING:
    from alembic.config import Config

SCRIPT_LOCATION = Path(__file__).resolve().parent
_SQLITE_HEADER = b"SQLite format 3\x00"


def upgrade(connection: Connection) -> None:
    """Bring the database on `connection` to the newest schema (a no-op when it is current).

    On PostgreSQL other processes wait until it is done (replicas may start together)."""
    if schema_version(connection) == head_revision():
        return  # a schema at the head never changes again: no lock, no alembic
    from alembic import command

    Dialect.for_engine(connection.engine).lock_for_migration(connection)
    command.upgrade(_alembic_config(connection), "head")


def schema_version(connection: Connection) -> str | None:
    """The revision the database on `connection` is at; None for a database without one."""
    if not sa.inspect(connection).has_table("alembic_version"):
        return None
    version = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    return None if version is None else str(version)


def holds_playbook(connection: Connection) -> bool:
    return "alembic_version" in sa.inspect(connection).get_table_names()


def unusable_database_reason(connection: Connection) -> str | None:
    """Why the (PostgreSQL) database on `connection` cannot hold a playbook, or None if it can
    (it is empty, or a playbook this release knows). Reads only."""
    tables = sa.inspect(connection).get_table_names()
    if "alembic_version" not in tables:
        if tables:
            return "holds tables of another program (no playbook schema); choose another database"
        return None
    version = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    if version is not None and str(version) not in known_revisions():
        return (
            f"schema version {version!r} is unknown to this llm-playbook (written by a newer "
            "release or another program); upgrade llm-playbook"
        )
    return None


def known_revisions() -> set[str]:
    """Every schema version this release can open: the revisions its version files start with."""
    return {path.name.partition("_")[0] for path in (SCRIPT_LOCATION / "versions").glob("*.py")}


def head_revision() -> str:
    """The newest schema version (revisions are numbered in order)."""
    return max(known_revisions())


def unusable_reason(path: Path) -> str | None:
    """Why the file at `path` cannot be opened as a playbook, or None if it can (or is new).

    Reads only (the header, then the schema through a read-only connection), so a file that
    is refused is left exactly as it was.
    """
    if path.is_dir():
        return "is a folder; give the path of a .db file"
    if not path.exists() or path.stat().st_size == 0:
        return None
    with path.open("rb") as handle:
        if handle.read(len(_SQLITE_HEADER)) != _SQLITE_HEADER:
            return "not a SQLite database; choose another path"
    try:
        tables, version = _peek_schema(path)
    except sqlite3.DatabaseError as exc:
        return f"unreadable SQLite database ({exc})"
    if tables and version is None:
        return "a SQLite database of another program (no playbook schema); choose another path"
    if version is not None and version not in known_revisions():
        return (
            f"schema version {version!r} is unknown to this llm-playbook (written by a newer "
            "release or another program); upgrade llm-playbook"
        )
    return None


def _peek_schema(path: Path) -> tuple[list[str], str | None]:
    """The table names, and our schema version if the file has one."""
    uri = f"{path.resolve().as_uri()}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as conn:
        query = "SELECT name FROM sqlite_master WHERE type='table'"
        tables = [row[0] for row in conn.execute(query)]
        if "alembic_version" not in tables:
            return tables, None
        version = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        return tables, None if version is None else str(version[0])


def _alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    # No alembic.ini: everything alembic needs is set here, so it works from an installed wheel.
    config = Config(attributes={"connection": connection})
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    config.set_main_option("path_separator", "os")
    return config
