"""The store's evaluated conversations: written in bulk per run, read back as `Rated`."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from pydantic import TypeAdapter

from playbook.store.migrations import schema as db
from playbook.types import Conversation, ConversationVerdict, Persona, Rated, Turn, Verdict

_PERSONA = TypeAdapter(Persona)
_TURNS = TypeAdapter(tuple[Turn, ...])


class EvaluationQueries:
    """Mixed into Store: it provides the engine and the serialised write transaction."""

    _engine: sa.Engine

    def _write(self) -> AbstractContextManager[sa.Connection]:
        raise NotImplementedError

    def record_evaluations(self, run_id: str, rated: Sequence[Rated]) -> None:
        if not rated:
            return
        now = datetime.now(UTC).replace(tzinfo=None)
        rows = [_row(run_id, r, now) for r in rated]
        with self._write() as conn:
            conn.execute(db.evaluations.insert(), rows)

    def evaluations(self, run_id: str) -> list[Rated]:
        query = (
            sa.select(db.evaluations)
            .where(db.evaluations.c.run_id == run_id)
            .order_by(db.evaluations.c.id)
        )
        with self._engine.connect() as conn:
            return list(_rated(conn.execute(query)))


def _row(run_id: str, r: Rated, now: datetime) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "student": r.student,
        "condition": r.condition,
        "persona": _PERSONA.dump_python(r.persona, mode="json"),
        "sample": r.sample,
        "transcript": _TURNS.dump_python(r.conversation.turns, mode="json"),
        "left": r.conversation.left,
        "satisfaction": r.verdict.satisfaction.rating,
        "satisfaction_explanation": r.verdict.satisfaction.explanation,
        "compliance": r.verdict.compliance.rating,
        "compliance_explanation": r.verdict.compliance.explanation,
        "entry_ids": list(r.entry_ids),
        "created_at": now,
    }


def _rated(rows: sa.Result[Any]) -> Iterator[Rated]:
    for row in rows:
        persona = _PERSONA.validate_python(row.persona)
        turns = _TURNS.validate_python(row.transcript)
        verdict = ConversationVerdict(
            Verdict(row.satisfaction, row.satisfaction_explanation),
            Verdict(row.compliance, row.compliance_explanation),
        )
        yield Rated(
            row.student,
            row.condition,
            persona,
            row.sample,
            Conversation(persona, turns, row.left),
            verdict,
            tuple(row.entry_ids),
        )
