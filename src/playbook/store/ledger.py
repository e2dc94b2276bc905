"""The store's ledger of paid calls: each call is written down before it is sent (a call in
flight) and settled with its answer in one transaction, so a resumed run knows what an
interrupted process had in flight and what the run has already spent."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pydantic import TypeAdapter

from playbook.chat.base import ChatRequest
from playbook.store.base import StoreError
from playbook.store.dialect import Dialect
from playbook.store.migrations import schema as db
from playbook.store.records import CallRecord

_REQUEST = TypeAdapter(ChatRequest)
# The statements of every paid call, built once (their rows are bound when they run): building
# them per call cost more CPU than the writes themselves.
_LOG_CALL = db.calls.insert()
_SETTLE = db.calls_in_flight.delete().where(
    db.calls_in_flight.c.run_id == sa.bindparam("run"),
    db.calls_in_flight.c.cache_key == sa.bindparam("key"),
)


@dataclass(frozen=True)
class InFlight:
    """A paid call sent but not (yet) answered."""

    run_id: str
    role: str
    model: str
    cache_key: str
    idempotency_key: str
    created_at: datetime


@dataclass(frozen=True)
class Spent:
    """What a role's calls of one run cost so far: answered or failed calls (never cache hits)
    plus calls still in flight (they may have been paid), and the tokens of the answered."""

    calls: int = 0
    tokens: int = 0


class LedgerQueries:
    """Mixed into Store: it provides the path, the engine and the serialised write transaction."""

    path: Path | str
    _engine: sa.Engine
    dialect: Dialect

    def _write(self) -> AbstractContextManager[sa.Connection]:
        raise NotImplementedError

    def call_sent(self, run_id: str, role: str, model: str, key: str, idempotency: str) -> None:
        """Write down a paid call before it is sent (again, on a resume: one row per key)."""
        row = dict(
            run_id=run_id,
            role=role,
            model=model,
            cache_key=key,
            idempotency_key=idempotency,
            created_at=datetime.now(UTC),
        )
        with self._write() as conn:
            conn.execute(self._write_ahead, row)

    @cached_property
    def _write_ahead(self) -> sa.Insert:
        """The write-ahead row's insert, in this database's words; built once, like the other
        statements of every call."""
        return self.dialect.insert_ignoring_conflicts(db.calls_in_flight)

    def record_call(self, call: CallRecord) -> None:
        """Log a call, settling its write-ahead row (if any) in the same transaction."""
        with self._write() as conn:
            try:
                conn.execute(_LOG_CALL, call_row(call))
            except sa.exc.IntegrityError:
                raise self._no_run(call.run_id) from None
            if not call.cached:
                conn.execute(_SETTLE, {"run": call.run_id, "key": call.cache_key})

    def calls_in_flight(self, run_id: str) -> list[InFlight]:
        """The paid calls of `run_id` sent and never answered (its process was interrupted)."""
        f = db.calls_in_flight.c
        query = sa.select(db.calls_in_flight).where(f.run_id == run_id).order_by(f.id)
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [InFlight(**{k: v for k, v in row._asdict().items() if k != "id"}) for row in rows]

    def spent(self, run_id: str) -> dict[str, Spent]:
        """Per role, what `run_id` has spent in every process that worked on it."""
        c = db.calls.c
        paid = (
            sa.select(c.role, sa.func.count(), sa.func.sum(c.input_tokens + c.output_tokens))
            .where(c.run_id == run_id, sa.not_(c.cached))
            .group_by(c.role)
        )
        f = db.calls_in_flight.c
        pending = sa.select(f.role, sa.func.count()).where(f.run_id == run_id).group_by(f.role)
        with self._engine.connect() as conn:
            spent = {role: Spent(calls, tokens or 0) for role, calls, tokens in conn.execute(paid)}
            for role, calls in conn.execute(pending):
                before = spent.get(role, Spent())
                spent[role] = Spent(before.calls + calls, before.tokens)
        return spent

    def _no_run(self, run_id: str) -> Exception:

        return StoreError(
            f"playbook {self.path}: no run {run_id}; start the run before recording calls"
        )


def call_row(call: CallRecord) -> dict[str, Any]:
    return dict(
        run_id=call.run_id,
        role=call.role,
        model=call.model,
        cache_key=call.cache_key,
        request=_REQUEST.dump_python(call.request, mode="json"),
        output=call.output,
        input_tokens=call.usage.input_tokens,
        output_tokens=call.usage.output_tokens,
        latency_ms=call.latency_ms,
        cost=call.cost,
        cached=call.cached,
        error=call.error,
        extras=call.extras or sa.null(),  # SQL NULL, not JSON null
        created_at=datetime.now(UTC),
    )
