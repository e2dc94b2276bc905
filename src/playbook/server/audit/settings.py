"""What the audit UI runs with: the reviewer key (resolved once, at the edge) and the secret
that signs session cookies."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

from playbook.config import ConfigError, ServeConfig

MIN_KEY_LENGTH = 16


@dataclass(frozen=True)
class AuditSettings:
    """Secrets are left out of the repr. The session secret is new in every process unless
    given, so a restart signs every reviewer out."""

    reviewer_key: str = field(repr=False)
    session_secret: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    session_seconds: int = 12 * 3600
    # What a proxy on this playbook serves, shown on every page; the default is the config's.
    approved_only: bool = ServeConfig().approved_only
    max_upload_bytes: int = 50_000_000


def reviewer_key(serve: ServeConfig, env: Mapping[str, str]) -> str | None:
    """The key from the variable named by serve.reviewer_key_env, else from the config.

    None when neither is set; a ConfigError when the key is too short to resist guessing.
    """
    key = env.get(serve.reviewer_key_env, "").strip() or (serve.reviewer_key or "").strip()
    if key and len(key) < MIN_KEY_LENGTH:
        raise ConfigError(
            f"audit: the reviewer key ({serve.reviewer_key_env} or serve.reviewer_key) has "
            f"{len(key)} characters; use at least {MIN_KEY_LENGTH}, e.g. the output of "
            "python -c 'import secrets; print(secrets.token_urlsafe(24))'"
        )
    return key or None


def require_reviewer_key(serve: ServeConfig, env: Mapping[str, str]) -> str:
    key = reviewer_key(serve, env)
    if key is None:
        raise ConfigError(
            f"audit: no reviewer key; set {serve.reviewer_key_env} (e.g. export "
            f"{serve.reviewer_key_env}=$(python -c 'import secrets; "
            "print(secrets.token_urlsafe(24))')) or serve.reviewer_key in the config"
        )
    return key
