"""The playbook store: one SQLite file, or one PostgreSQL database named by a URL (the same
SQLAlchemy Core code on both; dialect.py holds what differs), holding runs, model calls,
entries, their review history and recorded failures. Migrations are applied when it is opened."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import numpy as np
import sqlalchemy as sa
from pydantic import TypeAdapter

from playbook.location import Location, is_url, parse_location
from playbook.store import migrations
from playbook.store.audit import AuditQueries
from playbook.store.base import (
    ENTRY_STATUSES,
    StoreError,
    StoreUnwritable,
    content_key,
    missing,
    now,
    require,
)
from playbook.store.calls import CallLogQueries
from playbook.store.dialect import ChangeListener, Dialect, display, make_engine
from playbook.store.evals import EvaluationQueries
from playbook.store.exchange import ExchangeQueries
from playbook.store.guidelines import GuidelineQueries
from playbook.store.ledger import LedgerQueries
from playbook.store.locks import LockQueries
from playbook.store.migrations import schema as db
from playbook.store.records import CallRecord, FailureRecord, ReviewRecord, RoleStats, RunRecord
from playbook.store.reviews import ReviewQueries, review_row
from playbook.store.runs import RunQueries
from playbook.store.serving import ServingQueries, stack_embeddings
from playbook.types import Entry, Guidance, Provenance, Scenario

__all__ = [
    "CallRecord",
    "FailureRecord",
    "ReviewRecord",
    "RoleStats",
    "RunRecord",
    "Store",
    "StoreError",
]

_SCENARIO = TypeAdapter(Scenario)
_GUIDANCE = TypeAdapter(Guidance)
_PROVENANCE = TypeAdapter(Provenance)


# Everything an Entry is made of; the embedding blob is read only when vectors are wanted.
_ENTRY_COLUMNS = [
    db.entries.c[name] for name in ("id", "scenario", "guidance", "provenance", "status")
]


class Store(
    EvaluationQueries,
    ServingQueries,
    ReviewQueries,
    AuditQueries,
    ExchangeQueries,
    GuidelineQueries,
    LedgerQueries,
    LockQueries,
    CallLogQueries,
    RunQueries,
):
    """A playbook; get one with `Store.open(path or URL)`.

    Safe to share between threads: one engine, short transactions, writes serialised.
    """

    def __init__(self, location: Location, engine: sa.Engine) -> None:
        self.location = location
        self.path: Path | str = display(location)  # what messages name (a URL without password)
        if not is_url(location):
            self.path = Path(location)
        self._engine = engine
        self.dialect = Dialect.for_engine(engine)
        # SQLite allows one writer; serialising our own threads avoids busy retries between them.
        self._write_lock = threading.Lock()
        self._listener = ChangeListener(location)

    @classmethod
    def open(cls, location: str | os.PathLike[str], *, create: bool = True) -> Store:
        """Open the playbook at `location` (a file path or a postgresql:// URL) and bring its
        schema up to date. A missing (or empty) file, or an empty database, becomes a new
        playbook; with `create=False` a missing file is an error and nothing is made."""
        try:
            where = parse_location(location)
        except ValueError as exc:
            raise StoreError(f"playbook {location}: {exc}") from None
        if is_url(where):
            return cls._open_database(str(where), create)
        path = Path(where)
        if not create and not path.is_dir() and (not path.is_file() or path.stat().st_size == 0):
            what = "is an empty file" if path.is_file() else "does not exist"
            raise StoreError(f"playbook {path}: {what}; check the path (nothing was created)")
        problem = migrations.unusable_reason(path)
        if problem is not None:
            raise StoreError(f"playbook {path}: {problem}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"playbook {path}: cannot create its folder ({exc.strerror})"
            ) from None
        return cls._migrated(path, make_engine(path, lambda reason: _damaged(path, reason)))

    @classmethod
    def _open_database(cls, url: str, create: bool) -> Store:
        shown = display(url)
        try:
            engine = make_engine(url, lambda reason: None)
            with engine.connect() as conn:
                problem = migrations.unusable_database_reason(conn)
                if problem is None and not create and not migrations.holds_playbook(conn):
                    problem = "holds no playbook yet; check the URL (nothing was created)"
        except sa.exc.DBAPIError as exc:
            raise StoreError(
                f"playbook {shown}: cannot connect ({_first_line(exc.orig)})"
            ) from None
        except ModuleNotFoundError:
            raise StoreError(
                f"playbook {shown}: PostgreSQL needs psycopg; pip install 'llm-playbook[postgres]'"
            ) from None
        if problem is not None:
            engine.dispose()
            raise StoreError(f"playbook {shown}: {problem}")
        return cls._migrated(url, engine)

    @classmethod
    def _migrated(cls, location: Location, engine: sa.Engine) -> Store:
        store = cls(location, engine)
        try:
            with store._write() as conn:
                migrations.upgrade(conn)
        except sa.exc.DBAPIError as exc:
            engine.dispose()
            raise StoreError(
                f"playbook {store.path}: cannot be opened ({_first_line(exc.orig)})"
            ) from None
        except StoreError:
            engine.dispose()
            raise
        return store

    def close(self) -> None:
        self._listener.close()
        self._engine.dispose()

    @property
    def announces_changes(self) -> bool:
        """True if `wait_for_change` hears of changes (PostgreSQL); False if one must poll."""
        return self.dialect.name == "postgresql"

    def wait_for_change(self, timeout: float) -> bool:
        """Block until another process announces a change to the entries or their reviews
        (True; PostgreSQL), or until `timeout` seconds pass (False; always, on SQLite, which
        announces nothing: the caller then polls `playbook_version`)."""
        return self._listener.wait(timeout)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        try:
            with self._write_lock, self._engine.begin() as conn:
                yield conn
        except sa.exc.OperationalError as exc:
            raise unwritable(self.path, exc.orig) from None

    # entries

    def add_entry(
        self,
        entry: Entry,
        embedding: np.ndarray,
        embedding_model: str,
        reviewer: str = "learner",
        reason: str = "",
    ) -> int:
        """Store an entry; adding the same scenario and guidance again returns the existing id.

        Its first review row records who set its initial status, and why."""
        require(entry.status, ENTRY_STATUSES, "entry status")
        scenario = _SCENARIO.dump_python(entry.scenario, mode="json")
        guidance = _GUIDANCE.dump_python(entry.guidance, mode="json")
        key = content_key(scenario, guidance)
        vector = np.ascontiguousarray(embedding, dtype="<f4").reshape(-1)
        row = dict(
            run_id=entry.provenance.run_id,
            round=entry.provenance.round,
            scenario=scenario,
            scenario_text=entry.scenario.text(),
            goal=entry.goal,
            guidance=guidance,
            provenance=_PROVENANCE.dump_python(entry.provenance, mode="json"),
            embedding=vector.tobytes(),
            embedding_model=embedding_model,
            status=entry.status,
            content_key=key,
            created_at=now(),
        )
        insert = self.dialect.insert_ignoring_conflicts(db.entries).values(row)
        with self._write() as conn:
            added = conn.execute(insert.returning(db.entries.c.id)).scalar()
            if added is not None:
                conn.execute(_review_row(added, entry.status, reviewer, reason))
                return int(added)
            by_key = sa.select(db.entries.c.id).where(db.entries.c.content_key == key)
            return int(conn.execute(by_key).scalar_one())

    def entries(
        self, *, run_id: str | None = None, statuses: Sequence[str] | None = None
    ) -> list[Entry]:
        """Entries in the order they were added, optionally of one run and some statuses."""
        query = _filtered(sa.select(*_ENTRY_COLUMNS), run_id, statuses)
        with self._engine.connect() as conn:
            return [_entry_from_row(row) for row in conn.execute(query)]

    def entry(self, entry_id: int) -> Entry:
        query = sa.select(*_ENTRY_COLUMNS).where(db.entries.c.id == entry_id)
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            raise missing(self.path, "entry", entry_id)
        return _entry_from_row(row)

    def entry_vectors(
        self,
        embedding_model: str,
        *,
        run_id: str | None = None,
        statuses: Sequence[str] | None = None,
    ) -> tuple[list[Entry], np.ndarray]:
        """Entries embedded with `embedding_model` and their vectors as one (n, dim) matrix."""
        columns = (*_ENTRY_COLUMNS, db.entries.c.embedding)
        query = _filtered(sa.select(*columns), run_id, statuses)
        query = query.where(db.entries.c.embedding_model == embedding_model)
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        matrix = stack_embeddings([row.embedding for row in rows], self.path, embedding_model)
        return [_entry_from_row(row) for row in rows], matrix

    # reviews

    def set_status(self, entry_id: int, status: str, reviewer: str, reason: str = "") -> None:
        """Approve, reject or re-propose an entry; the change is kept in its review history."""
        require(status, ENTRY_STATUSES, "entry status")
        self.set_statuses([entry_id], status, reviewer, reason)

    def reviews(self, entry_id: int) -> list[ReviewRecord]:
        """The review history of an entry, oldest first."""
        query = (
            sa.select(db.reviews).where(db.reviews.c.entry_id == entry_id).order_by(db.reviews.c.id)
        )
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [ReviewRecord(**row._asdict()) for row in rows]

    # failures

    def record_failure(
        self,
        run_id: str,
        role: str,
        model: str,
        reason: str,
        scenario_text: str,
        cause: str = "error",
    ) -> None:
        row = dict(
            run_id=run_id,
            role=role,
            model=model,
            reason=reason,
            cause=cause,
            scenario_text=scenario_text,
            created_at=now(),
        )
        self._insert_for_run(db.failures, row)

    def failures(self, run_id: str) -> list[FailureRecord]:
        query = (
            sa.select(db.failures).where(db.failures.c.run_id == run_id).order_by(db.failures.c.id)
        )
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [FailureRecord(**row._asdict()) for row in rows]

    # helpers

    def _insert_for_run(self, table: sa.Table, row: dict[str, Any]) -> None:
        try:
            with self._write() as conn:
                conn.execute(table.insert().values(row))
        except sa.exc.IntegrityError:
            raise StoreError(
                f"playbook {self.path}: no run {row['run_id']}; start the run before recording "
                f"{table.name}"
            ) from None


def unwritable(path: Path | str, problem: BaseException | None) -> StoreUnwritable:
    """One line saying why a write to the playbook failed; the transaction was rolled back."""
    reason = str(problem)
    if "readonly" in reason or "read-only" in reason:
        what = "is read-only (the file or its folder); nothing was written"
    elif "full" in reason:
        what = "the disk is full; nothing was written"
    else:
        what = f"cannot be written ({reason}); nothing was written"
    return StoreUnwritable(f"playbook {path}: {what}")


def _damaged(path: Path, reason: str) -> None:
    """A damaged file (a torn or overwritten page) ends in one line saying what to do, whichever
    query first reads the damaged page."""
    if "malformed" in reason or "not a database" in reason:
        raise StoreError(
            f"playbook {path}: the file is damaged ({reason}); restore it from a backup, or "
            f"recover what is readable: sqlite3 {path} .recover | sqlite3 recovered.db"
        ) from None


def _first_line(problem: BaseException | None) -> str:
    return str(problem).strip().splitlines()[0] if str(problem).strip() else repr(problem)


def _filtered(
    query: sa.Select[Any], run_id: str | None, statuses: Sequence[str] | None
) -> sa.Select[Any]:
    if run_id is not None:
        query = query.where(db.entries.c.run_id == run_id)
    if statuses is not None:
        query = query.where(db.entries.c.status.in_(list(statuses)))
    return query.order_by(db.entries.c.id)


def _entry_from_row(row: sa.Row[*tuple[Any, ...]]) -> Entry:
    return Entry(
        id=row.id,
        scenario=_SCENARIO.validate_python(row.scenario),
        guidance=_GUIDANCE.validate_python(row.guidance),
        provenance=_PROVENANCE.validate_python(row.provenance),
        status=row.status,
    )


def _review_row(entry_id: int, status: str, reviewer: str, reason: str) -> sa.Insert:
    return review_row(entry_id, status, reviewer, reason, "status", now())
