"""Import tau2-bench: its tasks' user scenarios become personas, its policy a domain's policy.

A tau2-bench `tasks.json` is a list of tasks. What a conversation-only agent can use is the user
scenario (persona text, reason for call, known and unknown info, task instructions) and the
description's `purpose`. The rest grades or sets up tool use (evaluation criteria, initial
state, customer-side tools, tickets, documents) and is ignored; `Tau2Import.ignored` says what
was ignored and how often, and IGNORED says why.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, StringConstraints, ValidationError

from playbook.files import ImportFileError, parse_json, read_text
from playbook.traits import infer_traits
from playbook.types import Domain, Persona

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
TaskId = Annotated[str, BeforeValidator(lambda v: str(v) if isinstance(v, int) else v)]

IGNORED = {
    "evaluation_criteria": "grades tool calls and database end states; here the judge rates "
    "each reply against the policy",
    "initial_state": "sets up tool environments and device state (customer-side tools included) "
    "that a conversation-only agent does not have",
    "user_tools": "customer-side tools; the simulated customer only talks",
    "ticket": "the task written as a ticket for an agent working alone",
    "required_documents": "knowledge-base documents for retrieval tasks",
    "issues": "the benchmark maintainers' notes about the task",
    "description.relevant_policies": "policy excerpts for the benchmark's evaluator",
    "description.notes": "notes for the benchmark's evaluator",
}
"""Task fields a conversation-only agent cannot use, and why."""

_EMPTY = {"", "."}  # tau2-bench writes "." for "no task instructions"


class _Instructions(BaseModel):
    model_config = ConfigDict(extra="ignore")
    domain: str = ""
    reason_for_call: Text
    known_info: str | None = None
    unknown_info: str | None = None
    task_instructions: str = ""


class _UserScenario(BaseModel):
    model_config = ConfigDict(extra="ignore")
    persona: str | None = None
    instructions: _Instructions | Text  # older tasks give the instructions as one text


class _Description(BaseModel):
    model_config = ConfigDict(extra="ignore")
    purpose: str | None = None
    relevant_policies: str | None = None
    notes: str | None = None


class _Task(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: TaskId
    description: _Description | None = None
    user_scenario: _UserScenario


@dataclass(frozen=True)
class Tau2Import:
    personas: list[Persona]
    ignored: dict[str, int]  # field -> number of tasks that had it filled in


def import_tasks(path: Path, domain: Domain, goal: str) -> Tau2Import:
    """Every task of a tau2-bench tasks file as a persona with `goal`; all or nothing."""
    if goal not in {g.name for g in domain.goals}:
        known = ", ".join(g.name for g in domain.goals)
        raise ImportFileError(
            f"--goal {goal!r} is not a goal of domain {domain.name!r} (its goals: {known}); "
            "add a goal for these tasks to the domain file, or pick one of those"
        )
    tasks = _read_tasks(path)
    personas: list[Persona] = []
    ignored: Counter[str] = Counter()
    seen: dict[str, int] = {}
    for index, raw in enumerate(tasks, 1):
        task = _task(raw, index, path)
        if task.id in seen:
            raise ImportFileError(
                f"tau2 tasks {path}: record {index}: task id {task.id!r} is also record "
                f"{seen[task.id]}'s"
            )
        seen[task.id] = index
        ignored.update(_ignored_fields(dict(raw)))
        personas.append(_persona(task, goal, path))
    return Tau2Import(personas, dict(sorted(ignored.items())))


def _read_tasks(path: Path) -> list[Any]:
    tasks = parse_json(read_text(path, "tau2 tasks"), f"tau2 tasks {path}")
    if not isinstance(tasks, list):
        raise ImportFileError(f"tau2 tasks {path}: expected a JSON list of tasks (a tasks.json)")
    if not tasks:
        raise ImportFileError(f"tau2 tasks {path}: the list of tasks is empty")
    return tasks


def _task(raw: object, index: int, path: Path) -> _Task:
    try:
        return _Task.model_validate(raw)
    except ValidationError as exc:
        task_id = raw.get("id") if isinstance(raw, dict) else None
        named = f" (task id {task_id!r})" if task_id is not None else ""
        problems = "; ".join(f"{_field(e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ImportFileError(f"tau2 tasks {path}: record {index}{named}: {problems}") from None


def _field(location: tuple[int | str, ...]) -> str:
    # pydantic names the union member it tried ("_Instructions", "constrained-str") in the path.
    parts = [str(p) for p in location if not str(p).startswith("_") and "-" not in str(p)]
    return ".".join(parts) or "(the task)"


def _ignored_fields(raw: dict[str, Any]) -> list[str]:
    known = {"id", "description", "user_scenario"}
    found = [key for key, value in raw.items() if key not in known and value not in (None, [])]
    description = raw.get("description") or {}
    found += [
        f"description.{key}"
        for key in ("relevant_policies", "notes")
        if description.get(key) not in (None, "")
    ]
    return found


def _persona(task: _Task, goal: str, path: Path) -> Persona:
    scenario = task.user_scenario
    instructions = scenario.instructions
    about = f"About you: {_text(scenario.persona)}" if _text(scenario.persona) else ""
    if isinstance(instructions, str):
        situation, facts, intentions, domain = _text(instructions), "", "", ""
    else:
        situation = _text(instructions.reason_for_call)
        facts = _facts(instructions.known_info, instructions.unknown_info)
        intentions = _text(instructions.task_instructions)
        domain = instructions.domain
    situation = "\n\n".join(part for part in (about, situation.strip()) if part)
    traits = infer_traits(f"{about}\n{situation}\n{intentions}")
    purpose = _text(task.description.purpose if task.description else None).rstrip(".")
    purpose = purpose or "not given"
    where = f"{domain} task {task.id}" if domain else f"task {task.id}"
    return Persona(
        id=f"tau2/{domain or path.stem}/{task.id}",
        goal=goal,
        personality=traits.personality,
        emotion=traits.emotion,
        demanding=traits.demanding,
        facts=facts,
        hidden_intentions=intentions,
        source="tau2",
        situation=situation,
        origin=f"tau2-bench {where} ({path.name}); purpose: {purpose}; inferred {traits.evidence}",
    )


def _facts(known: str | None, unknown: str | None) -> str:
    known, unknown = _text(known), _text(unknown)
    if unknown:
        return f"{known}\nNot known to you: {unknown}".strip()
    return known


def _text(value: str | None) -> str:
    """The text without trailing spaces on its lines (they would spoil the YAML written)."""
    value = "\n".join(line.rstrip() for line in (value or "").strip().splitlines())
    return "" if value in _EMPTY else value


def policy_into_domain(policy_path: Path, domain_path: Path) -> str:
    """The domain file's text with its `policy` replaced by a tau2-bench policy (markdown).

    Only the `policy = ...` value changes, so the file's comments and layout stay as they were;
    the result is parsed back and compared before it is returned.
    """
    policy = read_text(policy_path, "policy").strip("\n")
    if not policy.strip() or "\x00" in policy:
        raise ImportFileError(f"policy {policy_path}: empty or not text; nothing was written")
    original = read_text(domain_path, "domain")
    start, end = _policy_value_span(original, domain_path)
    updated = original[:start] + _toml_multiline(policy) + original[end:]
    try:
        parsed = tomllib.loads(updated).get("policy")
    except tomllib.TOMLDecodeError as exc:  # pragma: no cover - guarded by the comparison
        raise ImportFileError(f"domain {domain_path}: could not update ({exc})") from None
    if parsed != policy + "\n":
        raise ImportFileError(
            f"domain {domain_path}: could not replace its policy safely; paste the policy "
            "into the file by hand"
        )
    return updated


_POLICY_KEY = re.compile(r"^policy\s*=\s*", re.MULTILINE)


def _policy_value_span(text: str, path: Path) -> tuple[int, int]:
    """Where the top-level `policy` value starts and ends in the TOML text."""
    first_table = re.search(r"^\s*\[", text, re.MULTILINE)
    key = _POLICY_KEY.search(text, 0, first_table.start() if first_table else len(text))
    if key is None:
        raise ImportFileError(f"domain {path}: no top-level `policy = ...` to replace")
    start = key.end()
    for quote in ('"""', "'''"):
        if text.startswith(quote, start):
            close = text.find(quote, start + 3)
            if close < 0:
                raise ImportFileError(f"domain {path}: the policy string is never closed")
            while text.startswith(quote[0], close + 3):  # up to two quotes may end the value
                close += 1
            return start, close + 3
    line_end = text.find("\n", start)
    return start, len(text) if line_end < 0 else line_end


def _toml_multiline(text: str) -> str:
    """A TOML multi-line string holding `text`: literal (as written) when it can be."""
    literal_safe = "'''" not in text and not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", text)
    if literal_safe:
        return f"'''\n{text}\n'''"
    escaped = json.dumps(text, ensure_ascii=False)[1:-1].replace("\\n", "\n")
    return f'"""\n{escaped}\n"""'
