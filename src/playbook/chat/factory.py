"""Turn one role's model config (`openai:<model>` or `sim:<name>`) into a ChatModel."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from playbook.chat.base import ChatModel
from playbook.chat.openai_backend import OpenAIChat, make_openai_client
from playbook.config import ConfigError, ModelConfig


def build_chat_model(
    role: str,
    cfg: ModelConfig,
    env: Mapping[str, str],
    sim: Callable[[str], ChatModel],
) -> ChatModel:
    """The model for `role`; `sim` builds simulated models, since the caller owns that world."""
    scheme, _, model = cfg.spec.partition(":")
    if scheme == "sim" and model:
        return sim(model)
    if scheme == "openai" and model:
        return _openai_model(role, cfg, env, model)
    raise ConfigError(
        f"config: models.{role}.spec is {cfg.spec!r}; use 'openai:<model>' or 'sim:<role>'"
    )


def _openai_model(role: str, cfg: ModelConfig, env: Mapping[str, str], model: str) -> OpenAIChat:
    # The env var lets one config file point at different servers (CI, a laptop, production).
    base_url = cfg.base_url or env.get(f"PLAYBOOK_{role.upper()}_BASE_URL") or None
    client = make_openai_client(
        cfg.model_copy(update={"base_url": base_url}), env, f"models.{role}"
    )
    return OpenAIChat(
        model,
        client,
        name=cfg.spec,
        temperature=cfg.temperature,
        max_tokens=cfg.max_tokens,
        api_key_env=cfg.api_key_env,
    )
