"""The TOML configuration, validated with pydantic; read once at the CLI or server edge."""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from playbook.errors import UserError
from playbook.schemes import Kind, forms, read_spec
from playbook.types import RATING_WORDS, ROLES


class ConfigError(UserError):
    """A configuration file that cannot be used; the message names the field and the fix."""


DEFAULT_CONFIG = Path("playbook.toml")  # what `learn` and friends read when given no --config
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KEY_PREFIXES = ("sk-", "sk_", "hf_", "gsk_", "xai-", "AIza", "ghp_", "github_pat_")


class _Strict(BaseModel):
    # Inputs stay out of error texts: a key pasted where a variable name belongs is never echoed.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


def configured_spec(spec: str, kind: Kind, where: str) -> tuple[str, str]:
    """The scheme and argument of a configured spec (schemes.read_spec); a ConfigError naming
    the field `where` and the forms it takes."""
    try:
        return read_spec(spec, kind)
    except ValueError:
        raise ConfigError(f"config: {where} is {spec!r}; use {forms(kind)}") from None


def looks_like_a_key(value: str) -> bool:
    """True when `value`, given where the *name* of an environment variable belongs, is not one:
    most likely the key itself, pasted in (so it must never be printed or stored)."""
    if not _ENV_NAME.fullmatch(value) or value.startswith(_KEY_PREFIXES):
        return True
    has_digit, has_lower = any(c.isdigit() for c in value), any(c.islower() for c in value)
    random_looking = "_" not in value or any(c.isupper() for c in value)
    return len(value) >= 20 and has_digit and has_lower and random_looking


def _variable_name(value: str | None) -> str | None:
    if value is not None and looks_like_a_key(value):
        raise ValueError(
            "give the name of the environment variable holding the key (like OPENAI_API_KEY), "
            "not the key itself (the value is not shown); export the key in that variable"
        )
    return value


def _http_url(value: str | None) -> str | None:
    if value is not None and not value.startswith(("http://", "https://")):
        rest = value.split("://", 1)[-1]
        raise ValueError(f"{value!r} needs a scheme; write 'http://{rest}' (or https://)")
    return value


class ModelConfig(_Strict):
    """One role's model: `openai:<model>` (any OpenAI-compatible endpoint) or `sim:<role>`."""

    spec: str
    base_url: str | None = None
    api_key_env: str | None = None  # name of the environment variable holding the key
    timeout: float = Field(60.0, gt=0)
    max_retries: int = Field(4, ge=0, le=20)
    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int | None = Field(None, gt=0)
    price_input: float = Field(0.0, ge=0, description="USD per million input tokens")
    price_output: float = Field(0.0, ge=0, description="USD per million output tokens")
    # Calls in flight at once to this model's endpoint (shared by every role on the same
    # base_url); None: as many as [learn] concurrency allows.
    concurrency: int | None = Field(None, ge=1, le=1024)

    @field_validator("spec")
    @classmethod
    def _known_scheme(cls, spec: str) -> str:
        read_spec(spec, "chat")  # a ValueError naming the forms a chat model's spec takes
        return spec

    _key_variable = field_validator("api_key_env")(_variable_name)
    _url = field_validator("base_url")(_http_url)


class EmbedderConfig(_Strict):
    """`static` (offline default), `hash`, `openai:<model>` or `minilm` (optional extra)."""

    spec: str = "static"
    base_url: str | None = None
    api_key_env: str | None = None
    timeout: float = Field(30.0, gt=0)

    _key_variable = field_validator("api_key_env")(_variable_name)
    _url = field_validator("base_url")(_http_url)


class LearnConfig(_Strict):
    rounds: int = Field(3, ge=1, le=50)
    # Probability that an agent turn in scenario generation is the student's, per round.
    mixing: tuple[float, ...] = (0.0, 0.5, 1.0)
    max_attempts: int = Field(3, ge=1, le=10)  # K in DESIGN.md section 2
    accept: str = "very good"
    max_turns: int = Field(6, ge=1, le=50)  # customer messages per conversation
    concurrency: int = Field(8, ge=1, le=256)
    seed: int = 0
    # The judge checks every verified guideline list against the policy before it is kept.
    policy_check: bool = True
    # Step 3: personas on which the student with the playbook is evaluated after each round;
    # learning stops early when it reaches the teacher or stops improving. 0: off.
    validation: int = Field(0, ge=0, le=10_000)
    samples: int = Field(3, ge=1, le=20)  # student replies rated per attempt in verification
    prune: bool = True  # drop the lines verified guidance does as well without
    merge_similarity: float = Field(0.95, gt=0, le=1)  # similar scenarios, same guidance: merged
    max_entries: int = Field(0, ge=0)  # size budget of one learn run; 0: none
    # Share of each goal's grid cells (and situation personas) that learning never sees, kept
    # for evaluation; and situations of the goals held out whole.
    held_out: float = Field(0.25, ge=0, lt=1)
    held_out_situations: tuple[str, ...] = ()
    goals: tuple[str, ...] = ()  # empty: every goal of the domain
    personas: tuple[Path, ...] = ()  # persona files (YAML or JSON); one file may be a string
    grid: bool | None = None  # the goals' persona grids too; unset: only without persona files
    transcripts: tuple[Path, ...] = ()  # chat transcripts (JSONL) improved in the first round
    generated_personas: int = Field(0, ge=0, le=100)  # teacher-made personas per round; 0: off
    generated_max_similarity: float = Field(0.9, gt=0, le=1)  # near-duplicates are dropped

    @field_validator("personas", "transcripts", mode="before")
    @classmethod
    def _one_or_more(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @field_validator("accept")
    @classmethod
    def _known_rating(cls, accept: str) -> str:
        if accept.lower() not in RATING_WORDS:
            raise ValueError(f"{accept!r} is not a rating; use one of {', '.join(RATING_WORDS)}")
        return accept.lower()

    @field_validator("mixing")
    @classmethod
    def _probabilities(cls, mixing: tuple[float, ...]) -> tuple[float, ...]:
        if not mixing or any(not 0 <= p <= 1 for p in mixing):
            raise ValueError("mixing needs one or more probabilities between 0 and 1")
        return mixing

    def student_share(self, round_index: int) -> float:
        """p_r: the last value repeats when there are more rounds than values."""
        return self.mixing[min(round_index, len(self.mixing) - 1)]


Match = Literal["conversation", "guidance"]


class RetrievalConfig(_Strict):
    k: int = Field(1, ge=1, le=50)  # the paper retrieves the single nearest entry
    # Minimum cosine similarity; unset: the embedder's calibrated floor
    # (embed.base.CALIBRATED_FLOORS).
    floor: float | None = Field(None, ge=-1, le=1)
    inject: Literal["system", "last_message"] = "system"
    # What a conversation is matched on: the nearest entries' conversations (the paper), or the
    # guidance it is predicted to need, learned from the playbook (retrieve.GuidanceMap).
    match: Match = "conversation"


class RoleBudget(_Strict):
    calls: int | None = Field(None, ge=0)
    tokens: int | None = Field(None, ge=0)


# Not 8000, which vLLM and many other servers take by default: the proxy usually runs beside
# its upstream. `playbook simulate` listens on 8765 and `playbook local`'s llama.cpp on 8766.
SERVE_PORT = 8780


class ServeConfig(_Strict):
    """`playbook serve`: the OpenAI-compatible proxy in front of the student."""

    # The student's OpenAI-compatible server, e.g. http://localhost:11434/v1 (Ollama);
    # unset: models.student.base_url.
    upstream_base_url: str | None = None
    upstream_model: str | None = None  # replaces the client's model name when set
    upstream_api_key_env: str | None = None  # unset: models.student.api_key_env
    timeout: float = Field(60.0, gt=0)  # seconds for the upstream to answer (and between chunks)
    host: str = "127.0.0.1"
    port: int = Field(SERVE_PORT, ge=1, le=65535)
    # Bearer keys clients must send: the variable named here (comma-separated) plus `api_keys`.
    # The keys are kept out of repr and dumps, so they never reach a log or a run's stored config.
    api_keys_env: str = "PLAYBOOK_API_KEYS"
    api_keys: tuple[str, ...] = Field((), repr=False, exclude=True)
    # The approval gate: serve only entries a reviewer approved (the demo turns it off).
    approved_only: bool = True
    inject: Literal["system", "last_message"] | None = None  # unset: retrieval.inject
    record_content: bool = False  # store messages and answers of served requests
    max_request_bytes: int = Field(1_000_000, ge=1024)
    reload_interval: float = Field(1.0, gt=0)  # seconds between checks for playbook changes
    # The audit UI's sign-in key: the variable named here, else `reviewer_key` (kept out of repr
    # and dumps like api_keys). Without a key `playbook serve` runs without the audit UI.
    reviewer_key_env: str = "PLAYBOOK_REVIEWER_KEY"
    reviewer_key: str | None = Field(None, repr=False, exclude=True)

    _key_variables = field_validator("upstream_api_key_env", "api_keys_env", "reviewer_key_env")(
        _variable_name
    )
    _url = field_validator("upstream_base_url")(_http_url)


class Config(_Strict):
    domain: Path
    # A SQLite file (relative to the config's folder), or a PostgreSQL database for a team:
    # "postgresql://user@host/db" (PLAYBOOK_DATABASE_URL, if set, wins: it may hold a password).
    playbook: Path | str = Path("playbook.db")
    models: dict[str, ModelConfig]
    embedder: EmbedderConfig = EmbedderConfig()
    learn: LearnConfig = LearnConfig()
    retrieval: RetrievalConfig = RetrievalConfig()
    budget: dict[str, RoleBudget] = {}
    serve: ServeConfig = ServeConfig()

    @field_validator("playbook", mode="before")
    @classmethod
    def _location(cls, value: object) -> object:
        from playbook.location import parse_location

        return parse_location(value) if isinstance(value, str) else value

    @field_validator("models", "budget")
    @classmethod
    def _known_roles(cls, value: dict[str, object]) -> dict[str, object]:
        unknown = sorted(set(value) - set(ROLES))
        if unknown:
            raise ValueError(
                f"unknown role {unknown[0]!r}{did_you_mean(unknown[0], ROLES, ' (', ')')}; "
                f"roles are {', '.join(ROLES)}"
            )
        return value

    @field_validator("models")
    @classmethod
    def _all_roles(cls, models: dict[str, ModelConfig]) -> dict[str, ModelConfig]:
        missing = [role for role in ROLES if role not in models]
        if missing:
            raise ValueError(f"missing [models.{missing[0]}] (every role needs a model)")
        return models


def config_schema() -> dict[str, Any]:
    """The JSON Schema of `playbook.toml`, as published in docs/config.schema.json (editors
    that read one, such as Taplo's, then mark a misspelt key as you type)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **Config.model_json_schema(),
        "title": "llm-playbook config (playbook.toml)",
    }


def load_config(path: Path) -> Config:
    """Read and validate a config file; relative paths are relative to the file's folder."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config {path}: file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config {path}: not valid TOML ({exc})") from None
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"config {path}: {describe_validation_error(exc, Config)}") from None
    return _resolve_paths(config, path.parent)


def find_config(given: Path | None, folder: Path) -> Path:
    """The config a command reads: the one given, else `playbook.toml` in `folder`."""
    if given is not None:
        return given
    if (folder / DEFAULT_CONFIG).is_file():
        return DEFAULT_CONFIG
    raise ConfigError(
        f"no {DEFAULT_CONFIG} in this folder; give --config FILE, or write one with `playbook init`"
    )


def describe_validation_error(exc: ValidationError, model: type[BaseModel] | None = None) -> str:
    """One line per problem: `field.path: message`; an unknown key of `model` gets the known
    key it is most likely a typo of."""
    lines = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "(top level)"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden" and model is not None:
            where, message = _unknown_key(model, error["loc"], isinstance(error["input"], dict))
        lines.append(f"{where}: {message}")
    return "; ".join(lines)


def did_you_mean(word: str, known: Sequence[str], before: str = "; ", after: str = "") -> str:
    """ "; did you mean 'x'?" for the known word closest to a typo, or nothing."""
    close = difflib.get_close_matches(word, known, n=1, cutoff=0.6)
    return f"{before}did you mean {close[0]!r}?{after}" if close else ""


def _unknown_key(model: type[BaseModel], loc: Sequence[Any], is_table: bool) -> tuple[str, str]:
    *parent, name = [str(part) for part in loc]
    known = _keys_at(model, parent)
    if is_table:
        where = "[" + ".".join([*parent, name]) + "]"
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        hint = f"; did you mean [{'.'.join([*parent, close[0]])}]?" if close else ""
        return where, f"unknown section{hint}"
    return ".".join([*parent, name]), f"unknown key{did_you_mean(name, known)}"


def _keys_at(model: type[BaseModel], path: Sequence[str]) -> list[str]:
    """The keys a config allows at `path` (dict keys, such as role names, are stepped over)."""
    current: Any = model
    for part in path:
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(part)
            if field is None:
                return []
            current = field.annotation
        elif get_origin(current) is dict:
            current = get_args(current)[1]
        else:
            return []
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _resolve_paths(config: Config, base: Path) -> Config:
    learn = config.learn
    learn = learn.model_copy(
        update={
            "personas": tuple(base / path for path in learn.personas),
            "transcripts": tuple(base / path for path in learn.transcripts),
        }
    )
    return config.model_copy(
        update={
            "domain": base / config.domain,
            "playbook": base / config.playbook
            if isinstance(config.playbook, Path)
            else config.playbook,
            "learn": learn,
        }
    )


def with_database_url(config: Config, env: Mapping[str, str]) -> Config:
    """The config with PLAYBOOK_DATABASE_URL, if set, as its playbook (a URL may carry a
    password, which belongs in the environment rather than in a file)."""
    from playbook.location import DATABASE_URL_ENV, parse_location

    url = env.get(DATABASE_URL_ENV, "").strip()
    if not url:
        return config
    try:
        return config.model_copy(update={"playbook": parse_location(url)})
    except ValueError as exc:
        raise ConfigError(f"{DATABASE_URL_ENV}: {exc}") from None
