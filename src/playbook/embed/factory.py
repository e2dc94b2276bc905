"""The one place a config's embedder spec becomes an embedder."""

from __future__ import annotations

from collections.abc import Mapping

from playbook.config import ConfigError, EmbedderConfig
from playbook.embed.base import Embedder
from playbook.embed.hashed import HashEmbedder


def build_embedder(cfg: EmbedderConfig, env: Mapping[str, str]) -> Embedder:
    """The embedder a config names: `static`, `hash`, `hash:<dim>`, `openai:<model>`, `minilm`."""
    scheme, _, rest = cfg.spec.partition(":")
    if cfg.spec == "static":
        from playbook.embed.static import StaticEmbedder

        return StaticEmbedder.bundled()
    if scheme == "hash":
        return HashEmbedder(_hash_dim(cfg.spec, rest))
    if scheme == "openai" and rest:
        # Imported here: the openai SDK costs a third of a second, which `hash` users never pay.
        from playbook.chat.openai_backend import make_openai_client
        from playbook.embed.openai import OpenAIEmbedder

        return OpenAIEmbedder(rest, make_openai_client(cfg, env, "embedder"))
    if cfg.spec == "minilm":
        from playbook.embed.minilm import MiniLMEmbedder

        return MiniLMEmbedder()
    raise ConfigError(
        f"config: embedder.spec {cfg.spec!r} is unknown; "
        "use 'static', 'hash', 'hash:<dim>', 'openai:<model>' or 'minilm'"
    )


def _hash_dim(spec: str, text: str) -> int:
    if not text:
        return 1024
    if not text.isdigit() or not 16 <= int(text) <= 65536:
        raise ConfigError(
            f"config: embedder.spec {spec!r}: the dimension must be a whole number "
            "from 16 to 65536, e.g. 'hash:1024'"
        )
    return int(text)
