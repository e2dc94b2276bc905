"""Config mistakes a new user makes (issue 16): each is one message naming what to fix, with a
did-you-mean for a typo, and a key pasted where a variable name belongs is never repeated."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from playbook.config import (
    ConfigError,
    EmbedderConfig,
    ModelConfig,
    ServeConfig,
    config_schema,
    find_config,
    load_config,
    looks_like_a_key,
)
from playbook.workspace import example_domain

KEY = "sk-proj-Planted0123456789abcdefSECRET"
MODELS = "".join(f'[models.{r}]\nspec = "sim:{r}"\n' for r in ("student", "customer", "judge"))


def config_error(tmp_path: Path, text: str) -> str:
    path = tmp_path / "playbook.toml"
    path.write_text(f'domain = "{example_domain("airline")}"\n{text}')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_misspelt_key_gets_the_key_it_is_a_typo_of(tmp_path: Path) -> None:
    text = MODELS + '[models.teacher]\nspec = "sim:teacher"\n[learn]\nrouds = 2\n'
    message = config_error(tmp_path, text)
    assert "learn.rouds: unknown key; did you mean 'rounds'?" in message
    assert "Extra inputs" not in message


def test_a_misspelt_section_gets_the_section_it_is_a_typo_of(tmp_path: Path) -> None:
    text = MODELS + '[models.teacher]\nspec = "sim:teacher"\n[lern]\nrounds = 2\n'
    assert "[lern]: unknown section; did you mean [learn]?" in config_error(tmp_path, text)


def test_a_misspelt_key_of_one_role_and_a_misspelt_role(tmp_path: Path) -> None:
    text = MODELS + '[models.teacher]\nspec = "sim:teacher"\ntemprature = 0.2\n'
    message = config_error(tmp_path, text)
    assert "models.teacher.temprature: unknown key; did you mean 'temperature'?" in message
    text = MODELS + '[models.teacher]\nspec = "sim:teacher"\n[models.techer]\nspec = "sim:x"\n'
    assert "unknown role 'techer' (did you mean 'teacher'?)" in config_error(tmp_path, text)


def test_an_unknown_key_far_from_any_gets_no_guess(tmp_path: Path) -> None:
    text = MODELS + '[models.teacher]\nspec = "sim:teacher"\n[learn]\nzzz = 1\n'
    message = config_error(tmp_path, text)
    assert "learn.zzz: unknown key" in message and "did you mean" not in message


def test_a_key_pasted_into_api_key_env_is_refused_without_repeating_it(tmp_path: Path) -> None:
    text = MODELS + f'[models.teacher]\nspec = "openai:gpt-4o"\napi_key_env = "{KEY}"\n'
    message = config_error(tmp_path, text)
    assert "models.teacher.api_key_env" in message and "not the key itself" in message
    assert KEY not in message and KEY[:12] not in message


@pytest.mark.parametrize(
    "make",
    [
        lambda key: ModelConfig(spec="openai:gpt-4o", api_key_env=key),
        lambda key: EmbedderConfig(spec="openai:e", api_key_env=key),
        lambda key: ServeConfig(upstream_api_key_env=key),
        lambda key: ServeConfig(api_keys_env=key),
        lambda key: ServeConfig(reviewer_key_env=key),
    ],
)
def test_a_pasted_key_is_not_in_a_library_users_validation_error(make: object) -> None:
    with pytest.raises(ValidationError) as caught:
        make(KEY)  # type: ignore[operator]
    assert KEY not in str(caught.value) and KEY not in repr(caught.value)


@pytest.mark.parametrize(
    ("value", "is_key"),
    [
        ("OPENAI_API_KEY", False),
        ("GROQ_API_KEY_2", False),
        ("my_key_2024_production", False),  # a lowercase name is still a name
        ("openai_api_key", False),
        (KEY, True),
        ("sk-abc", True),
        ("$OPENAI_API_KEY", True),  # not a name either: refused, and not echoed
        ("hf_AbCdEfGhIjKlMnOpQrStUvWxYz012345", True),
        ("3f2a9c0d1e4b5a6978c0d1e2f3a4b5c6", True),  # a hex token
        ("a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0", True),
    ],
)
def test_what_looks_like_a_key(value: str, is_key: bool) -> None:
    assert looks_like_a_key(value) is is_key


def test_a_base_url_without_a_scheme_says_what_to_write(tmp_path: Path) -> None:
    text = MODELS + '[models.teacher]\nspec = "openai:m"\nbase_url = "localhost:11434/v1"\n'
    message = config_error(tmp_path, text)
    assert "models.teacher.base_url" in message and "'http://localhost:11434/v1'" in message
    text = MODELS + '[models.teacher]\nspec = "sim:teacher"\n[serve]\nupstream_base_url = "h:1"\n'
    assert "serve.upstream_base_url" in config_error(tmp_path, text)


def test_the_config_in_the_current_folder_is_found(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no playbook\.toml in this folder.*playbook init"):
        find_config(None, tmp_path)
    (tmp_path / "playbook.toml").write_text("")
    assert find_config(None, tmp_path) == Path("playbook.toml")
    assert find_config(Path("other.toml"), tmp_path) == Path("other.toml")


def test_published_schema_is_the_configs() -> None:
    published = json.loads((Path(__file__).parents[1] / "docs" / "config.schema.json").read_text())
    assert published == config_schema(), (
        "docs/config.schema.json is stale; regenerate it: python -c 'import json; from "
        "playbook.config import config_schema; print(json.dumps(config_schema(), indent=2))'"
    )
    assert published["additionalProperties"] is False  # an editor flags a misspelt section
    assert {"rounds", "goals"} <= set(published["$defs"]["LearnConfig"]["properties"])
