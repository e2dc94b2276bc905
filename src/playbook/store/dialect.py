"""What differs between the two databases a playbook can live in: a SQLite file (the default: one
file, no server) or a PostgreSQL database named by a URL (a team's: many hosts, many replicas).

Everything else in the store is the same SQLAlchemy Core code on both. Here are the engine and
its connection settings, an insert that skips a row already there, JSON read inside queries
(SQLite's json_each/json_extract against PostgreSQL's jsonb functions), and being told of a
change (PostgreSQL's LISTEN/NOTIFY; SQLite has no such thing, so a server polls it).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite as sqlite_dialect

from playbook.location import Location, is_url

CHANGES_CHANNEL = "playbook_changes"  # what the triggers of migration 0009 notify
BUSY_TIMEOUT_MS = 10_000  # how long a SQLite writer waits for another process's write to finish
# A whole-table read (a server loading every vector) maps up to this much of a SQLite file into
# memory (SQLite caps it, at 2 GB by default) instead of reading it a page at a time: at 100,000
# entries the read took half as long.
BULK_READ_MMAP_BYTES = 1 << 34
# One number for "the playbook's schema is being changed": replicas starting together on a new
# database migrate one after the other instead of racing to create the same tables.
MIGRATION_LOCK = 7_018_001


def display(location: Location) -> str:
    """The location as messages show it: a URL without its password."""
    if not is_url(location):
        return str(location)
    return sa.make_url(str(location)).render_as_string(hide_password=True)


class Dialect:
    """The SQLite or PostgreSQL pieces of the store's queries; `for_engine` picks one."""

    name = "sqlite"

    @staticmethod
    def for_engine(engine: sa.Engine) -> Dialect:
        return PostgresDialect() if engine.dialect.name == "postgresql" else Dialect()

    def insert_ignoring_conflicts(self, table: sa.Table) -> Any:
        """An INSERT that does nothing when a unique key is already there."""
        return sqlite_dialect.insert(table).on_conflict_do_nothing()

    def json_text(self, column: sa.ColumnElement[Any]) -> sa.ColumnElement[str]:
        """A JSON column as its text, not decoded (decoded later, only where needed)."""
        return sa.type_coerce(column, sa.String)

    def json_elements(self, column: Any, name: str, path: tuple[str, ...] = ()) -> Any:
        """The elements of a JSON list (at `path` inside the column) as a table with one column,
        `value`, joined per row; scalars come back as SQL values, objects as JSON."""
        if path:
            return sa.func.json_each(column, _sqlite_path(path)).table_valued("value").alias(name)
        return sa.func.json_each(column).table_valued("value").alias(name)

    def json_scalar_elements(self, column: Any, name: str) -> Any:
        """The elements of a JSON list of strings or numbers, as text (a `value` column)."""
        return self.json_elements(column, name)

    def json_value(
        self, column: Any, *path: str | int, as_type: type[sa.types.TypeEngine[Any]] = sa.String
    ) -> sa.ColumnElement[Any]:
        """The scalar at `path` in a JSON column (an int step indexes a list; -1 is the last)."""
        return sa.type_coerce(sa.func.json_extract(column, _sqlite_path(path)), as_type)

    def continue_ids(self, connection: sa.Connection, table: sa.Table) -> None:
        """After rows were written with ids of their own (an import, a copy): new rows get
        ids above them. SQLite picks max(id) + 1 anyway."""

    def lock_for_migration(self, connection: sa.Connection) -> None:
        """Keep other processes from migrating the same database at the same time."""
        # SQLite: the migration's first write takes the file's write lock.

    @contextmanager
    def bulk_read(self, connection: sa.Connection, bulk: bool = True) -> Iterator[None]:
        """Read most of the database on `connection` faster (if `bulk`): SQLite maps the file
        into memory meanwhile (one page read, one system call, otherwise), for this connection
        only; every other query, and what a damaged file does to it, stays as it was."""
        if not bulk:
            yield
            return
        connection.exec_driver_sql(f"PRAGMA mmap_size={BULK_READ_MMAP_BYTES}")
        try:
            yield
        finally:
            connection.exec_driver_sql("PRAGMA mmap_size=0")


class PostgresDialect(Dialect):
    name = "postgresql"

    def insert_ignoring_conflicts(self, table: sa.Table) -> Any:
        return postgresql.insert(table).on_conflict_do_nothing()

    def json_text(self, column: sa.ColumnElement[Any]) -> sa.ColumnElement[str]:
        return sa.cast(column, sa.Text)

    def json_elements(self, column: Any, name: str, path: tuple[str, ...] = ()) -> Any:
        source: Any = sa.type_coerce(column, postgresql.JSONB)
        if path:
            source = source.op("#>")(_pg_path(path))
        return sa.func.jsonb_array_elements(source).table_valued("value").alias(name)

    def json_scalar_elements(self, column: Any, name: str) -> Any:
        source = sa.type_coerce(column, postgresql.JSONB)
        return sa.func.jsonb_array_elements_text(source).table_valued("value").alias(name)

    def json_value(
        self, column: Any, *path: str | int, as_type: type[sa.types.TypeEngine[Any]] = sa.String
    ) -> sa.ColumnElement[Any]:
        text = sa.type_coerce(column, postgresql.JSONB).op("#>>")(_pg_path(path))
        if as_type is sa.String:
            return sa.type_coerce(text, sa.String)
        return sa.cast(text, as_type)

    def continue_ids(self, connection: sa.Connection, table: sa.Table) -> None:
        if "id" not in table.c or not isinstance(table.c.id.type, sa.Integer):
            return
        key = table.c.id
        sequence = sa.func.pg_get_serial_sequence(table.name, "id")
        highest = sa.select(sa.func.max(key)).scalar_subquery()
        connection.execute(
            sa.select(sa.func.setval(sequence, sa.func.coalesce(highest, 1), highest.is_not(None)))
        )

    def lock_for_migration(self, connection: sa.Connection) -> None:
        connection.execute(sa.select(sa.func.pg_advisory_xact_lock(MIGRATION_LOCK)))

    @contextmanager
    def bulk_read(self, connection: sa.Connection, bulk: bool = True) -> Iterator[None]:
        yield  # the server reads its own memory; nothing to map


def make_engine(location: Location, on_damage: Callable[[str], None]) -> sa.Engine:
    """The engine for a playbook: a SQLite file in WAL mode, or a PostgreSQL pool."""
    if is_url(location):
        return sa.create_engine(
            _driver_url(str(location)),
            pool_size=5,
            max_overflow=10,
            pool_pre_ping=True,  # a restarted PostgreSQL costs one reconnect, not an error
        )
    path = Path(location)
    engine = sa.create_engine(
        f"sqlite+pysqlite:///{path}", connect_args={"check_same_thread": False}
    )
    sa.event.listen(engine, "connect", _configure_sqlite)
    sa.event.listen(
        engine, "handle_error", lambda context: on_damage(str(context.original_exception))
    )
    return engine


def _configure_sqlite(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    # WAL lets the server read while a learn run writes; NORMAL sync is safe in WAL mode.
    for pragma in (
        "PRAGMA journal_mode=WAL",
        f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}",
        "PRAGMA synchronous=NORMAL",
        "PRAGMA foreign_keys=ON",
    ):
        dbapi_connection.execute(pragma)


def _driver_url(url: str) -> str:
    """psycopg 3 for every PostgreSQL URL (SQLAlchemy's default driver is psycopg2)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def _pg_path(path: tuple[str | int, ...]) -> Any:
    """A jsonb path as a literal (not a parameter), so that the same expression in a SELECT
    DISTINCT and its ORDER BY, or in a GROUP BY, is the same SQL text."""
    steps = ",".join(str(step) for step in path)
    if not all(str(step).replace("_", "").replace("-", "").isalnum() for step in path):
        raise ValueError(f"unexpected JSON path {path!r}")
    return sa.literal_column(f"'{{{steps}}}'", type_=postgresql.ARRAY(sa.Text))


def _sqlite_path(path: tuple[str | int, ...]) -> str:
    text = "$"
    for step in path:
        if isinstance(step, int):
            text += f"[#{step}]" if step < 0 else f"[{step}]"
        else:
            text += f".{step}"
    return text


class ChangeListener:
    """Waits for the playbook to change: on PostgreSQL a connection LISTENing on the channel the
    entries' and reviews' triggers notify; on SQLite (nothing to listen to) a plain sleep, after
    which the caller polls. Either way `wait` returns within `timeout`."""

    def __init__(self, location: Location) -> None:
        self._location = location
        self._connection: Any = None
        self._lock = threading.Lock()
        self._closed = False

    def wait(self, timeout: float) -> bool:
        """Block until a change is announced (True) or `timeout` seconds pass (False)."""
        if not is_url(self._location):
            time.sleep(timeout)
            return False
        with self._lock:
            if self._closed:
                return False
            try:
                connection = self._listening()
                # Many announcements at once (one transaction wrote many rows) are one change.
                heard = any(True for _ in connection.notifies(timeout=timeout, stop_after=1))
                if heard:
                    for _ in connection.notifies(timeout=0.0):
                        pass
                return heard
            except Exception:
                self._drop()
                raise

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._drop()

    def _listening(self) -> Any:
        if self._connection is None:
            import psycopg

            url = sa.make_url(_driver_url(str(self._location))).set(drivername="postgresql")
            self._connection = psycopg.connect(
                url.render_as_string(hide_password=False), autocommit=True
            )
            self._connection.execute(f"LISTEN {CHANGES_CHANNEL}")
        return self._connection

    def _drop(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            finally:
                self._connection = None
