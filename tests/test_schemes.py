"""One list of model schemes: the config, the chat factory and the embedder factory read it, so a
spec means the same everywhere and a scheme cannot be added to one of them only."""

from __future__ import annotations

import pytest

from playbook.chat import factory as chat_factory
from playbook.config import ConfigError, EmbedderConfig, ModelConfig
from playbook.embed import factory as embed_factory
from playbook.schemes import read_spec, schemes_for


def test_each_factory_builds_exactly_the_schemes_of_its_kind() -> None:
    assert set(chat_factory.BUILDERS) == {s.name for s in schemes_for("chat")}
    assert set(embed_factory.BUILDERS) == {s.name for s in schemes_for("embedder")}


def test_openai_names_a_chat_model_and_an_embedder() -> None:
    assert read_spec("openai:gpt-4o", "chat") == ("openai", "gpt-4o")
    assert read_spec("openai:text-embedding-3-small", "embedder")[0] == "openai"


@pytest.mark.parametrize(
    ("spec", "kind"),
    [("sim:student", "embedder"), ("static", "chat"), ("hash:9", "chat"), ("minilm:x", "embedder")],
)
def test_a_scheme_of_the_other_kind_is_refused(spec: str, kind: str) -> None:
    with pytest.raises(ValueError, match="use 'openai:<model>'"):
        read_spec(spec, kind)  # type: ignore[arg-type]


def test_the_config_and_the_factory_give_the_same_forms() -> None:
    with pytest.raises(ValueError) as from_config:
        ModelConfig(spec="gpt-4o")
    assert "use 'openai:<model>' or 'sim:<role>'" in str(from_config.value)
    with pytest.raises(ConfigError) as from_factory:
        embed_factory.build_embedder(EmbedderConfig(spec="bert"), {})
    assert str(from_factory.value) == (
        "config: embedder.spec is 'bert'; "
        "use 'openai:<model>', 'static', 'hash[:<dim>]' or 'minilm'"
    )
