"""Load a domain (company, agent role, policy, generic guidance, goals) and its personas."""

from __future__ import annotations

import itertools
import json
import tomllib
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

from playbook.config import describe_validation_error
from playbook.types import EMOTIONS, PERSONALITIES, Domain, Goal, Persona

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class DomainError(Exception):
    """A domain or persona file that cannot be used; the message names the file and field."""


class _GoalFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Text
    description: Text
    opening: str = ""
    facts: str = ""
    remedies: list[Text] = []
    forbidden: str = ""


class _DomainFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Text
    company: Text
    agent_role: Text
    policy: Text
    generic_guidance: list[Text]
    goals: list[_GoalFile]


class _PersonaFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: Text
    goal: Text
    personality: Text
    emotion: Text
    demanding: bool
    facts: str = ""
    hidden_intentions: str = ""


def load_domain(path: Path) -> Domain:
    """Read a domain TOML file (see examples/airline/domain.toml for the format)."""
    raw = _read_toml(path)
    try:
        parsed = _DomainFile.model_validate(raw)
    except ValidationError as exc:
        raise DomainError(f"domain {path}: {describe_validation_error(exc)}") from None
    if not parsed.goals:
        raise DomainError(f"domain {path}: needs at least one [[goals]] table")
    goals = tuple(
        Goal(**g.model_dump(exclude={"remedies"}), remedies=tuple(g.remedies)) for g in parsed.goals
    )
    return Domain(
        name=parsed.name,
        company=parsed.company,
        agent_role=parsed.agent_role,
        policy=parsed.policy,
        generic_guidance=tuple(parsed.generic_guidance),
        goals=goals,
    )


def _read_toml(path: Path) -> dict[str, object]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DomainError(f"domain {path}: file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise DomainError(f"domain {path}: not valid TOML ({exc})") from None


def persona_grid(goal: Goal) -> list[Persona]:
    """The paper's 4 x 4 x 2 grid: personality x initial emotion x demanding, for one goal."""
    return [
        Persona(
            id=f"{goal.name}/{personality}-{emotion}-{'demanding' if demanding else 'open'}",
            goal=goal.name,
            personality=personality,
            emotion=emotion,
            demanding=demanding,
            facts=goal.facts,
        )
        for personality, emotion, demanding in itertools.product(
            PERSONALITIES, EMOTIONS, (True, False)
        )
    ]


def load_personas(path: Path, domain: Domain) -> list[Persona]:
    """Read a JSON list of personas; every record is checked, the first bad one is named."""
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DomainError(f"personas {path}: file not found") from None
    except json.JSONDecodeError as exc:
        raise DomainError(
            f"personas {path}: not valid JSON (line {exc.lineno}: {exc.msg})"
        ) from None
    if not isinstance(records, list):
        raise DomainError(f"personas {path}: expected a JSON list of persona objects")
    return [_persona(record, index, path, domain) for index, record in enumerate(records, 1)]


def _persona(record: object, index: int, path: Path, domain: Domain) -> Persona:
    where = f"personas {path}: record {index}"
    try:
        parsed = _PersonaFile.model_validate(record)
    except ValidationError as exc:
        raise DomainError(f"{where}: {describe_validation_error(exc)}") from None
    if parsed.goal not in {g.name for g in domain.goals}:
        raise DomainError(f"{where}: goal {parsed.goal!r} is not a goal of domain {domain.name!r}")
    if parsed.personality not in PERSONALITIES:
        raise DomainError(f"{where}: personality must be one of {', '.join(PERSONALITIES)}")
    if parsed.emotion not in EMOTIONS:
        raise DomainError(f"{where}: emotion must be one of {', '.join(EMOTIONS)}")
    facts = parsed.facts or domain.goal(parsed.goal).facts
    return Persona(**parsed.model_dump(exclude={"facts"}), facts=facts, source="file")
