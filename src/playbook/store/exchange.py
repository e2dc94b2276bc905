"""The store's side of moving entries between playbooks: read entries whole (history and vector
included), and write them back under their own ids, all of them or none.

An entry that already exists is the same entry only if its scenario, provenance, vector and
original guidelines are the same; its review history is then merged when one history continues
the other, and refused when both changed since they parted.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import TypeAdapter

from playbook.files import ImportFileError
from playbook.store.base import content_key
from playbook.store.dialect import Dialect
from playbook.store.migrations import schema as db
from playbook.store.records import EntryVersion
from playbook.types import Entry, Guidance, Provenance, Scenario

_SCENARIO = TypeAdapter(Scenario)
_PROVENANCE = TypeAdapter(Provenance)


@dataclass(frozen=True)
class ReviewEvent:
    """A review row without its ids, as it travels in an export."""

    action: str
    status: str
    reviewer: str
    reason: str
    created_at: datetime


@dataclass(frozen=True)
class EntryDump:
    """An entry with everything another playbook needs to hold it: when it was made, its vector
    (float32 bytes) and embedding model, its stored guidance versions (none until edited) and
    its review history."""

    entry: Entry
    created_at: datetime
    embedding_model: str
    embedding: bytes
    versions: tuple[EntryVersion, ...]
    reviews: tuple[ReviewEvent, ...]

    @property
    def original(self) -> Guidance:
        return self.versions[0].guidance if self.versions else self.entry.guidance


@dataclass(frozen=True)
class ImportCounts:
    added: int = 0
    updated: int = 0  # existing entries whose history the file continued
    unchanged: int = 0  # existing entries the file holds as they are (or an older state of)


class ExchangeQueries:
    """Mixed into Store: it provides the engine and the serialised write transaction."""

    _engine: sa.Engine
    dialect: Dialect

    def _write(self) -> AbstractContextManager[sa.Connection]:
        raise NotImplementedError

    def entry_dumps(self, statuses: Sequence[str] | None = None) -> list[EntryDump]:
        """Entries (of some statuses) with their history and vectors, in id order."""
        e = db.entries.c
        query = sa.select(db.entries).order_by(e.id)
        if statuses is not None:
            query = query.where(e.status.in_(list(statuses)))
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
            versions, reviews = _histories(conn, [row.id for row in rows])
        return [_dump(row, versions.get(row.id, ()), reviews.get(row.id, ())) for row in rows]

    def import_dumps(self, dumps: Sequence[tuple[int, EntryDump]], source: str) -> ImportCounts:
        """Write entries numbered by the line they came from, in one transaction: an error
        (ImportFileError naming the line) leaves the playbook as it was."""
        counts = {"added": 0, "updated": 0, "unchanged": 0}
        with self._write() as conn:
            for line, dump in dumps:
                where = f"{source}: line {line}: entry {dump.entry.id}"
                counts[_import_one(conn, dump, where)] += 1
            self.dialect.continue_ids(conn, db.entries)  # entries keep the ids of the file
        return ImportCounts(**counts)


def _import_one(conn: sa.Connection, dump: EntryDump, where: str) -> str:
    entry_id = dump.entry.id
    existing = conn.execute(sa.select(db.entries).where(db.entries.c.id == entry_id)).first()
    if existing is None:
        _insert(conn, dump, where)
        return "added"
    versions, reviews = _histories(conn, [existing.id])
    stored = _dump(existing, versions.get(existing.id, ()), reviews.get(existing.id, ()))
    if _content(stored) != _content(dump):
        raise ImportFileError(
            f"{where} exists in the playbook with another scenario, provenance or original "
            "guidelines; it is a different entry, so it was not imported (nothing was)"
        )
    return _merge(conn, stored, dump, where)


def _insert(conn: sa.Connection, dump: EntryDump, where: str) -> None:

    scenario = _SCENARIO.dump_python(dump.entry.scenario, mode="json")
    key = content_key(scenario, list(dump.original))
    twin = conn.execute(sa.select(db.entries.c.id).where(db.entries.c.content_key == key)).scalar()
    if twin is not None:
        raise ImportFileError(
            f"{where} has the same scenario and guidelines as entry {twin} of the playbook; "
            "remove one of them (nothing was imported)"
        )
    _check_dimension(conn, dump, where)
    provenance = dump.entry.provenance
    conn.execute(
        db.entries.insert().values(
            id=dump.entry.id,
            run_id=provenance.run_id,
            round=provenance.round,
            scenario=scenario,
            scenario_text=dump.entry.scenario.text(),
            goal=dump.entry.goal,
            guidance=list(dump.entry.guidance),
            provenance=_PROVENANCE.dump_python(provenance, mode="json"),
            embedding=dump.embedding,
            embedding_model=dump.embedding_model,
            status=dump.entry.status,
            content_key=key,
            created_at=dump.created_at,
        )
    )
    _append_history(conn, dump, versions_from=0, reviews_from=0)


def _merge(conn: sa.Connection, stored: EntryDump, dump: EntryDump, where: str) -> str:
    """Continue the stored history with the file's, if the file's continues it."""
    if _continues(dump, stored):
        if (dump.versions, dump.reviews) == (stored.versions, stored.reviews):
            return "unchanged"
        _append_history(conn, dump, len(stored.versions), len(stored.reviews))
        update = db.entries.update().where(db.entries.c.id == dump.entry.id)
        conn.execute(update.values(guidance=list(dump.entry.guidance), status=dump.entry.status))
        return "updated"
    if _continues(stored, dump):
        return "unchanged"  # the playbook is ahead of the file: nothing to take from it
    raise ImportFileError(
        f"{where} was reviewed differently in the playbook and in the file since they were the "
        "same; keep one side's history (export the entry again from the playbook to keep), "
        "nothing was imported"
    )


def _continues(longer: EntryDump, shorter: EntryDump) -> bool:
    return (
        longer.versions[: len(shorter.versions)] == shorter.versions
        and longer.reviews[: len(shorter.reviews)] == shorter.reviews
    )


def _append_history(
    conn: sa.Connection, dump: EntryDump, versions_from: int, reviews_from: int
) -> None:
    versions = [{**vars(v), "guidance": list(v.guidance)} for v in dump.versions[versions_from:]]
    reviews = [{**vars(r), "entry_id": dump.entry.id} for r in dump.reviews[reviews_from:]]
    if versions:
        conn.execute(db.entry_versions.insert(), versions)
    if reviews:
        conn.execute(db.reviews.insert(), reviews)


def _check_dimension(conn: sa.Connection, dump: EntryDump, where: str) -> None:
    e = db.entries.c
    query = (
        sa.select(sa.func.length(e.embedding))
        .where(e.embedding_model == dump.embedding_model)
        .limit(1)
    )
    size = conn.execute(query).scalar()
    if size is not None and size != len(dump.embedding):
        raise ImportFileError(
            f"{where}: its {dump.embedding_model!r} vector has {len(dump.embedding) // 4} "
            f"dimensions, the playbook's have {size // 4}; nothing was imported"
        )


def _content(dump: EntryDump) -> tuple[Any, ...]:
    return (
        _SCENARIO.dump_python(dump.entry.scenario, mode="json"),
        _PROVENANCE.dump_python(dump.entry.provenance, mode="json"),
        dump.embedding_model,
        dump.embedding,
        dump.original,
    )


def _histories(
    conn: sa.Connection, entry_ids: list[int]
) -> tuple[dict[int, tuple[EntryVersion, ...]], dict[int, tuple[ReviewEvent, ...]]]:
    v, r = db.entry_versions.c, db.reviews.c
    versions: dict[int, list[EntryVersion]] = {}
    reviews: dict[int, list[ReviewEvent]] = {}
    # In chunks: SQLite limits the number of parameters in one statement.
    for start in range(0, len(entry_ids), 500):
        chunk = entry_ids[start : start + 500]
        query = sa.select(db.entry_versions).where(v.entry_id.in_(chunk)).order_by(v.id)
        for row in conn.execute(query):
            versions.setdefault(row.entry_id, []).append(
                EntryVersion(
                    row.entry_id,
                    row.version,
                    tuple(row.guidance),
                    row.reviewer,
                    row.reason,
                    row.created_at,
                    row.checks,
                )
            )
        query = sa.select(db.reviews).where(r.entry_id.in_(chunk)).order_by(r.id)
        for row in conn.execute(query):
            reviews.setdefault(row.entry_id, []).append(
                ReviewEvent(row.action, row.status, row.reviewer, row.reason, row.created_at)
            )
    return (
        {key: tuple(sorted(vs, key=lambda x: x.version)) for key, vs in versions.items()},
        {key: tuple(rs) for key, rs in reviews.items()},
    )


def _dump(
    row: sa.Row[Any], versions: tuple[EntryVersion, ...], reviews: tuple[ReviewEvent, ...]
) -> EntryDump:
    entry = Entry(
        id=row.id,
        scenario=_SCENARIO.validate_python(row.scenario),
        guidance=tuple(row.guidance),
        provenance=_PROVENANCE.validate_python(row.provenance),
        status=row.status,
    )
    return EntryDump(entry, row.created_at, row.embedding_model, row.embedding, versions, reviews)
