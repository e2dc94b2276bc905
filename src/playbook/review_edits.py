"""Reviewers' edits, checked before they are served (edit_check.py): one entry's guideline list,
or a guideline changed once in every entry that uses it (a rewording, or a find-and-replace such
as "$75" -> "$90" across every guideline naming it). An edit that passes is a new version of the
entry, served from the next request if the entry is approved; one that fails is kept as a draft
with the reason, and the entry goes on serving what it served before.

A guideline approved once approves every entry whose guidelines are then all approved; one
rejected once is taken out of every entry using it (an entry left with none is rejected).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from playbook.edit_check import EditCheck, EditChecker, unchecked
from playbook.store.core import Store
from playbook.store.reviews import (
    MAX_REASON_CHARS,
    ReviewConflict,
    ReviewError,
    clean_guidance,
    clean_reason,
)
from playbook.types import Entry, Guidance

NO_CHECKER = (
    "this server has no student and judge to check edits with; start it with --config so "
    "that edits can be checked and served"
)
PARALLEL_CHECKS = 8


@dataclass(frozen=True)
class EditOutcome:
    entry_id: int
    guidance: Guidance
    check: EditCheck
    version: int | None = None  # the new version, when the edit passed and is served
    draft_id: int | None = None  # the draft, when it failed

    @property
    def served(self) -> bool:
        return self.version is not None


@dataclass(frozen=True)
class GuidelineEdit:
    """One edit of guidelines across the playbook: old text -> new text, and each entry's fate."""

    changes: dict[str, str]
    outcomes: list[EditOutcome]

    @property
    def drafts(self) -> list[EditOutcome]:
        return [o for o in self.outcomes if not o.served]


async def edit_entry(
    store: Store,
    checker: EditChecker | None,
    entry_id: int,
    guidance: Sequence[str],
    reviewer: str,
    *,
    reason: str = "",
    status: str | None = None,
    base_version: int | None = None,
) -> EditOutcome:
    """Check a reviewer's new guideline list for one entry, then save it or keep it as a draft."""
    new, reason = clean_guidance(guidance), clean_reason(reason)
    entry = await asyncio.to_thread(store.entry, entry_id)
    if entry.guidance == new:
        raise ReviewError(f"entry {entry_id}: the guidelines are unchanged; nothing saved")
    current = (await asyncio.to_thread(store.versions, entry_id))[-1].version
    if base_version is not None and base_version != current:
        raise ReviewConflict(
            f"entry {entry_id} was edited by someone else since you opened it (you edited "
            f"version {base_version}, it is now at version {current}); reload and edit again"
        )
    what = {"entries": [entry_id], "reviewer": reviewer, "reason": reason}
    async with review_run(store, checker, what) as (recorded, summary):
        check = await _check(recorded, entry, new)
        outcome = await asyncio.to_thread(
            _save, store, entry_id, new, check, reviewer, reason, status, base_version
        )
        summary.update(served=int(outcome.served), drafts=int(not outcome.served))
    return outcome


async def edit_guidelines(
    store: Store,
    checker: EditChecker | None,
    changes: dict[str, str],
    reviewer: str,
    reason: str = "",
) -> GuidelineEdit:
    """Change each guideline `old` to `new` in every entry using it, each entry checked."""
    changes = {old: " ".join(new.split()) for old, new in changes.items() if old != new}
    reason = clean_reason(reason)
    if not changes:
        raise ReviewError("nothing to change: the new text is the same as the old")
    if any(not new for new in changes.values()):
        raise ReviewError("a guideline cannot be edited to nothing; reject it instead")
    entries = await asyncio.to_thread(_entries_using, store, set(changes))
    limit = asyncio.Semaphore(PARALLEL_CHECKS)
    what = {"guidelines": changes, "reviewer": reviewer, "reason": reason}
    async with review_run(store, checker, what) as (recorded, summary):

        async def one(entry: Entry) -> tuple[Entry, Guidance, EditCheck]:
            new = _replaced(entry.guidance, changes)
            async with limit:
                return entry, new, await _check(recorded, entry, new)

        checked = await asyncio.gather(*(one(e) for e in entries))
        # The entry's own history says the change came from its guideline.
        why = (f"guideline edit: {reason}" if reason else "guideline edit")[:MAX_REASON_CHARS]
        outcomes = await asyncio.to_thread(_save_all, store, checked, reviewer, why)
        edit = GuidelineEdit(changes, outcomes)
        summary.update(served=len(outcomes) - len(edit.drafts), drafts=len(edit.drafts))
    await asyncio.to_thread(_record_changes, store, changes, entries, outcomes, reviewer, reason)
    return edit


@asynccontextmanager
async def review_run(
    store: Store, checker: EditChecker | None, what: dict[str, Any]
) -> AsyncIterator[tuple[EditChecker | None, dict[str, Any]]]:
    """A run of kind "review" for one edit: the check's calls are logged, cached and costed in
    it, and its summary says how many entries were served and how many kept as drafts."""
    if checker is None:
        yield None, {}
        return
    run_id = await asyncio.to_thread(store.start_run, "review", what, checker.models())
    summary: dict[str, Any] = {}
    status = "failed"
    try:
        yield checker.recorded(store, run_id), summary
        status = "finished"
    finally:
        await asyncio.to_thread(store.finish_run, run_id, status, summary)


def replacements(store: Store, find: str, replace: str) -> dict[str, str]:
    """Every guideline containing `find` (as typed, case included), with it replaced."""
    if not find:
        raise ReviewError("say what to find")
    found = [g.text for g in store.guidelines(find) if find in g.text]
    if not found:
        raise ReviewError(f"no guideline contains {find!r}")
    return {text: text.replace(find, replace) for text in found}


def approve_guideline(store: Store, text: str, reviewer: str, reason: str = "") -> list[int]:
    """Record the guideline approved; approve every proposed entry whose guidelines are now
    all approved. The entries approved (the guideline's history names them)."""
    reason = clean_reason(reason)
    users = _entries_using(store, {text})
    approved = {g.text for g in store.guidelines() if g.review == "approved"} | {text}
    ready = [
        e.id
        for e in users
        if e.id is not None and e.status == "proposed" and set(e.guidance) <= approved
    ]
    store.record_guideline_change("approved", text, reviewer, reason, ready)
    if ready:
        why = f"guideline approved: {text}" + (f" ({reason})" if reason else "")
        store.set_statuses(ready, "approved", reviewer, why[:MAX_REASON_CHARS])
    return ready


def reject_guideline(store: Store, text: str, reviewer: str, reason: str) -> list[int]:
    """Take the guideline out of every entry using it (a new version each); an entry left with
    no guideline is rejected. The entries changed."""
    if not reason.strip():
        raise ReviewError("say why the guideline is rejected (the reason is kept in history)")
    reason = clean_reason(reason)
    users = _entries_using(store, {text})
    why = f"guideline rejected: {reason}"[:MAX_REASON_CHARS]
    for entry in users:
        assert entry.id is not None
        rest = tuple(line for line in entry.guidance if line != text)
        if rest:
            store.edit_guidance(entry.id, rest, reviewer, reason=why)
        else:
            store.set_statuses([entry.id], "rejected", reviewer, why)
    store.record_guideline_change("rejected", text, reviewer, reason, [e.id or 0 for e in users])
    return [e.id for e in users if e.id is not None]


async def _check(checker: EditChecker | None, entry: Entry, guidance: Guidance) -> EditCheck:
    if checker is None:
        return unchecked(NO_CHECKER)
    check = await checker.check(entry, guidance)
    return dataclasses.replace(check, run=checker.run_id)


def _save(
    store: Store,
    entry_id: int,
    guidance: Guidance,
    check: EditCheck,
    reviewer: str,
    reason: str,
    status: str | None = None,
    base_version: int | None = None,
) -> EditOutcome:
    if not check.passed:
        draft = store.add_draft(
            entry_id, guidance, reviewer, reason, check.problem, check.as_json()
        )
        return EditOutcome(entry_id, guidance, check, draft_id=draft)
    version = store.edit_guidance(
        entry_id,
        guidance,
        reviewer,
        reason=reason,
        status=status,
        base_version=base_version,
        checks=check.as_json(),
    )
    return EditOutcome(entry_id, guidance, check, version=version.version)


def _save_all(
    store: Store, checked: Sequence[tuple[Entry, Guidance, EditCheck]], reviewer: str, reason: str
) -> list[EditOutcome]:
    outcomes = []
    for entry, guidance, check in checked:
        assert entry.id is not None
        if guidance == entry.guidance:
            continue
        outcomes.append(_save(store, entry.id, guidance, check, reviewer, reason))
    return outcomes


def _record_changes(
    store: Store,
    changes: dict[str, str],
    entries: Sequence[Entry],
    outcomes: Sequence[EditOutcome],
    reviewer: str,
    reason: str,
) -> None:
    by_entry = {o.entry_id: o for o in outcomes}
    for old, new in changes.items():
        using = [by_entry[e.id] for e in entries if e.id in by_entry and old in e.guidance]
        served = [o.entry_id for o in using if o.served]
        drafts = [o.entry_id for o in using if not o.served]
        store.record_guideline_change("edited", old, reviewer, reason, served, drafts, new)


def _entries_using(store: Store, texts: set[str]) -> list[Entry]:
    ids = sorted({u.entry_id for g in store.guidelines() if g.text in texts for u in g.uses})
    return [store.entry(i) for i in ids]


def _replaced(guidance: Guidance, changes: dict[str, str]) -> Guidance:
    """The guidance with each changed line replaced, a line now repeated kept once."""
    return tuple(dict.fromkeys(changes.get(line, line) for line in guidance))
