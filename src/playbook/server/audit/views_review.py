"""The review panel of an entry's page: where it is in the review queue, the policy beside the
guidelines, the policy-check verdict and the verification ratings of the version served, each
version's diff from the one before and the check it passed, and the drafts that failed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from playbook.screen import screen
from playbook.server.audit.views import when
from playbook.server.audit.views_guidelines import lines_diff
from playbook.store.guidelines import Draft, guideline_key
from playbook.store.records import EntryVersion, ReviewRecord
from playbook.types import Entry, rating_word


def review_panel(
    entry: Entry,
    versions: Sequence[EntryVersion],
    reviews: Sequence[ReviewRecord],
    drafts: Sequence[Draft],
    queue: Sequence[int],
    policy: str | None,
    learned_with_check: bool,
) -> dict[str, Any]:
    return {
        "queue": queue_position(entry.id or 0, queue),
        "guideline_urls": [f"/guidelines/{guideline_key(g)}" for g in entry.guidance],
        "policy": policy,
        "policy_check": policy_verdict(entry, versions, reviews, policy, learned_with_check),
        "verification": verification(entry, versions),
        "version_diffs": [
            _version(v, versions[i - 1] if i else None) for i, v in enumerate(versions)
        ],
        "drafts": [_draft(d, entry.guidance) for d in drafts],
    }


def queue_position(entry_id: int, queue: Sequence[int]) -> dict[str, Any]:
    """The entries before and after this one in the review queue."""
    if entry_id not in queue:
        return {"position": None, "total": len(queue), "previous": None, "next": None}
    at = queue.index(entry_id)
    return {
        "position": at + 1,
        "total": len(queue),
        "previous": f"/entries/{queue[at - 1]}" if at > 0 else None,
        "next": f"/entries/{queue[at + 1]}" if at + 1 < len(queue) else None,
    }


def policy_verdict(
    entry: Entry,
    versions: Sequence[EntryVersion],
    reviews: Sequence[ReviewRecord],
    policy: str | None,
    learned_with_check: bool,
) -> dict[str, str]:
    """What the policy check said of the guidance served now, and when."""
    current = versions[-1]
    if current.checks is not None:
        verdict = "complies" if current.checks.get("policy") == "complies" else "violates"
        return {"verdict": verdict, "detail": f"checked when version {current.version} was saved"}
    if reviews and reviews[0].reviewer == "policy check":
        return {"verdict": "violates", "detail": reviews[0].reason}
    if policy is not None:
        screened = screen(entry.guidance, policy)
        if screened is not None:
            return {"verdict": "violates", "detail": screened}
    if current.version > 1:
        return {"verdict": "not checked", "detail": "edited before edits were checked"}
    if learned_with_check:
        return {"verdict": "complies", "detail": "checked by the judge when it was learned"}
    return {"verdict": "not checked", "detail": "learned with the policy check off"}


def verification(entry: Entry, versions: Sequence[EntryVersion]) -> dict[str, Any]:
    """The student's ratings without guidance and with it: at learning, and after an edit."""
    p = entry.provenance
    best = max((a.verdict.rating for a in p.attempts), default=p.baseline.verdict.rating)
    learned = {
        "without": p.baseline.verdict.rating,
        "without_word": p.baseline.verdict.word,
        "with": best,
        "with_word": rating_word(best),
    }
    checks = versions[-1].checks
    edited = None
    if checks is not None and checks.get("after") is not None:
        edited = {k: checks[k] for k in ("without", "before", "after")}
    return {"learned": learned, "edited": edited}


def _version(v: EntryVersion, previous: EntryVersion | None) -> dict[str, Any]:
    return {
        "version": v.version,
        "diff": lines_diff(previous.guidance if previous else (), v.guidance),
        "checks": v.checks,
    }


def _draft(d: Draft, current: Sequence[str]) -> dict[str, Any]:
    return {
        "id": d.id,
        "guidance": list(d.guidance),
        "diff": lines_diff(current, d.guidance),
        "reviewer": d.reviewer,
        "reason": d.reason,
        "problem": d.problem,
        "checks": d.checks,
        "created_at": when(d.created_at),
    }
