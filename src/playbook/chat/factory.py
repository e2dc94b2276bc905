"""Turn one role's model config (`openai:<model>` or `sim:<name>`) into a ChatModel."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from playbook.chat.base import ChatModel
from playbook.chat.openai_backend import OpenAIChat, make_openai_client
from playbook.config import ConfigError, ModelConfig, configured_spec

SimWorld = Callable[[str], ChatModel]  # a simulated model by name


def build_chat_model(
    role: str,
    cfg: ModelConfig,
    env: Mapping[str, str],
    sim: SimWorld,
) -> ChatModel:
    """The model for `role`; `sim` builds simulated models, since the caller owns that world."""
    scheme, model = configured_spec(cfg.spec, "chat", f"models.{role}.spec")
    return BUILDERS[scheme](role, cfg, env, sim, model)


def _simulated(
    role: str, cfg: ModelConfig, env: Mapping[str, str], sim: SimWorld, model: str
) -> ChatModel:
    try:
        return sim(model)
    except ValueError as exc:  # an unknown simulated model: the message lists the known ones
        raise ConfigError(f"config: models.{role}.spec: {exc}") from None


def _openai_model(
    role: str, cfg: ModelConfig, env: Mapping[str, str], sim: SimWorld, model: str
) -> ChatModel:
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


# One builder per chat scheme of playbook.schemes (tests/test_schemes.py checks the match).
BUILDERS: dict[str, Callable[[str, ModelConfig, Mapping[str, str], SimWorld, str], ChatModel]] = {
    "sim": _simulated,
    "openai": _openai_model,
}
