"""View models of the guidelines pages and of a checked edit's outcome (see views.py)."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

from playbook.review_edits import EditOutcome, GuidelineEdit
from playbook.server.audit.views import when
from playbook.store.guidelines import Guideline, GuidelineChange, guideline_key


def guideline_list(found: Sequence[Guideline], search: str) -> dict[str, Any]:
    return {
        "q": search or None,
        "guidelines": [_summary(g) for g in found],
        "total": len(found),
        "entries": len({u.entry_id for g in found for u in g.uses}),
    }


def _summary(g: Guideline) -> dict[str, Any]:
    return {
        "key": g.key,
        "url": f"/guidelines/{g.key}",
        "text": g.text,
        "entries": len(g.uses),
        "statuses": g.statuses(),
        "served": g.served,
        "review": g.review,
    }


def guideline_detail(g: Guideline, history: Sequence[GuidelineChange]) -> dict[str, Any]:
    return {
        **_summary(g),
        "uses": [
            {
                "entry_id": u.entry_id,
                "url": f"/entries/{u.entry_id}",
                "status": u.status,
                "last_message": u.last_message,
                "served": u.served,
            }
            for u in g.uses
        ],
        "history": [_change(c) for c in history],
    }


def _change(c: GuidelineChange) -> dict[str, Any]:
    return {
        "action": c.action,
        "text": c.text,
        "new_text": c.new_text,
        "diff": word_diff(c.text, c.new_text) if c.new_text is not None else None,
        "reviewer": c.reviewer,
        "reason": c.reason,
        "entry_ids": c.entry_ids,
        "draft_ids": c.draft_ids,
        "created_at": when(c.created_at),
    }


def edit_result(edit: GuidelineEdit) -> dict[str, Any]:
    return {
        "changes": [
            {
                "text": old,
                "new_text": new,
                "diff": word_diff(old, new),
                "url": f"/guidelines/{guideline_key(new)}",
            }
            for old, new in edit.changes.items()
        ],
        "served": len(edit.outcomes) - len(edit.drafts),
        "drafts": len(edit.drafts),
        "outcomes": [outcome(o) for o in sorted(edit.outcomes, key=lambda o: o.served)],
    }


def outcome(o: EditOutcome) -> dict[str, Any]:
    return {
        "entry_id": o.entry_id,
        "url": f"/entries/{o.entry_id}",
        "served": o.served,
        "version": o.version,
        "draft_id": o.draft_id,
        "guidance": list(o.guidance),
        "check": o.check.as_json(),
    }


def word_diff(old: str, new: str) -> list[dict[str, str]]:
    """`old` -> `new` word by word: pieces marked same, removed or added."""
    a, b = old.split(" "), new.split(" ")
    pieces: list[dict[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            pieces.append({"kind": "same", "text": " ".join(a[i1:i2])})
            continue
        if i2 > i1:
            pieces.append({"kind": "removed", "text": " ".join(a[i1:i2])})
        if j2 > j1:
            pieces.append({"kind": "added", "text": " ".join(b[j1:j2])})
    return pieces


def lines_diff(old: Sequence[str], new: Sequence[str]) -> list[dict[str, Any]]:
    """Two guideline lists line by line; a changed line carries its word diff."""
    rows: list[dict[str, Any]] = []
    matcher = difflib.SequenceMatcher(a=list(old), b=list(new), autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            rows += [{"kind": "same", "text": line} for line in old[i1:i2]]
        elif op == "replace" and i2 - i1 == j2 - j1:
            rows += [
                {"kind": "changed", "text": n, "diff": word_diff(o, n)}
                for o, n in zip(old[i1:i2], new[j1:j2], strict=True)
            ]
        else:
            rows += [{"kind": "removed", "text": line} for line in old[i1:i2]]
            rows += [{"kind": "added", "text": line} for line in new[j1:j2]]
    return rows
