"""The store's queries for serving: a lean load of guidance and vectors, a cheap fingerprint that
changes when the playbook does, and the log of served requests."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

from playbook.migrations import schema as db
from playbook.records import EntryGuidance, ServedRecord, ServedStats

PlaybookVersion = tuple[int, int, int]
"""(entries, highest entry id, highest review id): any add or review changes it."""


class ServingQueries:
    """Mixed into Store: it provides the path, the engine and the serialised write transaction."""

    path: Path
    _engine: sa.Engine

    def _write(self) -> AbstractContextManager[sa.Connection]:
        raise NotImplementedError

    def entry_guidance_vectors(
        self, embedding_model: str, *, statuses: Sequence[str] | None = None
    ) -> tuple[list[EntryGuidance], np.ndarray]:
        """Ids, guidance and the (n, dim) matrix of the entries `embedding_model` embedded.

        One query of three columns: serving never needs scenarios or provenance, and skipping
        them makes loading 10,000 entries take milliseconds rather than seconds.
        """
        e = db.entries.c
        query = sa.select(e.id, e.guidance, e.embedding).where(e.embedding_model == embedding_model)
        if statuses is not None:
            query = query.where(e.status.in_(list(statuses)))
        with self._engine.connect() as conn:
            rows = conn.execute(query.order_by(e.id)).all()
        items = [EntryGuidance(row.id, tuple(row.guidance)) for row in rows]
        return items, stack_embeddings([row.embedding for row in rows], self.path, embedding_model)

    def status_counts(self) -> dict[str, int]:
        """How many entries have each review status."""
        e = db.entries.c
        query = sa.select(e.status, sa.func.count()).group_by(e.status)
        with self._engine.connect() as conn:
            return {status: count for status, count in conn.execute(query)}

    def scenario_texts(self) -> list[tuple[int, str]]:
        """(id, scenario text) of every entry, by id: what `playbook entries reembed` embeds."""
        e = db.entries.c
        with self._engine.connect() as conn:
            return [
                (row.id, row.scenario_text)
                for row in conn.execute(sa.select(e.id, e.scenario_text).order_by(e.id))
            ]

    def set_embeddings(self, ids: Sequence[int], matrix: np.ndarray, embedding_model: str) -> None:
        """Replace the vectors of these entries (row i for ids[i]) in one transaction."""
        if len(ids) != len(matrix):
            raise ValueError(f"{len(ids)} ids but {len(matrix)} vectors")
        rows = np.ascontiguousarray(matrix, dtype="<f4")
        values = [
            {"entry_id": i, "vector": row.tobytes(), "model": embedding_model}
            for i, row in zip(ids, rows, strict=True)
        ]
        e = db.entries
        update = (
            sa.update(e)
            .where(e.c.id == sa.bindparam("entry_id"))
            .values(embedding=sa.bindparam("vector"), embedding_model=sa.bindparam("model"))
        )
        with self._write() as conn:
            if values:
                conn.execute(update, values)

    def embedding_models(self) -> dict[str, int]:
        """How many entries each embedding model embedded."""
        e = db.entries.c
        query = sa.select(e.embedding_model, sa.func.count()).group_by(e.embedding_model)
        with self._engine.connect() as conn:
            return {str(model): int(count) for model, count in conn.execute(query)}

    def playbook_version(self) -> PlaybookVersion:
        """A fingerprint that changes whenever an entry is added or reviewed (cheap to poll)."""
        query = sa.select(
            sa.select(sa.func.count()).select_from(db.entries).scalar_subquery(),
            sa.select(sa.func.coalesce(sa.func.max(db.entries.c.id), 0)).scalar_subquery(),
            sa.select(sa.func.coalesce(sa.func.max(db.reviews.c.id), 0)).scalar_subquery(),
        )
        with self._engine.connect() as conn:
            entries, last_entry, last_review = conn.execute(query).one()
        return int(entries), int(last_entry), int(last_review)

    def record_served(self, records: Sequence[ServedRecord]) -> None:
        """Log served requests, in one transaction however many there are."""
        if records:
            with self._write() as conn:
                conn.execute(db.served.insert(), [_served_row(r) for r in records])

    def served(self, limit: int = 100) -> list[ServedRecord]:
        """The most recent served requests, newest first."""
        query = sa.select(db.served).order_by(db.served.c.id.desc()).limit(limit)
        with self._engine.connect() as conn:
            return [_served_record(row) for row in conn.execute(query)]

    def served_stats(self) -> ServedStats:
        """Totals over every served request."""
        s = db.served.c
        failed = sa.or_(s.error.is_not(None), s.upstream_status.is_(None), s.upstream_status >= 300)
        guided = s.entry_ids != sa.literal_column("'[]'")
        query = sa.select(
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(sa.case((failed, 1), else_=0)), 0),
            sa.func.coalesce(sa.func.sum(sa.case((guided, 1), else_=0)), 0),
            sa.func.coalesce(sa.func.sum(s.input_tokens), 0),
            sa.func.coalesce(sa.func.sum(s.output_tokens), 0),
            sa.func.coalesce(sa.func.avg(s.latency_ms), 0.0),
        )
        with self._engine.connect() as conn:
            row = conn.execute(query).one()
        return ServedStats(
            requests=int(row[0]),
            failed=int(row[1]),
            guided=int(row[2]),
            input_tokens=int(row[3]),
            output_tokens=int(row[4]),
            mean_latency_ms=float(row[5]),
        )


def stack_embeddings(blobs: Sequence[bytes], path: Path, embedding_model: str) -> np.ndarray:
    """float32 blobs as one (n, dim) matrix; refuses vectors of different sizes."""
    from playbook.store import StoreError  # store.py imports this module

    if not blobs:
        return np.zeros((0, 0), dtype=np.float32)
    if len({len(blob) for blob in blobs}) > 1:
        raise StoreError(
            f"playbook {path}: embeddings of {embedding_model!r} differ in size; "
            "re-embed the entries with one model"
        )
    matrix = np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), -1)
    return matrix.astype(np.float32)


def _served_row(record: ServedRecord) -> dict[str, Any]:
    row = {name: getattr(record, name) for name in ServedRecord.__dataclass_fields__}
    row.pop("id")
    row["entry_ids"] = list(record.entry_ids)
    return row


def _served_record(row: sa.Row[Any]) -> ServedRecord:
    values = row._asdict()
    values["entry_ids"] = tuple(values["entry_ids"])
    return ServedRecord(**values)
