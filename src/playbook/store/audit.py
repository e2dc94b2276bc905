"""The store's queries for auditing: entries filtered, searched and sorted with what they did
(times served, ratings of the evaluated conversations that used them, rating gain), one
entry's use, and totals per run.

Entry ids inside the JSON lists of `served` and `evaluations` are read with the database's
JSON functions (SQLite's json_each, PostgreSQL's jsonb_array_elements; see dialect.py), so a
page of 50 entries costs one query however large the logs are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from playbook.store.dialect import Dialect
from playbook.store.migrations import schema as db

ENTRY_SORTS = ("queue", "id", "usage", "gain", "rating", "evaluated")
"""queue: the review queue, unreviewed (proposed) first, then by how often the entry is served
and how often evaluation used it (how often it would be served); id: oldest first; usage: most
served first; gain: largest rating gain first; rating: worst-rated evaluated conversations
first; evaluated: most evaluated first."""


@dataclass(frozen=True)
class EntryQuery:
    status: str | None = None
    run_id: str | None = None
    round: int | None = None
    student: str | None = None  # the student model spec of the run that learned the entry
    search: str = ""  # a piece of guideline text, case-insensitive
    sort: str = "id"
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True)
class EntryRow:
    """One line of the entries page."""

    id: int
    status: str
    run_id: str
    round: int
    student: str | None
    persona: str
    source: str
    last_message: str
    guidance: tuple[str, ...]
    version: int
    served: int
    evaluated: int
    rating: float | None  # mean overall rating of the evaluated conversations that used it
    gain: int  # best attempt's rating minus the student's rating without guidance
    created_at: datetime
    reason: str = ""  # why its status was last set (a rejection's reason)


@dataclass(frozen=True)
class EntryFacets:
    """The values the entries can be filtered by, and how many entries have each status."""

    statuses: dict[str, int]
    runs: list[str]
    rounds: list[int]
    students: list[str]


@dataclass(frozen=True)
class UsedIn:
    """An evaluated conversation whose agent was given the entry's guidance."""

    run_id: str
    student: str
    condition: str
    persona: str
    sample: int
    satisfaction: int
    compliance: int

    @property
    def score(self) -> float:
        return (self.satisfaction + self.compliance) / 2


@dataclass(frozen=True)
class EntryUsage:
    served: int
    last_served_at: datetime | None
    evaluated: int
    satisfaction: float | None
    compliance: float | None
    conversations: list[UsedIn]  # the worst-rated first

    @property
    def rating(self) -> float | None:
        if self.satisfaction is None or self.compliance is None:
            return None
        return (self.satisfaction + self.compliance) / 2


@dataclass(frozen=True)
class RunTotals:
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    entries: int = 0
    failures: int = 0


class AuditQueries:
    """Mixed into Store: it provides the engine and the dialect."""

    _engine: sa.Engine
    dialect: Dialect

    def entry_rows(self, query: EntryQuery) -> tuple[list[EntryRow], int]:
        """One page of entries matching `query`, and how many match in all."""
        d = self.dialect
        served, evaluated = _served_counts(d), _evaluation_stats(d)
        versions, reasons = _latest_versions(), _latest_reasons()
        columns = [*_row_columns(d, served, evaluated, versions), reasons.c.reason]
        select = (
            sa.select(*columns)
            .outerjoin(served, served.c.entry_id == db.entries.c.id)
            .outerjoin(evaluated, evaluated.c.entry_id == db.entries.c.id)
            .outerjoin(versions, versions.c.entry_id == db.entries.c.id)
            .outerjoin(reasons, reasons.c.entry_id == db.entries.c.id)
        )
        select = _where(d, select, query).order_by(*_order(d, query.sort, served, evaluated))
        count = _where(d, sa.select(sa.func.count()).select_from(db.entries), query)
        with self._engine.connect() as conn:
            rows = conn.execute(select.limit(query.limit).offset(query.offset)).all()
            total = int(conn.execute(count).scalar_one())
        return [_entry_row(row) for row in rows], total

    def queue(self) -> list[int]:
        """Every entry id in review-queue order (see ENTRY_SORTS)."""
        d = self.dialect
        served, evaluated = _served_counts(d), _evaluation_stats(d)
        select = (
            sa.select(db.entries.c.id)
            .outerjoin(served, served.c.entry_id == db.entries.c.id)
            .outerjoin(evaluated, evaluated.c.entry_id == db.entries.c.id)
            .order_by(*_order(d, "queue", served, evaluated))
        )
        with self._engine.connect() as conn:
            return [int(i) for i in conn.execute(select).scalars()]

    def entry_facets(self) -> EntryFacets:
        e = db.entries.c
        by_status = sa.select(e.status, sa.func.count()).group_by(e.status)
        runs = sa.select(e.run_id).group_by(e.run_id).order_by(sa.func.min(e.id))
        rounds = sa.select(e.round).distinct().order_by(e.round)
        student = _student(self.dialect)
        students = sa.select(student).distinct().order_by(student)
        with self._engine.connect() as conn:
            return EntryFacets(
                {str(status): int(n) for status, n in conn.execute(by_status)},
                [str(r) for r in conn.execute(runs).scalars()],
                [int(r) for r in conn.execute(rounds).scalars()],
                [str(s) for s in conn.execute(students).scalars() if s is not None],
            )

    def entry_usage(self, entry_id: int, conversations: int = 20) -> EntryUsage:
        """How often the proxy served the entry, and how the evaluated conversations that used
        it were rated (the `conversations` worst-rated of them listed)."""
        served_ids = _ids(self.dialect, db.served.c.entry_ids, "used")
        served = (
            sa.select(sa.func.count(), sa.func.max(db.served.c.created_at))
            .select_from(db.served)
            .join(served_ids, sa.true())
            .where(_id_value(served_ids) == entry_id)
        )
        ev = db.evaluations.c
        eval_ids = _ids(self.dialect, ev.entry_ids, "used")
        used = (
            sa.select(db.evaluations)
            .join(eval_ids, sa.true())
            .where(_id_value(eval_ids) == entry_id)
            .subquery()
        )
        totals = sa.select(sa.func.count(), _mean(used.c.satisfaction), _mean(used.c.compliance))
        worst = (
            sa.select(used)
            .order_by(used.c.satisfaction + used.c.compliance, used.c.id)
            .limit(conversations)
        )
        with self._engine.connect() as conn:
            times, last = conn.execute(served).one()
            count, satisfaction, compliance = conn.execute(totals).one()
            rows = conn.execute(worst).all()
        listed = [
            UsedIn(
                r.run_id,
                r.student,
                r.condition,
                _persona_id(r.persona),
                r.sample,
                r.satisfaction,
                r.compliance,
            )
            for r in rows
        ]
        return EntryUsage(int(times), last, int(count), satisfaction, compliance, listed)

    def run_totals(self) -> dict[str, RunTotals]:
        """Calls, tokens, cost, entries and failures of every run, in three grouped queries."""
        c = db.calls.c
        live = sa.not_(c.cached)  # tokens and cost of cache hits were paid by an earlier call
        calls = sa.select(
            c.run_id,
            sa.func.count(),
            sa.func.sum(sa.case((live, c.input_tokens), else_=0)),
            sa.func.sum(sa.case((live, c.output_tokens), else_=0)),
            sa.func.sum(c.cost),
        ).group_by(c.run_id)
        entries = sa.select(db.entries.c.run_id, sa.func.count()).group_by(db.entries.c.run_id)
        failures = sa.select(db.failures.c.run_id, sa.func.count()).group_by(db.failures.c.run_id)
        totals: dict[str, dict[str, Any]] = {}
        with self._engine.connect() as conn:
            for run_id, n, tokens_in, tokens_out, cost in conn.execute(calls):
                totals.setdefault(run_id, {}).update(
                    calls=n,
                    input_tokens=tokens_in or 0,
                    output_tokens=tokens_out or 0,
                    cost=cost or 0.0,
                )
            for run_id, n in conn.execute(entries):
                totals.setdefault(run_id, {})["entries"] = n
            for run_id, n in conn.execute(failures):
                totals.setdefault(run_id, {})["failures"] = n
        return {run_id: RunTotals(**values) for run_id, values in totals.items()}

    def entries_by_round(self, run_id: str) -> dict[int, dict[str, int]]:
        """The run's entries so far, per round and review status (its progress while running)."""
        e = db.entries.c
        query = (
            sa.select(e.round, e.status, sa.func.count())
            .where(e.run_id == run_id)
            .group_by(e.round, e.status)
            .order_by(e.round)
        )
        counts: dict[int, dict[str, int]] = {}
        with self._engine.connect() as conn:
            for round_number, status, n in conn.execute(query):
                counts.setdefault(int(round_number), {})[str(status)] = int(n)
        return counts


def _ids(dialect: Dialect, column: sa.ColumnElement[Any], name: str) -> Any:
    """The ids of a JSON list column as a table, joined per row."""
    return dialect.json_scalar_elements(column, name)


def _id_value(ids: Any) -> sa.ColumnElement[int]:
    # Typed, so that SQLite indexes the grouped ids for the join with entries (without the
    # cast, a page sorted by use compared every entry with every group: seconds, not ms), and
    # PostgreSQL compares the ids (text there) with integers.
    return sa.cast(ids.c.value, sa.Integer)


def _entry_id(ids: Any) -> sa.Label[int]:
    return _id_value(ids).label("entry_id")


def _mean(column: Any) -> sa.ColumnElement[float]:
    """An average as a float on both databases (PostgreSQL's avg of integers is a decimal)."""
    return sa.cast(sa.func.avg(column), sa.Float)


def _served_counts(dialect: Dialect) -> sa.Subquery:
    used = _ids(dialect, db.served.c.entry_ids, "used")
    return (
        sa.select(_entry_id(used), sa.func.count().label("served"))
        .select_from(db.served)
        .join(used, sa.true())
        .group_by(_id_value(used))
        .subquery("served_counts")
    )


def _evaluation_stats(dialect: Dialect) -> sa.Subquery:
    ev = db.evaluations.c
    used = _ids(dialect, ev.entry_ids, "used")
    score = (ev.satisfaction + ev.compliance) / 2.0
    return (
        sa.select(
            _entry_id(used),
            sa.func.count().label("evaluated"),
            _mean(score).label("rating"),
        )
        .select_from(db.evaluations)
        .join(used, sa.true())
        .group_by(_id_value(used))
        .subquery("evaluation_stats")
    )


def _latest_versions() -> sa.Subquery:
    v = db.entry_versions.c
    return (
        sa.select(v.entry_id, sa.func.max(v.version).label("version"))
        .group_by(v.entry_id)
        .subquery("latest_versions")
    )


def _latest_reasons() -> sa.Subquery:
    r = db.reviews.c
    latest = sa.select(sa.func.max(r.id).label("id")).group_by(r.entry_id).subquery("latest")
    return (
        sa.select(r.entry_id, r.reason).join(latest, latest.c.id == r.id).subquery("latest_reasons")
    )


def _student(dialect: Dialect) -> sa.ColumnElement[Any]:
    return dialect.json_value(db.entries.c.provenance, "models", "student")


def _gain(dialect: Dialect) -> sa.ColumnElement[Any]:
    e = db.entries.c
    attempts = dialect.json_elements(e.provenance, "att", ("attempts",))
    rating = dialect.json_value(attempts.c.value, "verdict", "rating", as_type=sa.Integer)
    best = sa.select(sa.func.max(rating)).select_from(attempts).scalar_subquery()
    baseline = dialect.json_value(e.provenance, "baseline", "verdict", "rating", as_type=sa.Integer)
    return sa.func.coalesce(best, baseline) - baseline


def _row_columns(
    dialect: Dialect, served: sa.Subquery, evaluated: sa.Subquery, versions: sa.Subquery
) -> list[Any]:
    e = db.entries.c
    return [
        e.id,
        e.status,
        e.run_id,
        e.round,
        _student(dialect).label("student"),
        dialect.json_value(e.scenario, "persona", "id").label("persona"),
        dialect.json_value(e.scenario, "persona", "source").label("source"),
        dialect.json_value(e.scenario, "turns", -1, "text").label("last_message"),
        e.guidance,
        sa.func.coalesce(versions.c.version, 1).label("version"),
        sa.func.coalesce(served.c.served, 0).label("served"),
        sa.func.coalesce(evaluated.c.evaluated, 0).label("evaluated"),
        evaluated.c.rating,
        _gain(dialect).label("gain"),
        e.created_at,
    ]


def _where(dialect: Dialect, select: sa.Select[Any], query: EntryQuery) -> sa.Select[Any]:
    e = db.entries.c
    if query.status is not None:
        select = select.where(e.status == query.status)
    if query.run_id is not None:
        select = select.where(e.run_id == query.run_id)
    if query.round is not None:
        select = select.where(e.round == query.round)
    if query.student is not None:
        select = select.where(_student(dialect) == query.student)
    if query.search.strip():
        lines = dialect.json_scalar_elements(e.guidance, "line")
        pattern = "%" + _escape_like(query.search.strip()) + "%"
        found = lines.c.value.ilike(pattern, escape="\\")
        matching = sa.select(1).select_from(lines).where(found)
        select = select.where(matching.exists())
    return select


def _order(dialect: Dialect, sort: str, served: sa.Subquery, evaluated: sa.Subquery) -> list[Any]:
    e = db.entries.c
    if sort == "queue":
        return [
            (e.status != "proposed"),
            sa.func.coalesce(served.c.served, 0).desc(),
            sa.func.coalesce(evaluated.c.evaluated, 0).desc(),
            e.id,
        ]
    first = {
        "usage": sa.func.coalesce(served.c.served, 0).desc(),
        "gain": _gain(dialect).desc(),
        "rating": evaluated.c.rating.asc().nulls_last(),
        "evaluated": sa.func.coalesce(evaluated.c.evaluated, 0).desc(),
    }.get(sort)
    return [e.id] if first is None else [first, e.id]


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _entry_row(row: sa.Row[Any]) -> EntryRow:
    values = row._asdict()
    values["guidance"] = tuple(values["guidance"])
    values["persona"] = values["persona"] or ""
    values["source"] = values["source"] or ""
    values["last_message"] = values["last_message"] or ""
    values["gain"] = int(values["gain"] or 0)
    values["reason"] = values["reason"] or ""
    return EntryRow(**values)


def _persona_id(persona: object) -> str:
    return str(persona.get("id", "")) if isinstance(persona, dict) else ""
