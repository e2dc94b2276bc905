"""The store's queries for serving: a lean load of guidance and vectors, a cheap fingerprint that
changes when the playbook does, and the log of served requests."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import Future
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

from playbook.store.base import StoreError
from playbook.store.dialect import Dialect
from playbook.store.migrations import schema as db
from playbook.store.records import EntryGuidance, ServedRecord, ServedStats

PlaybookVersion = tuple[int, int, int]
"""(entries, highest entry id, highest review id): any add or review changes it."""
LOAD_ROWS = 4096  # rows read from the database per step while loading vectors
GuidanceVectors = tuple[list[EntryGuidance], np.ndarray]
Prefetched = tuple[PlaybookVersion, GuidanceVectors]  # a load and the version it was made at


@dataclass(frozen=True)
class PlaybookChanges:
    """Entries added or reviewed since a version (`touched`) and the servable ones among them."""

    added: int  # how many of `touched` are new entries
    touched: list[int]
    servable: list[EntryGuidance]
    matrix: np.ndarray  # one row per servable entry


class ServingQueries:
    """Mixed into Store: it provides the path, the engine and the serialised write transaction."""

    path: Path | str
    _engine: sa.Engine
    dialect: Dialect
    _prefetched: tuple[tuple[str, tuple[str, ...] | None], Future[Prefetched]] | None = None

    def _write(self) -> AbstractContextManager[sa.Connection]:
        raise NotImplementedError

    def entry_guidance_vectors(
        self, embedding_model: str, *, statuses: Sequence[str] | None = None
    ) -> GuidanceVectors:
        """Ids, guidance and the (n, dim) matrix of the entries `embedding_model` embedded.

        One query of four columns (id, guidance, goal, vector): serving never needs scenarios
        or provenance, and skipping them makes loading 10,000 entries take milliseconds rather
        than seconds.
        """
        prefetched = self._take_prefetched(embedding_model, statuses)
        if prefetched is not None:
            return prefetched
        return self._guidance_vectors(embedding_model, statuses, sa.true(), whole=True)

    def prefetch_guidance_vectors(
        self, embedding_model: str, *, statuses: Sequence[str] | None = None
    ) -> None:
        """Start `entry_guidance_vectors` in a thread: the next call with the same arguments
        takes its result, unless the playbook changed since. `playbook serve` calls it first,
        so that a large playbook loads while the server imports the rest of itself."""
        future: Future[Prefetched] = Future()

        def load() -> None:
            try:
                version = self.playbook_version()
                loaded = self._guidance_vectors(embedding_model, statuses, sa.true(), whole=True)
                future.set_result((version, loaded))
            except BaseException as exc:
                future.set_exception(exc)

        self._prefetched = ((embedding_model, _key(statuses)), future)
        threading.Thread(target=load, name="playbook-prefetch", daemon=True).start()

    def _take_prefetched(
        self, embedding_model: str, statuses: Sequence[str] | None
    ) -> GuidanceVectors | None:
        """The prefetched load for these arguments if the playbook is still as it was then;
        None otherwise (and if the prefetch failed: the caller's own load says why)."""
        found, self._prefetched = self._prefetched, None
        if found is None or found[0] != (embedding_model, _key(statuses)):
            return None
        try:
            version, loaded = found[1].result()
        except Exception:
            return None
        return loaded if version == self.playbook_version() else None

    def changes_since(
        self,
        since: PlaybookVersion,
        until: PlaybookVersion,
        embedding_model: str,
        *,
        statuses: Sequence[str] | None = None,
    ) -> PlaybookChanges:
        """The entries added or reviewed after the playbook was at `since` and up to `until`
        (a version read before), and the servable ones among them, loaded lean: what a running
        server needs to catch up. Changes made after `until` are left for the next call."""
        e, r = db.entries.c, db.reviews.c
        new = sa.and_(e.id > since[1], e.id <= until[1])
        reviewed = sa.select(r.entry_id).where(r.id > since[2], r.id <= until[2])
        touched = sa.or_(new, sa.and_(e.id <= until[1], e.id.in_(reviewed)))
        with self._engine.connect() as conn:
            ids = list(conn.execute(sa.select(e.id).where(touched).order_by(e.id)).scalars())
        items, matrix = self._guidance_vectors(embedding_model, statuses, touched)
        added = sum(1 for i in ids if i > since[1])
        return PlaybookChanges(added, ids, items, matrix)

    def _guidance_vectors(
        self, embedding_model: str, statuses: Sequence[str] | None, where: Any, whole: bool = False
    ) -> GuidanceVectors:
        """`whole`: most of the table is read (not a few changed entries), in bulk."""
        e = db.entries.c
        where = sa.and_(where, e.embedding_model == embedding_model)
        if statuses is not None:
            where = sa.and_(where, e.status.in_(list(statuses)))
        # The guidance as its JSON text: decoded only for the entries retrieval returns.
        guidance = self.dialect.json_text(e.guidance)
        # An entry written by a process of the release before 0011, still running while another
        # upgraded the database, has no goal column value: read it from its scenario then.
        goal = sa.func.coalesce(e.goal, self.dialect.json_value(e.scenario, "persona", "goal"))
        query = sa.select(e.id, guidance, goal, e.embedding).where(where).order_by(e.id)
        with self._engine.connect() as conn, self.dialect.bulk_read(conn, whole):
            count = conn.execute(sa.select(sa.func.count()).where(where)).scalar_one()
            rows = conn.execute(query)
            items: list[EntryGuidance] = []
            matrix = VectorRows(count, self.path, embedding_model)
            # Partitions keep a few thousand blobs alive at a time, not a copy of every vector.
            for part in rows.partitions(LOAD_ROWS):
                ids, texts, goals, blobs = zip(*part, strict=True)  # columns, not a step per row
                items.extend(map(_stored_guidance, ids, texts, goals))
                matrix.extend(blobs)
        return items, matrix.done()

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


def _stored_guidance(entry_id: int, text: str, goal: str | None) -> EntryGuidance:
    return EntryGuidance(entry_id, stored=text, goal=goal or "")


def _key(statuses: Sequence[str] | None) -> tuple[str, ...] | None:
    return None if statuses is None else tuple(statuses)


def stack_embeddings(blobs: Sequence[bytes], path: Path | str, embedding_model: str) -> np.ndarray:
    """float32 blobs as one (n, dim) matrix; refuses vectors of different sizes."""
    matrix = VectorRows(len(blobs), path, embedding_model)
    for start in range(0, len(blobs), LOAD_ROWS):
        matrix.extend(blobs[start : start + LOAD_ROWS])
    return matrix.done()


class VectorRows:
    """An (n, dim) float32 matrix filled from blobs as they are read, in place: loading costs
    the matrix itself, not a joined copy of the blobs beside it."""

    def __init__(self, count: int, path: Path | str, embedding_model: str) -> None:
        self._count, self._path, self._model = count, path, embedding_model
        self._matrix: np.ndarray | None = None
        self._filled = 0

    def extend(self, blobs: Sequence[bytes]) -> None:
        """Append rows: one copy of a few thousand blobs at a time, not a Python step per row."""
        if not blobs:
            return
        sizes = set(map(len, blobs))
        if self._matrix is None:
            self._matrix = np.empty((self._count, min(sizes) // 4), dtype=np.float32)
        if sizes != {self._matrix.shape[1] * 4}:
            raise self._mixed_sizes()
        rows = np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), -1)
        self._matrix[self._filled : self._filled + len(blobs)] = rows
        self._filled += len(blobs)

    def done(self) -> np.ndarray:
        if self._matrix is None:
            return np.zeros((0, 0), dtype=np.float32)
        return self._matrix[: self._filled]

    def _mixed_sizes(self) -> Exception:

        return StoreError(
            f"playbook {self._path}: embeddings of {self._model!r} differ in size; "
            "re-embed the entries with one model"
        )


def _served_row(record: ServedRecord) -> dict[str, Any]:
    row = {name: getattr(record, name) for name in ServedRecord.__dataclass_fields__}
    row.pop("id")
    row["entry_ids"] = list(record.entry_ids)
    return row


def _served_record(row: sa.Row[Any]) -> ServedRecord:
    values = row._asdict()
    values["entry_ids"] = tuple(values["entry_ids"])
    return ServedRecord(**values)
