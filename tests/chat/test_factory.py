"""build_chat_model: which backend a model spec becomes, and where its base_url comes from."""

from __future__ import annotations

import pytest

from playbook.chat.base import ChatModel
from playbook.chat.factory import build_chat_model
from playbook.chat.openai_backend import OpenAIChat
from playbook.config import ConfigError, ModelConfig
from playbook.sim.models import SimWorld
from playbook.testing import ScriptedChat
from playbook.types import Domain


def no_sim(name: str) -> ChatModel:
    raise AssertionError(f"sim:{name} should not be built here")


def base_url_of(model: ChatModel) -> str:
    assert isinstance(model, OpenAIChat)
    return model.endpoint


def test_sim_spec_is_built_by_the_callers_world() -> None:
    built: list[str] = []

    def sim(name: str) -> ChatModel:
        built.append(name)
        return ScriptedChat([], name=f"sim:{name}")

    model = build_chat_model("student", ModelConfig(spec="sim:student-b"), {}, sim)

    assert built == ["student-b"]
    assert model.name == "sim:student-b"


def test_openai_spec_uses_the_role_env_var_when_config_has_no_base_url() -> None:
    env = {"PLAYBOOK_TEACHER_BASE_URL": "http://127.0.0.1:8000/v1"}

    model = build_chat_model("teacher", ModelConfig(spec="openai:gpt-4o"), env, no_sim)

    assert model.name == "openai:gpt-4o"
    assert base_url_of(model) == "http://127.0.0.1:8000/v1"


def test_config_base_url_wins_over_the_env_var() -> None:
    cfg = ModelConfig(spec="openai:llama3", base_url="http://127.0.0.1:11434/v1")
    env = {"PLAYBOOK_STUDENT_BASE_URL": "http://127.0.0.1:9/v1"}

    model = build_chat_model("student", cfg, env, no_sim)

    assert base_url_of(model) == "http://127.0.0.1:11434/v1"


def test_unknown_scheme_is_a_config_error_naming_the_field() -> None:
    # Bypasses validation, as a config built in code (not from TOML) could.
    cfg = ModelConfig.model_construct(spec="anthropic:claude")

    with pytest.raises(ConfigError, match=r"models\.judge\.spec is 'anthropic:claude'"):
        build_chat_model("judge", cfg, {}, no_sim)


def test_missing_key_env_is_reported_for_the_role() -> None:
    cfg = ModelConfig(spec="openai:gpt-4o", api_key_env="OPENAI_API_KEY")

    with pytest.raises(ConfigError, match=r"models\.teacher\.api_key_env names OPENAI_API_KEY"):
        build_chat_model("teacher", cfg, {}, no_sim)


def test_a_role_env_var_without_a_scheme_is_one_line_at_once() -> None:
    # Bug (issue 16): "localhost:8000/v1" took 36 s and 64 failed calls to report.
    env = {"PLAYBOOK_TEACHER_BASE_URL": "localhost:8000/v1"}

    with pytest.raises(ConfigError, match="PLAYBOOK_TEACHER_BASE_URL is 'localhost:8000/v1'"):
        build_chat_model("teacher", ModelConfig(spec="openai:gpt-4o"), env, no_sim)


def test_a_misspelt_simulated_model_is_a_config_error_with_a_guess(airline: Domain) -> None:
    # Bug (issue 16): a ValueError and a 100-line traceback.
    world = SimWorld(airline)

    with pytest.raises(ConfigError) as caught:
        build_chat_model("student", ModelConfig(spec="sim:studnet"), {}, world.model)

    message = str(caught.value)
    assert message.startswith("config: models.student.spec: no simulated model sim:studnet")
    assert "did you mean 'sim:student'?" in message
