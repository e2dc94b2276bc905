"""The one list of model specs: which schemes name a chat model or an embedder, and how a spec
is read. `openai:<model>` names either kind, over the same client settings; the factories in
chat/ and embed/ build one model per scheme listed here for their kind (a test checks both)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["chat", "embedder"]


@dataclass(frozen=True)
class Scheme:
    name: str  # what comes before the colon
    kinds: frozenset[Kind]
    argument: Literal["required", "optional", "none"]  # what may come after the colon
    form: str  # how the help and the errors write it

    def takes(self, argument: str) -> bool:
        if self.argument == "required":
            return bool(argument)
        return self.argument == "optional" or not argument


SCHEMES = (
    Scheme("openai", frozenset({"chat", "embedder"}), "required", "openai:<model>"),
    Scheme("sim", frozenset({"chat"}), "required", "sim:<role>"),
    Scheme("static", frozenset({"embedder"}), "none", "static"),
    Scheme("hash", frozenset({"embedder"}), "optional", "hash[:<dim>]"),
    Scheme("minilm", frozenset({"embedder"}), "none", "minilm"),
)


def schemes_for(kind: Kind) -> tuple[Scheme, ...]:
    return tuple(s for s in SCHEMES if kind in s.kinds)


def read_spec(spec: str, kind: Kind) -> tuple[str, str]:
    """The scheme and its argument (`openai:gpt-4o` -> ("openai", "gpt-4o")); a ValueError that
    lists the forms `kind` takes when `spec` is none of them."""
    name, _, argument = spec.partition(":")
    for scheme in schemes_for(kind):
        if scheme.name == name and scheme.takes(argument):
            return name, argument
    raise ValueError(f"{spec!r} is not {_KIND_WORDS[kind]} spec; use {forms(kind)}")


def forms(kind: Kind) -> str:
    written = [f"'{s.form}'" for s in schemes_for(kind)]
    return ", ".join(written[:-1]) + f" or {written[-1]}"


_KIND_WORDS: dict[Kind, str] = {"chat": "a model", "embedder": "an embedder"}
