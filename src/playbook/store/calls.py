"""The store's call log, as `playbook logs` and the audit UI's calls page read it: the individual
model calls of the runs, newest last, filtered by run, role and outcome."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import TypeAdapter

from playbook.chat.base import ChatRequest, Completion
from playbook.store.migrations import schema as db
from playbook.store.records import CallRecord, RoleStats
from playbook.types import Usage

_REQUEST = TypeAdapter(ChatRequest)


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
    """Mixed into Store: the calls of runs, the cache of answers, and totals per role."""

    _engine: sa.Engine

    def calls(self, run_id: str) -> list[CallRecord]:
        """The calls of a run in the order they were made."""
        query = sa.select(db.calls).where(db.calls.c.run_id == run_id).order_by(db.calls.c.id)
        with self._engine.connect() as conn:
            return [_call_record(row) for row in conn.execute(query)]

    def cached_completion(self, cache_key: str) -> Completion | None:
        """The latest successful call with this key, marked cached, with its original usage."""
        with self._engine.connect() as conn:
            row = conn.execute(_CACHED_ANSWER, {"key": cache_key}).first()
        if row is None:
            return None
        return Completion.restored(
            row.output, Usage(row.input_tokens, row.output_tokens), row.extras
        )

    def call_stats(self, run_id: str | None = None) -> dict[str, RoleStats]:
        """Totals per role, for one run or for the whole playbook."""
        served = sa.not_(db.calls.c.cached)

        def served_sum(column: sa.ColumnElement[int]) -> sa.ColumnElement[int]:
            return sa.func.sum(sa.case((served, column), else_=0))

        query = sa.select(
            db.calls.c.role,
            sa.func.count(),
            sa.func.sum(sa.case((db.calls.c.cached, 1), else_=0)),
            sa.func.sum(sa.case((db.calls.c.error.is_not(None), 1), else_=0)),
            served_sum(db.calls.c.input_tokens),
            served_sum(db.calls.c.output_tokens),
            sa.func.sum(db.calls.c.cost),
            sa.func.sum(db.calls.c.latency_ms),
        ).group_by(db.calls.c.role)
        if run_id is not None:
            query = query.where(db.calls.c.run_id == run_id)
        with self._engine.connect() as conn:
            return {row[0]: RoleStats(*row[1:]) for row in conn.execute(query)}

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


# The latest successful answer to a cache key. Asked before every model call, so it is built
# once: building the statement cost three times what running it does.
_CACHED_ANSWER = (
    sa.select(*(db.calls.c[name] for name in ("output", "input_tokens", "output_tokens", "extras")))
    .where(db.calls.c.cache_key == sa.bindparam("key"), db.calls.c.error.is_(None))
    .order_by(db.calls.c.id.desc())
    .limit(1)
)


def _call_record(row: sa.Row[*tuple[Any, ...]]) -> CallRecord:
    return CallRecord(
        run_id=row.run_id,
        role=row.role,
        model=row.model,
        cache_key=row.cache_key,
        request=_REQUEST.validate_python(row.request),
        output=row.output,
        usage=Usage(row.input_tokens, row.output_tokens),
        latency_ms=row.latency_ms,
        cost=row.cost,
        cached=row.cached,
        error=row.error,
        extras=row.extras or {},
    )


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
