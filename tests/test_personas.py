"""Persona files: YAML or JSON, one schema (published in docs/), clear errors, and a config may
mix the grid with several files."""

import json
from pathlib import Path

import pytest

from playbook.config import load_config
from playbook.domain import (
    DomainError,
    Emotion,
    Personality,
    load_personas,
    persona_schema,
    personas_text,
)
from playbook.types import EMOTIONS, PERSONALITIES, Domain, Persona
from playbook.workspace import Workspace

SCHEMA = Path(__file__).parents[1] / "docs" / "persona.schema.json"
YAML = """\
# two customers
- id: calm-driver
  goal: refund_restricted_ticket
  personality: driver
  emotion: calm
  demanding: true
- id: worried-parent
  goal: delayed_baggage_compensation
  personality: expressive
  emotion: concerned
  demanding: false
  situation: |
    You are flying with two small children
    and the bag held their clothes.
  source: file
"""


def test_yaml_and_json_files_give_the_same_personas(tmp_path: Path, airline: Domain) -> None:
    yaml_path = tmp_path / "personas.yaml"
    yaml_path.write_text(YAML)
    from_yaml = load_personas(yaml_path, airline)
    json_path = tmp_path / "personas.json"
    json_path.write_text(personas_text(from_yaml, yaml_format=False))
    assert load_personas(json_path, airline) == from_yaml
    driver, parent = from_yaml
    assert driver.facts == airline.goal("refund_restricted_ticket").facts  # inherited
    assert parent.facts == ""  # a persona with its own situation does not inherit facts
    assert parent.situation.startswith("You are flying with two small children\n")


def test_written_file_reads_back_unchanged(tmp_path: Path, airline: Domain) -> None:
    personas = [
        Persona(
            "t/1",
            "refund_restricted_ticket",
            "analytical",
            "confused",
            False,
            facts="Booking SW4821.\nBought in March.",
            situation="Line one.\n\nLine three: with a colon, 'quotes' and # a hash.",
            source="tau2",
            origin="tau2-bench airline task 1",
        )
    ]
    path = tmp_path / "out.yaml"
    path.write_text(personas_text(personas))
    assert load_personas(path, airline) == personas
    assert "situation: |" in path.read_text()  # multi-line text stays readable


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            YAML.replace("emotion: concerned", "emotion: sleepy"),
            "record 2 (line 7): emotion must be one of concerned, frustrated, calm, confused "
            "(not 'sleepy')",
        ),
        (YAML.replace("goal: delayed_baggage", "goal: lost_dog"), "record 2 (line 7): goal"),
        (YAML.replace("  demanding: true\n", ""), "record 1 (line 2): demanding: Field required"),
        (YAML.replace("source: file", "source: crm"), "record 2 (line 7): source must be one of"),
        (YAML.replace("id: worried-parent", "id: calm-driver"), "record 2 (line 7): id 'calm"),
        (YAML.replace("situation:", "mood:"), "record 2 (line 7): mood: Extra inputs"),
        (YAML.replace("  personality: driver", "  personality: [driver"), "not valid YAML (line"),
        ("id: a\ngoal: b\n", "expected a list of persona records"),
    ],
)
def test_bad_yaml_names_the_record_line_and_field(
    tmp_path: Path, airline: Domain, text: str, message: str
) -> None:
    path = tmp_path / "personas.yaml"
    path.write_text(text)
    with pytest.raises(DomainError) as caught:
        load_personas(path, airline)
    assert str(caught.value).startswith(f"personas {path}: ")
    assert message in str(caught.value)


def test_bad_json_names_the_line_of_a_syntax_error(tmp_path: Path, airline: Domain) -> None:
    path = tmp_path / "personas.json"
    path.write_text('[\n  {"id": "a",\n   "goal": }\n]')
    with pytest.raises(DomainError, match=r"not valid JSON \(line 3"):
        load_personas(path, airline)


def test_published_schema_is_the_models(tmp_path: Path) -> None:
    published = json.loads(SCHEMA.read_text())
    assert published == persona_schema(), (
        "docs/persona.schema.json is stale; regenerate it: python -c 'import json; from "
        "playbook.domain import persona_schema; print(json.dumps(persona_schema(), indent=2))'"
    )
    records = published["$defs"]["PersonaRecord"]["properties"]
    assert tuple(records["personality"]["enum"]) == PERSONALITIES
    assert tuple(records["emotion"]["enum"]) == EMOTIONS


def test_literals_match_the_vocabulary() -> None:
    from typing import get_args

    assert get_args(Personality) == PERSONALITIES and get_args(Emotion) == EMOTIONS


def _config(folder: Path, learn: str) -> Path:
    from playbook.workspace import example_domain

    models = "".join(f'[models.{r}]\nspec = "sim:{r}"\n' for r in ("customer", "judge"))
    models += '[models.student]\nspec = "sim:student"\n[models.teacher]\nspec = "sim:teacher"\n'
    path = folder / "playbook.toml"
    path.write_text(f'domain = "{example_domain("airline")}"\n{models}[learn]\n{learn}\n')
    return path


@pytest.mark.parametrize(
    ("learn", "sources"),
    [
        ('goals = ["refund_restricted_ticket"]', {"grid": 60}),
        ('personas = "mine.yaml"', {"file": 2}),
        ('personas = ["mine.yaml"]\ngrid = true\ngoals = ["refund_restricted_ticket"]', None),
    ],
)
def test_config_mixes_the_grid_and_persona_files(
    tmp_path: Path, learn: str, sources: dict[str, int] | None
) -> None:
    (tmp_path / "mine.yaml").write_text(YAML)
    config = load_config(_config(tmp_path, learn))
    assert config.learn.personas in ((), (tmp_path / "mine.yaml",))
    space = Workspace.open(config)
    try:
        found: dict[str, int] = {}
        for persona in space.personas():
            found[persona.source] = found.get(persona.source, 0) + 1
    finally:
        space.close()
    # the learning part of the split: 24 of 32 grid cells, 12 of 16 per situation (3)
    assert found == (sources or {"grid": 60, "file": 2})


def test_the_same_id_in_two_files_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text(YAML)
    (tmp_path / "again.yaml").write_text(YAML)
    space = Workspace.open(load_config(_config(tmp_path, 'personas = ["mine.yaml", "again.yaml"]')))
    try:
        with pytest.raises(DomainError, match="persona id 'calm-driver' is used twice"):
            space.personas()
    finally:
        space.close()
