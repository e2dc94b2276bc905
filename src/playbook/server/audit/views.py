"""View models: what each audit page shows, as plain JSON-ready dicts. The page's template
renders the dict and its JSON twin returns it, so the two never disagree."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from pydantic import TypeAdapter

from playbook.store.audit import EntryFacets, EntryQuery, EntryRow, EntryUsage
from playbook.store.records import EntryVersion, ReviewRecord
from playbook.types import Attempt, Entry, Persona, Turn

_PERSONA = TypeAdapter(Persona)
# Config keys whose values could be secrets; `..._env` keys hold variable names, not values.
_SECRET_KEY = re.compile(r"(api_?keys?|secret|token|password|reviewer_key)$", re.IGNORECASE)


def when(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds")


def entry_list(
    rows: Sequence[EntryRow], total: int, facets: EntryFacets, query: EntryQuery, page: int
) -> dict[str, Any]:
    pages = max(1, -(-total // query.limit))
    return {
        "entries": [_row(row) for row in rows],
        "total": total,
        "page": page,
        "pages": pages,
        "previous": list_url(query, page - 1) if page > 1 else None,
        "next": list_url(query, page + 1) if page < pages else None,
        "filters": filters(query),
        "facets": asdict(facets),
    }


def filters(query: EntryQuery) -> dict[str, Any]:
    """The query as URL parameters, None where unset."""
    return {
        "status": query.status,
        "run": query.run_id,
        "round": query.round,
        "student": query.student,
        "q": query.search or None,
        "sort": query.sort if query.sort != "queue" else None,
    }


def list_url(query: EntryQuery, page: int) -> str:
    """The entries page with these filters (unset ones left out) at `page`."""
    values = {key: value for key, value in filters(query).items() if value is not None}
    return "/entries?" + urlencode({**values, "page": page})


def _row(row: EntryRow) -> dict[str, Any]:
    data = asdict(row)
    data["guidance"] = list(row.guidance)
    data["created_at"] = when(row.created_at)
    data["rating"] = None if row.rating is None else round(row.rating, 2)
    data["url"] = f"/entries/{row.id}"
    return data


def entry_detail(
    entry: Entry,
    versions: Sequence[EntryVersion],
    reviews: Sequence[ReviewRecord],
    usage: EntryUsage,
) -> dict[str, Any]:
    p = entry.provenance
    best = max(p.attempts, key=lambda a: a.verdict.rating, default=None)
    return {
        "id": entry.id,
        "status": entry.status,
        "guidance": list(entry.guidance),
        "version": versions[-1].version,
        "scenario": {
            "persona": _PERSONA.dump_python(entry.scenario.persona, mode="json"),
            "turns": [_turn(t) for t in entry.scenario.turns],
        },
        "reference": p.reference,
        "baseline": _attempt(p.baseline),
        "attempts": [_attempt(a) for a in p.attempts],
        "gain": (best.verdict.rating if best else p.baseline.verdict.rating)
        - p.baseline.verdict.rating,
        "origin": {"run_id": p.run_id, "round": p.round, "models": dict(p.models)},
        "usage": _usage(usage),
        "versions": [_version(v) for v in versions],
        "reviews": _history(reviews),
        "created_at": when(versions[0].created_at),
    }


def _turn(turn: Turn) -> dict[str, str]:
    return {"speaker": turn.speaker, "text": turn.text}


def _attempt(attempt: Attempt) -> dict[str, Any]:
    return {
        "guidance": list(attempt.guidance),
        "reply": attempt.reply,
        "rating": attempt.verdict.rating,
        "rating_word": attempt.verdict.word,
        "explanation": attempt.verdict.explanation,
    }


def _usage(usage: EntryUsage) -> dict[str, Any]:
    def mean(value: float | None) -> float | None:
        return None if value is None else round(value, 2)

    return {
        "served": usage.served,
        "last_served_at": when(usage.last_served_at),
        "evaluated": usage.evaluated,
        "satisfaction": mean(usage.satisfaction),
        "compliance": mean(usage.compliance),
        "rating": mean(usage.rating),
        "worst_conversations": [{**asdict(c), "score": c.score} for c in usage.conversations],
    }


def _version(version: EntryVersion) -> dict[str, Any]:
    return {
        "version": version.version,
        "guidance": list(version.guidance),
        "reviewer": version.reviewer,
        "reason": version.reason,
        "created_at": when(version.created_at),
    }


def _history(reviews: Sequence[ReviewRecord]) -> list[dict[str, Any]]:
    """Review rows oldest first; an edit names the version it made (they are written together,
    so the n-th edit made version n + 1)."""
    history, edits = [], 0
    for review in reviews:
        item: dict[str, Any] = {
            "action": review.action,
            "status": review.status,
            "reviewer": review.reviewer,
            "reason": review.reason,
            "created_at": when(review.created_at),
        }
        if review.action == "edited":
            edits += 1
            item["version"] = edits + 1
        history.append(item)
    return history


def finite(value: Any) -> Any:
    """JSON-ready: NaN and infinities (a statistic over too few samples) become None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite(item) for item in value]
    return value


def redacted(value: Any) -> Any:
    """A stored config with any value under a secret-looking key masked (defence in depth: the
    configs we store hold variable names, never keys)."""
    if isinstance(value, dict):
        return {
            key: "***" if _SECRET_KEY.search(str(key)) and item else redacted(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redacted(item) for item in value]
    return value
