"""The store's call log, as `playbook logs` and the audit UI's calls page read it: the individual
model calls of the runs, newest last, filtered by run, role and outcome."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from playbook.store.migrations import schema as db


@dataclass(frozen=True)
class CallQuery:
    run_id: str | None = None  # None: every run
    role: str | None = None
    errors: bool = False  # only the calls that failed
    count: int = 10  # the newest this many; 0: all
    before: int | None = None  # only calls with a smaller id (the page before)


@dataclass(frozen=True)
class LoggedCall:
    id: int
    run_id: str
    role: str
    model: str
    messages: list[dict[str, str]]  # role and content, as sent
    answer: str
    input_tokens: int
    output_tokens: int
    latency_ms: float
    cost: float
    cached: bool
    error: str | None
    created_at: datetime | None


class CallLogQueries:
    _engine: sa.Engine

    def call_log(self, query: CallQuery) -> list[LoggedCall]:
        """The newest `query.count` calls that match, oldest first (as a log reads)."""
        c = db.calls.c
        select = sa.select(db.calls).order_by(c.id.desc())
        if query.run_id is not None:
            select = select.where(c.run_id == query.run_id)
        if query.role is not None:
            select = select.where(c.role == query.role)
        if query.errors:
            select = select.where(c.error.is_not(None))
        if query.before is not None:
            select = select.where(c.id < query.before)
        if query.count:
            select = select.limit(query.count)
        with self._engine.connect() as conn:
            rows = list(conn.execute(select))
        return [_logged(row) for row in reversed(rows)]


def _logged(row: sa.Row[Any]) -> LoggedCall:
    request = row.request or {}
    messages = [
        {"role": str(m.get("role", "")), "content": str(m.get("content", ""))}
        for m in request.get("messages", ())
    ]
    return LoggedCall(
        id=row.id,
        run_id=row.run_id,
        role=row.role,
        model=row.model,
        messages=messages,
        answer=row.output or "",
        input_tokens=row.input_tokens or 0,
        output_tokens=row.output_tokens or 0,
        latency_ms=row.latency_ms or 0.0,
        cost=row.cost or 0.0,
        cached=bool(row.cached),
        error=row.error,
        created_at=row.created_at,
    )
