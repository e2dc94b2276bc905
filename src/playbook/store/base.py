"""What every part of the store shares: its errors, the entry statuses and the content key (the
store's mixins import these from here, not from store.py, which imports them)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from playbook.errors import UserError

ENTRY_STATUSES = ("proposed", "approved", "rejected")


class StoreError(UserError):
    """The playbook file cannot be used as asked; the message names the file and the problem."""


class StoreUnwritable(StoreError):
    """The playbook can be read but not written: a read-only file or folder, or a full disk."""


def content_key(scenario: object, guidance: object) -> str:
    """The same scenario with the same guidance is the same entry, whatever its id."""
    canonical = json.dumps([scenario, guidance], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def require(value: str, allowed: Sequence[str], what: str) -> None:
    if value not in allowed:
        raise StoreError(f"{what} {value!r} is not one of {', '.join(allowed)}")


def missing(path: Path | str, what: str, key: object) -> StoreError:
    return StoreError(f"no {what} {key} in {path}")


def now() -> datetime:
    return datetime.now(UTC)
