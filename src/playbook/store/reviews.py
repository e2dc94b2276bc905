"""The store's review work: reviewers' edits of an entry's guideline list (every version kept,
version 1 being the learner's original), and status changes of many entries at once."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from playbook.errors import UserError
from playbook.parse import MAX_GUIDELINES  # the same cap for a reviewer as for the teacher
from playbook.store.base import ENTRY_STATUSES, missing, now
from playbook.store.migrations import schema as db
from playbook.store.records import EntryVersion
from playbook.types import Guidance

MAX_GUIDELINE_CHARS = 1000
MAX_REASON_CHARS = 2000


class ReviewError(UserError):
    """A review action that cannot be done as asked; the message says what to change."""


class ReviewConflict(ReviewError):
    """The entry was edited by someone else since the reviewer opened it."""


def clean_guidance(lines: Iterable[str]) -> Guidance:
    """A reviewer's guideline list, tidied: one guideline per line, blank lines dropped."""
    guidance = tuple(" ".join(line.split()) for line in lines if line.strip())
    if not guidance:
        raise ReviewError("a guideline list needs at least one guideline (one per line)")
    if len(guidance) > MAX_GUIDELINES:
        raise ReviewError(
            f"{len(guidance)} guidelines is too many; keep at most {MAX_GUIDELINES} "
            "(the student reads them all on every turn)"
        )
    for number, line in enumerate(guidance, 1):
        if len(line) > MAX_GUIDELINE_CHARS:
            raise ReviewError(
                f"guideline {number} has {len(line)} characters; shorten it to at most "
                f"{MAX_GUIDELINE_CHARS}"
            )
    return guidance


def clean_reason(reason: str) -> str:
    reason = reason.strip()
    if len(reason) > MAX_REASON_CHARS:
        raise ReviewError(f"the reason is too long; keep it under {MAX_REASON_CHARS} characters")
    return reason


class ReviewQueries:
    """Mixed into Store: it provides the path, the engine and the serialised write transaction."""

    path: Path | str
    _engine: sa.Engine

    def _write(self) -> AbstractContextManager[sa.Connection]:
        raise NotImplementedError

    def versions(self, entry_id: int) -> list[EntryVersion]:
        """Every version of the entry's guidance, oldest first; never empty.

        Until a reviewer edits the entry only its current guidance exists, and that is the
        learner's original: it is returned as version 1.
        """
        with self._engine.connect() as conn:
            stored = _stored_versions(conn, entry_id)
            if stored:
                return stored
            original = _original(conn, entry_id)
        if original is None:
            raise missing(self.path, "entry", entry_id)
        return [original]

    def edit_guidance(
        self,
        entry_id: int,
        guidance: Sequence[str],
        reviewer: str,
        *,
        reason: str = "",
        status: str | None = None,
        base_version: int | None = None,
        checks: dict[str, Any] | None = None,
    ) -> EntryVersion:
        """Replace the entry's guidance with a new version, keeping every earlier one.

        The entry keeps its status unless `status` is given. `base_version`, if given, is the
        version the reviewer edited: if someone saved another since, nothing is written.
        A review row (action "edited") records who, when and why, and tells a running server
        to reload. `checks` is the edit check the new version passed (edit_check.py).
        """
        new, reason = clean_guidance(guidance), clean_reason(reason)
        if status is not None:
            _check_status(status)
        with self._write() as conn:
            # Locked until saved: two reviewers saving at once on PostgreSQL are taken in turn,
            # so the second sees the first's version (SQLite serialises writers anyway).
            row = conn.execute(_entry_state(entry_id).with_for_update()).first()
            if row is None:
                raise missing(self.path, "entry", entry_id)
            stored = _stored_versions(conn, entry_id)
            current = stored[-1].version if stored else 1
            if base_version is not None and base_version != current:
                raise ReviewConflict(
                    f"entry {entry_id} was edited by someone else since you opened it (you "
                    f"edited version {base_version}, it is now at version {current}); reload "
                    "the entry and edit again"
                )
            if tuple(row.guidance) == new:
                raise ReviewError(f"entry {entry_id}: the guidelines are unchanged; nothing saved")
            if not stored:  # the learner's original becomes version 1 before it is replaced
                original = _original(conn, entry_id)
                assert original is not None
                conn.execute(_version_row(original))
            version = EntryVersion(entry_id, current + 1, new, reviewer, reason, now(), checks)
            conn.execute(_version_row(version))
            final = status or row.status
            update = db.entries.update().where(db.entries.c.id == entry_id)
            conn.execute(update.values(guidance=list(new), status=final))
            conn.execute(
                review_row(entry_id, final, reviewer, reason, "edited", version.created_at)
            )
        return version

    def set_statuses(
        self, entry_ids: Sequence[int], status: str, reviewer: str, reason: str = ""
    ) -> None:
        """Approve, reject or re-propose entries, all or none; each change is kept in history."""
        _check_status(status)
        reason = clean_reason(reason)
        ids = list(dict.fromkeys(entry_ids))
        if not ids:
            raise ReviewError("no entries chosen")
        e = db.entries.c
        with self._write() as conn:
            found = set(conn.execute(sa.select(e.id).where(e.id.in_(ids))).scalars())
            unknown = [str(i) for i in ids if i not in found]
            if unknown:
                raise missing(self.path, "entry", ", ".join(unknown))
            conn.execute(db.entries.update().where(e.id.in_(ids)).values(status=status))
            at = now()
            conn.execute(
                db.reviews.insert(),
                [_review_values(i, status, reviewer, reason, "status", at) for i in ids],
            )


def review_row(
    entry_id: int, status: str, reviewer: str, reason: str, action: str, at: datetime
) -> sa.Insert:
    return db.reviews.insert().values(
        _review_values(entry_id, status, reviewer, reason, action, at)
    )


def _review_values(
    entry_id: int, status: str, reviewer: str, reason: str, action: str, at: datetime
) -> dict[str, Any]:
    return dict(
        entry_id=entry_id,
        status=status,
        reviewer=reviewer,
        reason=reason,
        action=action,
        created_at=at,
    )


def _entry_state(entry_id: int) -> sa.Select[Any]:
    e = db.entries.c
    return sa.select(e.guidance, e.status, e.created_at).where(e.id == entry_id)


def _stored_versions(conn: sa.Connection, entry_id: int) -> list[EntryVersion]:
    v = db.entry_versions.c
    query = sa.select(db.entry_versions).where(v.entry_id == entry_id).order_by(v.version)
    return [_version(row) for row in conn.execute(query)]


def _original(conn: sa.Connection, entry_id: int) -> EntryVersion | None:
    """Version 1 of an entry never edited: its guidance, by whoever added the entry."""
    row = conn.execute(_entry_state(entry_id)).first()
    if row is None:
        return None
    r = db.reviews.c
    first = sa.select(r.reviewer).where(r.entry_id == entry_id).order_by(r.id).limit(1)
    author = conn.execute(first).scalar() or "learner"
    return EntryVersion(entry_id, 1, tuple(row.guidance), author, "", row.created_at)


def _version(row: sa.Row[Any]) -> EntryVersion:
    return EntryVersion(
        entry_id=row.entry_id,
        version=row.version,
        guidance=tuple(row.guidance),
        reviewer=row.reviewer,
        reason=row.reason,
        created_at=row.created_at,
        checks=row.checks,
    )


def _version_row(version: EntryVersion) -> sa.Insert:
    values = {name: getattr(version, name) for name in EntryVersion.__dataclass_fields__}
    values["guidance"] = list(version.guidance)
    return db.entry_versions.insert().values(values)


def _check_status(status: str) -> None:

    if status not in ENTRY_STATUSES:
        raise ReviewError(f"status {status!r} is not one of {', '.join(ENTRY_STATUSES)}")
