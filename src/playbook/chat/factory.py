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
        try:
            return sim(model)
        except ValueError as exc:  # an unknown simulated model: the message lists the known ones
            raise ConfigError(f"config: models.{role}.spec: {exc}") from None
    if scheme == "openai" and model:
        return _openai_model(role, cfg, env, model)
    raise ConfigError(
        f"config: models.{role}.spec is {cfg.spec!r}; use 'openai:<model>' or 'sim:<role>'"
    )


def _openai_model(role: str, cfg: ModelConfig, env: Mapping[str, str], model: str) -> OpenAIChat:
    # The env var lets one config file point at different servers (CI, a laptop, production).
    variable = f"PLAYBOOK_{role.upper()}_BASE_URL"
    base_url = cfg.base_url or env.get(variable) or None
    if base_url and not base_url.startswith(("http://", "https://")):
        raise ConfigError(f"{variable} is {base_url!r}; it needs http:// or https:// in front")
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
