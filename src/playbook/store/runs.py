"""The store's runs: a learning, evaluation, import or review run, started, finished (or
stopped, or failed) and reopened to be resumed."""

from __future__ import annotations

import uuid
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pydantic_core import to_jsonable_python

from playbook.store.base import missing, now, require
from playbook.store.migrations import schema as db
from playbook.store.records import RunRecord

RUN_KINDS = ("learn", "eval", "import", "review")  # review: the checks of reviewers' edits
RUN_END_STATUSES = ("finished", "stopped", "failed")


class RunQueries:
    """Mixed into Store: it provides the path, the engine and the serialised write transaction."""

    path: Path | str
    _engine: sa.Engine

    def _write(self) -> AbstractContextManager[sa.Connection]:
        raise NotImplementedError

    def start_run(self, kind: str, config: dict[str, Any], models: dict[str, str]) -> str:
        require(kind, RUN_KINDS, "run kind")
        run_id = uuid.uuid4().hex[:12]
        row = dict(
            id=run_id,
            kind=kind,
            status="running",
            config=to_jsonable_python(config),
            models=dict(models),
            summary={},
            started_at=now(),
            finished_at=None,
        )
        with self._write() as conn:
            conn.execute(db.runs.insert().values(row))
        return run_id

    def finish_run(self, run_id: str, status: str, summary: dict[str, Any]) -> None:
        require(status, RUN_END_STATUSES, "run status")
        values = dict(status=status, summary=to_jsonable_python(summary), finished_at=now())
        with self._write() as conn:
            done = conn.execute(db.runs.update().where(db.runs.c.id == run_id).values(values))
        if done.rowcount == 0:
            raise missing(self.path, "run", run_id)

    def reopen_run(self, run_id: str, config: dict[str, Any] | None = None) -> None:
        """Mark an interrupted run as running again (it is being resumed), with `config` if
        given (a resume may raise the run's budgets)."""
        values: dict[str, Any] = dict(status="running", finished_at=None)
        if config is not None:
            values["config"] = to_jsonable_python(config)
        with self._write() as conn:
            done = conn.execute(db.runs.update().where(db.runs.c.id == run_id).values(values))
        if done.rowcount == 0:
            raise missing(self.path, "run", run_id)

    def run(self, run_id: str) -> RunRecord:
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(db.runs).where(db.runs.c.id == run_id)).first()
        if row is None:
            raise missing(self.path, "run", run_id)
        return RunRecord(**row._asdict())

    def runs(self) -> list[RunRecord]:
        """Every run, oldest first."""
        query = sa.select(db.runs).order_by(db.runs.c.started_at, db.runs.c.id)
        with self._engine.connect() as conn:
            return [RunRecord(**row._asdict()) for row in conn.execute(query)]
