"""Load a domain (company, agent role, policy, generic guidance, goals) and its personas.

Persona files are YAML or JSON lists of records (schema: `PersonaRecord`, published as
docs/persona.schema.json); every record is checked before any is used.
"""

from __future__ import annotations

import itertools
import json
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError

from playbook.config import describe_validation_error
from playbook.errors import UserError
from playbook.files import ImportFileError, parse_json, short
from playbook.types import EMOTIONS, PERSONALITIES, Domain, Goal, GoalSituation, Persona

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class DomainError(UserError):
    """A domain or persona file that cannot be used; the message names the file and field."""


class _SituationFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Text
    description: Text
    cues: list[Text] = []
    exception: bool = False
    wants: str = ""
    escalates: bool = False


class _GoalFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Text
    description: Text
    opening: str = ""
    openings: list[Text] = []
    facts: str = ""
    remedies: list[Text] = []
    forbidden: str = ""
    situations: list[_SituationFile] = []

    def goal(self) -> Goal:
        situations = tuple(
            GoalSituation(**s.model_dump(exclude={"cues"}), cues=tuple(s.cues))
            for s in self.situations
        )
        for situation in situations:
            if situation.wants and situation.wants not in self.remedies:
                raise ValueError(
                    f"goal {self.name}: situation {situation.name}: wants must be one of the "
                    f"goal's remedies (not {situation.wants!r})"
                )
        fields = self.model_dump(exclude={"remedies", "openings", "situations"})
        return Goal(
            **fields,
            remedies=tuple(self.remedies),
            openings=tuple(self.openings),
            situations=situations,
        )


class _DomainFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Text
    company: Text
    agent_role: Text
    policy: Text
    generic_guidance: list[Text]
    goals: list[_GoalFile]


Personality = Literal["analytical", "amiable", "expressive", "driver"]
Emotion = Literal["concerned", "frustrated", "calm", "confused"]
Source = Literal["grid", "file", "generated", "tau2", "transcript"]


class PersonaRecord(BaseModel):
    """One persona of a persona file (YAML or JSON: a list of these)."""

    model_config = ConfigDict(extra="forbid", title="Persona")
    id: Text = Field(description="Unique among the personas of a run; seeds and entries use it.")
    goal: Text = Field(description="The name of one of the domain's [[goals]].")
    personality: Personality
    emotion: Emotion = Field(description="The customer's emotion at the start of the chat.")
    demanding: bool = Field(description="Insists on the goal and pushes back on alternatives.")
    facts: str = Field("", description="What the customer knows; empty: the goal's facts.")
    hidden_intentions: str = Field("", description="What they want but do not say outright.")
    situation: str = Field(
        "",
        description="Free text: who they are and why they call. A persona with a situation "
        "does not inherit the goal's facts.",
    )
    origin: str = Field(
        "",
        description="Why or from where the persona was made; for reviewers, never shown "
        "to the customer model.",
    )
    source: Source = Field("file", description="Shown on every entry learned from the persona.")


def persona_schema() -> dict[str, Any]:
    """The JSON Schema of a persona file, as published in docs/persona.schema.json."""
    schema = TypeAdapter(list[PersonaRecord]).json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "llm-playbook persona file",
        "description": "A list of personas, written as YAML or JSON.",
        **schema,
    }


def example_domain(name: str) -> Path:
    """The domain file of an example shipped in the package (`airline`, `electronics`)."""
    return Path(__file__).parent / "examples" / name / "domain.toml"


def load_domain(path: Path) -> Domain:
    """Read a domain TOML file (see examples/airline/domain.toml for the format)."""
    raw = _read_toml(path)
    try:
        parsed = _DomainFile.model_validate(raw)
    except ValidationError as exc:
        raise DomainError(f"domain {path}: {describe_validation_error(exc)}") from None
    if not parsed.goals:
        raise DomainError(f"domain {path}: needs at least one [[goals]] table")
    try:
        goals = tuple(g.goal() for g in parsed.goals)
    except ValueError as exc:
        raise DomainError(f"domain {path}: {exc}") from None
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


def situation_personas(goal: Goal, situation: GoalSituation) -> list[Persona]:
    """16 personas per situation of a goal: personality x initial emotion, half of them
    demanding (alternating, so that every personality and emotion has both)."""
    return [
        Persona(
            id=f"{goal.name}/{situation.name}/{personality}-{emotion}-"
            f"{'demanding' if demanding else 'open'}",
            goal=goal.name,
            personality=personality,
            emotion=emotion,
            demanding=demanding,
            facts=goal.facts,
            situation=situation.description,
            source="grid",
        )
        for (i, personality), (j, emotion) in itertools.product(
            enumerate(PERSONALITIES), enumerate(EMOTIONS)
        )
        for demanding in [(i + j) % 2 == 0]
    ]


def situation_of(persona: Persona, goal: Goal) -> str:
    """The name of the goal's situation a persona is in ("" for the goal's plain case)."""
    text = persona.situation.strip()
    return next((s.name for s in goal.situations if s.description.strip() == text), "")


def load_personas(path: Path, domain: Domain) -> list[Persona]:
    """Read a YAML (.yaml, .yml) or JSON persona list; every record is checked, the first bad one
    is named with its number (and line, in YAML) and field."""
    text = _read_personas_text(path)
    records, lines = _yaml_records(text, path) if _is_yaml(path) else (_json(text, path), [])
    if not isinstance(records, list):
        raise DomainError(f"personas {path}: expected a list of persona records")
    personas: list[Persona] = []
    seen: dict[str, int] = {}
    for index, record in enumerate(records, 1):
        where = f"personas {path}: record {index}"
        if index <= len(lines):
            where += f" (line {lines[index - 1]})"
        persona = _persona(record, where, domain)
        if persona.id in seen:
            raise DomainError(f"{where}: id {persona.id!r} is also record {seen[persona.id]}'s")
        seen[persona.id] = index
        personas.append(persona)
    return personas


def _read_personas_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")  # a byte order mark is not text
    except FileNotFoundError:
        raise DomainError(f"personas {path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DomainError(f"personas {path}: cannot be read ({exc})") from None


def _is_yaml(path: Path) -> bool:
    return path.suffix.lower() in (".yaml", ".yml")


def _json(text: str, path: Path) -> object:
    try:
        return parse_json(text, f"personas {path}")
    except ImportFileError as exc:
        raise DomainError(str(exc)) from None


def _yaml_records(text: str, path: Path) -> tuple[object, list[int]]:
    """The parsed YAML and, for a list, the line each record starts on."""
    loader = _NoAliasLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"line {mark.line + 1}: " if mark is not None else ""
        problem = short(getattr(exc, "problem", None) or str(exc))
        raise DomainError(f"personas {path}: not valid YAML ({line}{problem})") from None
    except RecursionError:
        raise DomainError(f"personas {path}: nested too deeply to be a persona file") from None
    finally:
        loader.dispose()
    if not isinstance(node, yaml.SequenceNode):
        return data, []
    return data, [item.start_mark.line + 1 for item in node.value]


class _NoAliasLoader(yaml.SafeLoader):
    """YAML without aliases (*name): a persona file has no use for them, and a few hundred
    bytes of nested aliases expand to gigabytes (the "billion laughs")."""

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in a persona file", mark
            )
        return super().compose_node(parent, index)


def _persona(record: object, where: str, domain: Domain) -> Persona:
    try:
        parsed = PersonaRecord.model_validate(record)
    except ValidationError as exc:
        raise DomainError(f"{where}: {_describe(exc)}") from None
    if parsed.goal not in {g.name for g in domain.goals}:
        known = ", ".join(g.name for g in domain.goals)
        raise DomainError(
            f"{where}: goal {parsed.goal!r} is not a goal of domain {domain.name!r} "
            f"(its goals: {known})"
        )
    facts = parsed.facts
    if not facts and not parsed.situation:
        facts = domain.goal(parsed.goal).facts
    return Persona(**parsed.model_dump(exclude={"facts"}), facts=facts)


def _describe(exc: ValidationError) -> str:
    """`field: problem` per problem, like a config error; a wrong choice lists the choices."""
    problems = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"]) or "(top level)"
        if error["type"] == "literal_error":
            allowed = str(error.get("ctx", {}).get("expected", "")).replace("'", "")
            allowed = allowed.replace(" or ", ", ")
            problems.append(f"{field} must be one of {allowed} (not {short(repr(error['input']))})")
        else:
            problems.append(f"{field}: {error['msg'].removeprefix('Value error, ')}")
    return "; ".join(problems)


def personas_text(personas: Sequence[Persona], yaml_format: bool = True) -> str:
    """A persona file's text (YAML or JSON) that `load_personas` reads back unchanged."""
    records = [_record(p) for p in personas]
    if not yaml_format:
        return json.dumps(records, indent=2, ensure_ascii=False) + "\n"
    header = "# llm-playbook personas; schema: docs/persona.schema.json\n"
    return header + yaml.dump(
        records, Dumper=_BlockDumper, sort_keys=False, allow_unicode=True, width=100
    )


def _record(persona: Persona) -> dict[str, Any]:
    record = PersonaRecord.model_validate({**vars(persona), "facts": persona.facts}).model_dump()
    required = {"id", "goal", "personality", "emotion", "demanding", "source"}
    return {k: v for k, v in record.items() if k in required or v}


class _BlockDumper(yaml.SafeDumper):
    """Writes multi-line strings as `|` blocks, so a reviewer reads them as written."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _represent_str)
