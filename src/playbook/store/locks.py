"""The store's locks: a named lock is a row, so every process on the database (and, later, on a
shared PostgreSQL database, on every host) sees who holds it. Taking one is a single conditional
insert, and taking over a dead holder's lock deletes exactly that holder's row first, so two
processes racing for a lock cannot both get it."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa

from playbook.store.dialect import Dialect
from playbook.store.migrations import schema as db


@dataclass(frozen=True)
class LockHolder:
    """Who holds a lock: `token` is unique to one taking of it."""

    token: str
    pid: int
    host: str
    run_id: str | None
    since: datetime
    heartbeat: datetime


class LockQueries:
    """Mixed into Store: it provides the path, the engine and the serialised write transaction."""

    path: Path | str
    _engine: sa.Engine
    dialect: Dialect

    def _write(self) -> AbstractContextManager[sa.Connection]:
        raise NotImplementedError

    def try_lock(self, name: str, me: LockHolder, replacing: str | None = None) -> LockHolder:
        """Take lock `name` for `me` if it is free (or held under the token `replacing`, a holder
        found dead); the holder afterwards: `me` if it was taken."""
        locks = db.locks.c
        insert = self.dialect.insert_ignoring_conflicts(db.locks).values(name=name, **asdict(me))
        with self._write() as conn:
            if replacing is not None:
                dead = db.locks.delete().where(locks.name == name, locks.token == replacing)
                conn.execute(dead)
            conn.execute(insert)
            row = conn.execute(sa.select(db.locks).where(locks.name == name)).one()
        return _holder(row)

    def refresh_lock(self, name: str, token: str, now: datetime) -> bool:
        """Beat the heart of a lock; False if it is no longer ours (it was taken over)."""
        locks = db.locks.c
        beat = db.locks.update().where(locks.name == name, locks.token == token)
        with self._write() as conn:
            return conn.execute(beat.values(heartbeat=now)).rowcount == 1

    def name_lock_run(self, name: str, token: str, run_id: str) -> None:
        locks = db.locks.c
        named = db.locks.update().where(locks.name == name, locks.token == token)
        with self._write() as conn:
            conn.execute(named.values(run_id=run_id))

    def release_lock(self, name: str, token: str) -> None:
        locks = db.locks.c
        with self._write() as conn:
            conn.execute(db.locks.delete().where(locks.name == name, locks.token == token))

    def lock_holders(self) -> dict[str, LockHolder]:
        with self._engine.connect() as conn:
            return {row.name: _holder(row) for row in conn.execute(sa.select(db.locks))}


def _holder(row: sa.Row[tuple[object, ...]]) -> LockHolder:
    values = row._asdict()
    values.pop("name")
    return LockHolder(**values)
