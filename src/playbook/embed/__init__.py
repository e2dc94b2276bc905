"""Embedders turn scenario texts into unit vectors for retrieval: the offline default (MiniLM
distilled into static token vectors, `static`), hashed n-grams (`hashed`), any OpenAI-compatible
/v1/embeddings endpoint (`openai`), and MiniLM itself (`minilm`, torch). Each has its own
calibrated similarity floor (`base`); `factory` builds the one a config names."""

from playbook.embed.base import Embedder, default_floor
from playbook.embed.factory import build_embedder
from playbook.embed.hashed import HashEmbedder

__all__ = ["Embedder", "HashEmbedder", "build_embedder", "default_floor"]
