"""`playbook db copy`: move a whole playbook, with its history, from one database to another
(a SQLite file to PostgreSQL when a team outgrows one host, or back, for a backup): every run,
call, entry, review, version, evaluation and served request, with their ids, in one
transaction on the target, which must be empty."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from playbook.store.core import Store, StoreError
from playbook.store.migrations import schema as db

CHUNK = 1000  # rows read and written per step: a large calls table never sits in memory whole
# Parents before children (the database checks the references); locks belong to processes
# running on the source, so they stay behind.
ORDER = (
    "runs",
    "calls",
    "entries",
    "reviews",
    "entry_versions",
    "failures",
    "evaluations",
    "served",
    "calls_in_flight",
)
SKIPPED = ("locks",)


@dataclass(frozen=True)
class Copied:
    tables: dict[str, int]  # rows copied per table

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


def copy_playbook(
    source: Store, target: Store, progress: Callable[[str, int], None] | None = None
) -> Copied:
    """Copy everything in `source` into `target` (both open, so both at the newest schema).

    Refuses a target that holds anything; on any error the target is left empty."""
    tables = _tables()
    with target._engine.connect() as conn:
        used = [
            t.name
            for t in tables
            if conn.execute(sa.select(sa.func.count()).select_from(t)).scalar()
        ]
    if used:
        raise StoreError(
            f"playbook {target.path} is not empty ({', '.join(used)} hold rows); copy into a new "
            "file or an empty database (nothing was copied)"
        )
    counts: dict[str, int] = {}
    with source._engine.connect() as reading, target._write() as writing:
        for table in tables:
            counts[table.name] = 0
            query = sa.select(table)
            if "id" in table.c:
                query = query.order_by(table.c.id)
            rows = reading.execution_options(stream_results=True).execute(query)
            insert = _nulls_kept(table).insert()
            for part in rows.partitions(CHUNK):
                writing.execute(insert, [row._asdict() for row in part])
                counts[table.name] += len(part)
                if progress is not None:
                    progress(table.name, counts[table.name])
            target.dialect.continue_ids(writing, table)
        for table in tables:  # still in the transaction: a mismatch leaves the target empty
            now = reading.execute(sa.select(sa.func.count()).select_from(table)).scalar()
            if now != counts[table.name]:
                raise StoreError(
                    f"{table.name} changed while it was copied; copy again while nothing writes "
                    f"to {source.path} (nothing was copied)"
                )
    return Copied(counts)


def _nulls_kept(table: sa.Table) -> sa.Table:
    """The table for writing: a NULL read from a JSON column is written as NULL, not as the JSON
    text `null` (what a JSON column makes of None by default)."""
    columns = []
    for column in table.columns:
        kind = column.type
        if isinstance(kind, sa.JSON) or isinstance(getattr(kind, "impl", None), sa.JSON):
            kind = sa.JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
        columns.append(sa.Column(column.name, kind, primary_key=column.primary_key))
    return sa.Table(table.name, sa.MetaData(), *columns)


def _tables() -> list[sa.Table]:
    known = {t.name: t for t in db.metadata.sorted_tables}
    ordered = [known[name] for name in ORDER if name in known]
    rest = [t for t in db.metadata.sorted_tables if t.name not in (*ORDER, *SKIPPED)]
    return ordered + rest
