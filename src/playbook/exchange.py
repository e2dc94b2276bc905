"""Entries in and out of a playbook: JSONL (one entry per line, whole: history and the vector
as base64 float32, so an import needs no embedding model) and Markdown (approved guidelines
for review in a pull request).

An import checks every line before it writes anything, then writes in one transaction.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from playbook.config import describe_validation_error
from playbook.files import ImportFileError
from playbook.store.core import ENTRY_STATUSES, Store
from playbook.store.exchange import EntryDump, ImportCounts, ReviewEvent
from playbook.store.records import EntryVersion
from playbook.types import Entry, Provenance, Scenario

FORMAT = "llm-playbook.entry.v1"  # the `format` of every line, for the day it changes
Status = Literal["proposed", "approved", "rejected"]


def _utc(value: datetime) -> datetime:
    """Times without a zone are taken as UTC, the zone every export writes."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Time = Annotated[datetime, AfterValidator(_utc)]


class _Line(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VersionLine(_Line):
    version: int = Field(ge=1)
    guidance: list[str]
    reviewer: str
    reason: str = ""
    created_at: Time
    checks: dict[str, Any] | None = None  # the edit check the version passed (issue 17)


class ReviewLine(_Line):
    action: Literal["status", "edited"] = "status"
    status: Status
    reviewer: str
    reason: str = ""
    created_at: Time


class EntryLine(_Line):
    """One line of a JSONL export."""

    format: Literal["llm-playbook.entry.v1"] = "llm-playbook.entry.v1"
    id: int = Field(ge=1)
    status: Status
    guidance: list[str]
    scenario: Scenario
    provenance: Provenance
    created_at: Time
    embedding_model: str
    embedding: str  # base64 of little-endian float32
    versions: list[VersionLine] = []
    reviews: list[ReviewLine] = []


def to_jsonl(dumps: Iterable[EntryDump]) -> str:
    return "".join(_line(dump).model_dump_json() + "\n" for dump in dumps)


def _line(dump: EntryDump) -> EntryLine:
    entry = dump.entry
    assert entry.id is not None
    return EntryLine(
        id=entry.id,
        status=entry.status,
        guidance=list(entry.guidance),
        scenario=entry.scenario,
        provenance=entry.provenance,
        created_at=dump.created_at,
        embedding_model=dump.embedding_model,
        embedding=base64.b64encode(dump.embedding).decode("ascii"),
        versions=[
            VersionLine(
                version=v.version,
                guidance=list(v.guidance),
                reviewer=v.reviewer,
                reason=v.reason,
                created_at=v.created_at,
                checks=v.checks,
            )
            for v in dump.versions
        ],
        reviews=[ReviewLine.model_validate(vars(r)) for r in dump.reviews],
    )


def read_jsonl(text: str, source: str) -> list[tuple[int, EntryDump]]:
    """Every entry of a JSONL export with its line number; the first bad line raises an
    ImportFileError naming it."""
    dumps: list[tuple[int, EntryDump]] = []
    seen: dict[int, int] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        dump = _parse(raw, f"{source}: line {number}")
        first = seen.setdefault(dump.entry.id or 0, number)
        if first != number:
            raise ImportFileError(
                f"{source}: line {number}: entry {dump.entry.id} is also on line {first}"
            )
        dumps.append((number, dump))
    if not dumps:
        raise ImportFileError(f"{source}: no entries (expected one JSON object per line)")
    return dumps


def _parse(raw: str, where: str) -> EntryDump:
    try:
        line = EntryLine.model_validate(json.loads(raw))
    except ValueError as exc:
        if isinstance(exc, ValidationError):
            raise ImportFileError(f"{where}: {describe_validation_error(exc)}") from None
        raise ImportFileError(f"{where}: not valid JSON ({exc})") from None
    try:
        embedding = base64.b64decode(line.embedding, validate=True)
    except binascii.Error:
        raise ImportFileError(f"{where}: embedding is not base64") from None
    if not embedding or len(embedding) % 4:
        raise ImportFileError(f"{where}: embedding is not a list of float32 numbers")
    _check_history(line, where)
    return _dump(line, embedding)


def _check_history(line: EntryLine, where: str) -> None:
    """The entry's current state must be where its history leads."""
    numbers = [v.version for v in line.versions]
    if numbers != list(range(1, len(numbers) + 1)):
        raise ImportFileError(f"{where}: versions must be numbered 1, 2, 3... (found {numbers})")
    if line.versions and line.versions[-1].guidance != line.guidance:
        raise ImportFileError(f"{where}: guidance differs from its latest version's")
    if line.reviews and line.reviews[-1].status != line.status:
        raise ImportFileError(
            f"{where}: status {line.status!r} differs from the last review's "
            f"({line.reviews[-1].status!r})"
        )


def _dump(line: EntryLine, embedding: bytes) -> EntryDump:
    entry = Entry(line.id, line.scenario, tuple(line.guidance), line.provenance, line.status)
    versions = tuple(
        EntryVersion(
            line.id, v.version, tuple(v.guidance), v.reviewer, v.reason, v.created_at, v.checks
        )
        for v in line.versions
    )
    reviews = tuple(
        ReviewEvent(r.action, r.status, r.reviewer, r.reason, r.created_at) for r in line.reviews
    )
    return EntryDump(entry, line.created_at, line.embedding_model, embedding, versions, reviews)


def import_jsonl(store: Store, text: str, source: str) -> ImportCounts:
    """Check every line, then write them all in one transaction (or nothing)."""
    return store.import_dumps(read_jsonl(text, source), source)


def export_statuses(status: str) -> tuple[str, ...] | None:
    """`approved`, `proposed`, `rejected` or `all` as a store filter; None means every status."""
    if status == "all":
        return None
    if status not in ENTRY_STATUSES:
        raise ImportFileError(f"status {status!r} is not one of {', '.join(ENTRY_STATUSES)} or all")
    return (status,)


def to_markdown(dumps: Sequence[EntryDump], title: str) -> str:
    """The entries as a document to review: transcript, guidelines, origin, review history.

    Model-written text is untrusted: HTML in it is escaped, and transcripts sit in code fences,
    so nothing in it renders as markup where the file is shown (a pull request, say).
    """
    parts = [f"# {_text(title)}\n", f"{len(dumps)} entries, exported {_time(datetime.now(UTC))}.\n"]
    parts += [_entry_markdown(dump) for dump in dumps]
    return "\n".join(parts)


def _entry_markdown(dump: EntryDump) -> str:
    entry, p = dump.entry, dump.entry.provenance
    persona = entry.scenario.persona
    best = max((a.verdict.rating for a in p.attempts), default=p.baseline.verdict.rating)
    models = ", ".join(f"{role} `{_code(spec)}`" for role, spec in sorted(p.models.items()))
    lines = [
        f"## Entry {entry.id} ({entry.status})\n",
        f"- Learned in run `{_code(p.run_id)}`, round {p.round}; models: {models or 'unknown'}",
        f"- Persona `{_code(persona.id)}` ({_text(persona.source)}): {_text(persona.personality)},"
        f" {_text(persona.emotion)}, {'demanding' if persona.demanding else 'not demanding'}",
        f"- Student rating: {p.baseline.verdict.word} without guidance, "
        f"{_word(best)} with it (gain {best - p.baseline.verdict.rating:+d})\n",
        "### Conversation\n",
        _fenced("\n\n".join(f"{t.speaker}: {t.text}" for t in entry.scenario.turns)),
        f"### Guidelines (version {len(dump.versions) or 1})\n",
        *(f"{n}. {_text(g)}" for n, g in enumerate(entry.guidance, 1)),
        "",
    ]
    if len(dump.versions) > 1:
        lines += ["Original guidelines (version 1):\n"]
        lines += [f"{n}. {_text(g)}" for n, g in enumerate(dump.versions[0].guidance, 1)]
        lines += [""]
    lines += ["### Review history\n", "| time | reviewer | action | status | reason |"]
    lines += ["| --- | --- | --- | --- | --- |"]
    lines += [
        f"| {_time(r.created_at)} | {_cell(r.reviewer)} | {r.action} | {r.status} | "
        f"{_cell(r.reason)} |"
        for r in dump.reviews
    ]
    return "\n".join(lines) + "\n"


def _word(rating: int) -> str:
    from playbook.types import rating_word

    return rating_word(rating)


def _text(text: str) -> str:
    """One line of untrusted text, with nothing in it that Markdown or HTML would interpret."""
    escaped = " ".join(text.split()).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "".join(f"\\{c}" if c in "\\`*_[]#|!" else c for c in escaped)


def _cell(text: str) -> str:
    return _text(text) or " "


def _code(text: str) -> str:
    """Untrusted text inside a code span: on one line (a line break would end the span and let
    the rest render as Markdown or HTML) and without backticks (which would close it)."""
    return " ".join(text.split()).replace("`", "'") or " "


def _fenced(text: str) -> str:
    fence = "`" * max(3, _longest_run(text, "`") + 1)
    return f"{fence}text\n{text}\n{fence}\n"


def _longest_run(text: str, char: str) -> int:
    longest = run = 0
    for c in text:
        run = run + 1 if c == char else 0
        longest = max(longest, run)
    return longest


def _time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
