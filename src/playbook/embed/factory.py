"""The one place a config's embedder spec becomes an embedder."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from playbook.config import ConfigError, EmbedderConfig, configured_spec
from playbook.embed.base import Embedder
from playbook.embed.hashed import HashEmbedder


def build_embedder(cfg: EmbedderConfig, env: Mapping[str, str]) -> Embedder:
    """The embedder a config names: `static`, `hash`, `hash:<dim>`, `openai:<model>`, `minilm`."""
    scheme, argument = configured_spec(cfg.spec, "embedder", "embedder.spec")
    return BUILDERS[scheme](cfg, env, argument)


def _static(cfg: EmbedderConfig, env: Mapping[str, str], argument: str) -> Embedder:
    from playbook.embed.static import StaticEmbedder

    return StaticEmbedder.bundled()


def _hash(cfg: EmbedderConfig, env: Mapping[str, str], argument: str) -> Embedder:
    return HashEmbedder(_hash_dim(cfg.spec, argument))


def _openai(cfg: EmbedderConfig, env: Mapping[str, str], argument: str) -> Embedder:
    # Imported here: the openai SDK costs a third of a second, which `hash` users never pay.
    from playbook.chat.openai_backend import make_openai_client
    from playbook.embed.openai import OpenAIEmbedder

    return OpenAIEmbedder(argument, make_openai_client(cfg, env, "embedder"))


def _minilm(cfg: EmbedderConfig, env: Mapping[str, str], argument: str) -> Embedder:
    from playbook.embed.minilm import MiniLMEmbedder

    return MiniLMEmbedder()


# One builder per embedder scheme of playbook.schemes (tests/test_schemes.py checks the match).
BUILDERS: dict[str, Callable[[EmbedderConfig, Mapping[str, str], str], Embedder]] = {
    "static": _static,
    "hash": _hash,
    "openai": _openai,
    "minilm": _minilm,
}


def _hash_dim(spec: str, text: str) -> int:
    if not text:
        return 1024
    if not text.isdigit() or not 16 <= int(text) <= 65536:
        raise ConfigError(
            f"config: embedder.spec {spec!r}: the dimension must be a whole number "
            "from 16 to 65536, e.g. 'hash:1024'"
        )
    return int(text)
