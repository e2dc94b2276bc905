"""The store's guidelines: each distinct guideline line once, with the entries that use it
(a guideline is its text; entries share it by containing the same line), its own history
(edited, approved, rejected once for every entry using it), and the drafts: edits that failed
their check, kept with the reason and never served."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from playbook.store.dialect import Dialect
from playbook.store.migrations import schema as db


def guideline_key(text: str) -> str:
    """A short stable name for a guideline's text, for URLs."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class GuidelineUse:
    entry_id: int
    status: str
    last_message: str
    served: int


@dataclass(frozen=True)
class Guideline:
    """One distinct guideline line and the entries whose current guidance contains it."""

    text: str
    uses: list[GuidelineUse] = field(default_factory=list)
    review: str | None = None  # the guideline's own latest approval or rejection, if any

    @property
    def key(self) -> str:
        return guideline_key(self.text)

    @property
    def served(self) -> int:
        return sum(u.served for u in self.uses)

    def statuses(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for use in self.uses:
            counts[use.status] = counts.get(use.status, 0) + 1
        return counts


@dataclass(frozen=True)
class GuidelineChange:
    id: int
    action: str  # edited, approved or rejected
    text: str
    new_text: str | None
    reviewer: str
    reason: str
    entry_ids: list[int]
    draft_ids: list[int]
    created_at: datetime


@dataclass(frozen=True)
class Draft:
    """An edit that failed its check: kept, with why, and not served."""

    id: int
    entry_id: int
    guidance: tuple[str, ...]
    reviewer: str
    reason: str
    problem: str
    checks: dict[str, Any] | None
    created_at: datetime


class GuidelineQueries:
    """Mixed into Store: it provides the engine, the dialect and the serialised write
    transaction."""

    _engine: sa.Engine
    dialect: Dialect

    def _write(self) -> AbstractContextManager[sa.Connection]:
        raise NotImplementedError

    def guidelines(self, search: str = "") -> list[Guideline]:
        """Every distinct guideline line (containing `search`, case-insensitive), the most
        served first, then the most used."""
        d = self.dialect
        lines = d.json_scalar_elements(db.entries.c.guidance, "line")
        e = db.entries.c
        last_message = d.json_value(e.scenario, "turns", -1, "text").label("last_message")
        query = sa.select(lines.c.value, e.id, e.status, last_message).select_from(
            db.entries.join(lines, sa.true())
        )
        if search.strip():
            text = sa.func.lower(sa.type_coerce(lines.c.value, sa.String))
            query = query.where(text.contains(search.lower(), autoescape=True))
        with self._engine.connect() as conn:
            rows = conn.execute(query.order_by(e.id)).all()
            served = _served_counts(conn, d, {row.id for row in rows})
            reviews = _latest_reviews(conn)
        found: dict[str, list[GuidelineUse]] = {}
        for row in rows:
            use = GuidelineUse(row.id, row.status, row.last_message or "", served.get(row.id, 0))
            found.setdefault(row.value, []).append(use)
        listed = [Guideline(text, uses, reviews.get(text)) for text, uses in found.items()]
        return sorted(listed, key=lambda g: (-g.served, -len(g.uses), g.text))

    def guideline(self, key: str) -> Guideline | None:
        return next((g for g in self.guidelines() if g.key == key), None)

    def guideline_history(self, text: str) -> list[GuidelineChange]:
        """What was done to this guideline, or made it (an edit whose new text it is)."""
        g = db.guideline_changes.c
        query = (
            sa.select(db.guideline_changes)
            .where(sa.or_(g.text == text, g.new_text == text))
            .order_by(g.id)
        )
        with self._engine.connect() as conn:
            return [GuidelineChange(**row._asdict()) for row in conn.execute(query)]

    def record_guideline_change(
        self,
        action: str,
        text: str,
        reviewer: str,
        reason: str,
        entry_ids: Sequence[int],
        draft_ids: Sequence[int] = (),
        new_text: str | None = None,
    ) -> int:
        values = dict(
            action=action,
            text=text,
            new_text=new_text,
            reviewer=reviewer,
            reason=reason,
            entry_ids=list(entry_ids),
            draft_ids=list(draft_ids),
            created_at=datetime.now(UTC),
        )
        return self._insert(db.guideline_changes, values)

    def add_draft(
        self,
        entry_id: int,
        guidance: Sequence[str],
        reviewer: str,
        reason: str,
        problem: str,
        checks: dict[str, Any] | None,
    ) -> int:
        values = dict(
            entry_id=entry_id,
            guidance=list(guidance),
            reviewer=reviewer,
            reason=reason,
            problem=problem,
            checks=checks,
            created_at=datetime.now(UTC),
        )
        return self._insert(db.drafts, values)

    def _insert(self, table: sa.Table, values: dict[str, Any]) -> int:
        with self._write() as conn:
            key = conn.execute(table.insert().values(values)).inserted_primary_key
        assert key is not None
        return int(key[0])

    def drafts(self, entry_id: int) -> list[Draft]:
        """The entry's failed edits, newest first."""
        d = db.drafts.c
        query = sa.select(db.drafts).where(d.entry_id == entry_id).order_by(d.id.desc())
        with self._engine.connect() as conn:
            return [_draft(row) for row in conn.execute(query)]


def _served_counts(conn: sa.Connection, dialect: Dialect, entry_ids: set[int]) -> dict[int, int]:
    if not entry_ids:
        return {}
    used = dialect.json_scalar_elements(db.served.c.entry_ids, "used")
    query = (
        sa.select(sa.cast(used.c.value, sa.Integer).label("entry_id"), sa.func.count())
        .select_from(db.served)
        .join(used, sa.true())
        .group_by(used.c.value)
    )
    return {int(i): int(n) for i, n in conn.execute(query) if i in entry_ids}


def _latest_reviews(conn: sa.Connection) -> dict[str, str]:
    """Each guideline's latest approval or rejection."""
    g = db.guideline_changes.c
    query = sa.select(g.text, g.action).where(g.action.in_(("approved", "rejected"))).order_by(g.id)
    return {text: action for text, action in conn.execute(query)}


def _draft(row: sa.Row[Any]) -> Draft:
    values = row._asdict()
    values["guidance"] = tuple(values["guidance"])
    return Draft(**values)
