"""What `playbook serve` runs with: the config's [serve] section and the command-line flags,
resolved once against the environment (upstream key, client keys) at the edge."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from playbook.config import Config, ConfigError, EmbedderConfig, RetrievalConfig, ServeConfig
from playbook.domain import DomainError, load_domain
from playbook.location import DATABASE_URL_ENV, Location, parse_location
from playbook.server.audit.settings import reviewer_key
from playbook.server.messages import Inject
from playbook.types import Goal


@dataclass(frozen=True)
class Overrides:
    """Command-line flags; None keeps the config's value."""

    playbook: Location | None = None  # a SQLite file or a postgresql:// URL
    upstream: str | None = None
    model: str | None = None
    host: str | None = None
    port: int | None = None


log = logging.getLogger("playbook.server")

_SERVE = ServeConfig()  # the defaults, written once in config.py
_RETRIEVAL = RetrievalConfig()


@dataclass(frozen=True)
class ServeSettings:
    """Everything the server needs, secrets included; secrets are left out of its repr."""

    playbook: Location
    upstream_url: str
    upstream_model: str | None = None
    upstream_key: str | None = field(default=None, repr=False)
    timeout: float = _SERVE.timeout
    host: str = _SERVE.host
    port: int = _SERVE.port
    api_keys: frozenset[str] = field(default=frozenset(), repr=False)
    approved_only: bool = _SERVE.approved_only
    inject: Inject = _RETRIEVAL.inject  # resolved: [serve] inject, else [retrieval] inject
    record_content: bool = _SERVE.record_content
    max_request_bytes: int = _SERVE.max_request_bytes
    retrieval: RetrievalConfig = _RETRIEVAL
    reload_interval: float = _SERVE.reload_interval
    embedder: EmbedderConfig = field(default_factory=EmbedderConfig)
    reviewer_key: str | None = field(default=None, repr=False)  # None: no audit UI
    goals: tuple[Goal, ...] = ()  # the config's domain's: conversations of others get no guidance

    @property
    def statuses(self) -> tuple[str, ...]:
        """The review statuses served: rejected entries never are; proposed ones unless gated."""
        return ("approved",) if self.approved_only else ("proposed", "approved")


def resolve_settings(
    config: Config | None, overrides: Overrides, env: Mapping[str, str]
) -> ServeSettings:
    """Settings from a config (or defaults alone) plus flags; a ConfigError says what to fix."""
    serve = config.serve if config is not None else ServeConfig()
    retrieval = config.retrieval if config is not None else RetrievalConfig()
    playbook = overrides.playbook or (config.playbook if config is not None else None)
    if playbook is None and env.get(DATABASE_URL_ENV, "").strip():
        try:
            playbook = parse_location(env[DATABASE_URL_ENV].strip())
        except ValueError as exc:
            raise ConfigError(f"{DATABASE_URL_ENV}: {exc}") from None
    if playbook is None:
        raise ConfigError("serve: which playbook? give --playbook DB or --config FILE")
    upstream_url, key_env = _upstream(config, serve, overrides)
    settings = ServeSettings(
        playbook=playbook,
        upstream_url=upstream_url,
        upstream_model=overrides.model or serve.upstream_model,
        upstream_key=_secret(env, key_env, "serve.upstream_api_key_env"),
        timeout=serve.timeout,
        host=overrides.host or serve.host,
        port=overrides.port or serve.port,
        api_keys=_client_keys(serve, env),
        approved_only=serve.approved_only,
        inject=serve.inject or retrieval.inject,
        record_content=serve.record_content,
        max_request_bytes=serve.max_request_bytes,
        retrieval=retrieval,
        reload_interval=serve.reload_interval,
        embedder=config.embedder if config is not None else EmbedderConfig(),
        reviewer_key=reviewer_key(serve, env),
        goals=_domain_goals(config),
    )
    _refuse_open_network_access(settings, serve)
    return settings


def _domain_goals(config: Config | None) -> tuple[Goal, ...]:
    """The goals of the config's domain, which retrieval tells conversations apart by. The proxy
    serves without them (as without a config) when the domain file cannot be read."""
    if config is None:
        return ()
    try:
        return load_domain(config.domain).goals
    except DomainError as exc:
        log.warning("serve: conversations' goals are not told apart (%s)", exc)
        return ()


def _upstream(
    config: Config | None, serve: ServeConfig, overrides: Overrides
) -> tuple[str, str | None]:
    """The upstream base URL and the name of the variable holding its key.

    Unset, both default to the configured student's, since the proxy stands in front of it.
    """
    student = config.models.get("student") if config is not None else None
    url = overrides.upstream or serve.upstream_base_url
    key_env = serve.upstream_api_key_env
    if url is None and student is not None and student.spec.startswith("openai:"):
        url, key_env = student.base_url, key_env or student.api_key_env
    if not url:
        raise ConfigError(
            "config: serve.upstream_base_url is missing; set it or pass --upstream URL "
            "(e.g. http://localhost:11434/v1 for Ollama, http://localhost:8000/v1 for vLLM)"
        )
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"config: serve upstream {url!r} must start with http:// or https://")
    return url.rstrip("/"), key_env


def _secret(env: Mapping[str, str], name: str | None, where: str) -> str | None:
    if name is None:
        return None
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"config: {where} names {name}, which is not set; export it")
    return value


def _client_keys(serve: ServeConfig, env: Mapping[str, str]) -> frozenset[str]:
    from_env = env.get(serve.api_keys_env, "").split(",")
    return frozenset(key.strip() for key in (*serve.api_keys, *from_env) if key.strip())


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach: 127.0.0.0/8, ::1, localhost."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to any interface
        return False


def _refuse_open_network_access(settings: ServeSettings, serve: ServeConfig) -> None:
    # Without keys anyone who can reach the port can spend the upstream's compute and read the
    # playbook's guidance; on loopback that is only this machine's users, anywhere else it is not.
    if not settings.api_keys and not is_loopback(settings.host):
        raise ConfigError(
            f"serve: no API keys, and host {settings.host} is reachable from other machines; "
            f"set {serve.api_keys_env} (comma-separated keys) or serve.api_keys, "
            "or serve on 127.0.0.1"
        )
