"""Start `playbook audit`: the audit UI alone over a playbook, until interrupted."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import uvicorn

from playbook.config import ConfigError, ServeConfig, load_config, with_database_url
from playbook.location import Location
from playbook.server.audit.app import create_audit_app
from playbook.server.audit.settings import AuditSettings, require_reviewer_key
from playbook.server.run import edit_checker
from playbook.server.settings import is_loopback
from playbook.store.core import Store

log = logging.getLogger("playbook.server")


async def audit_command(
    config_path: Path | None,
    playbook: Location | None,
    host: str | None,
    port: int | None,
    env: Mapping[str, str],
) -> None:
    """What `playbook audit` does; bad settings end in a ConfigError or StoreError."""
    config = load_config(config_path) if config_path is not None else None
    config = with_database_url(config, env) if config is not None else None
    serve = config.serve if config is not None else ServeConfig()
    path = playbook or (config.playbook if config is not None else None)
    if path is None:
        raise ConfigError("audit: which playbook? give --playbook DB or --config FILE")
    settings = AuditSettings(require_reviewer_key(serve, env), approved_only=serve.approved_only)
    host = host or serve.host
    if isinstance(path, Path) and not path.is_file():  # Store.open would make an empty one
        raise ConfigError(
            f"audit: no playbook at {path}; learn one (playbook learn) or fix the path"
        )
    store = Store.open(path, create=isinstance(path, Path))
    try:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
        if not is_loopback(host):
            log.warning("audit: serving on %s over plain HTTP; put it behind TLS", host)
        checker = edit_checker(config, env)
        app = create_audit_app(store, settings, checker)
        server = uvicorn.Config(app, host=host, port=port or serve.port, log_config=None)
        try:
            await uvicorn.Server(server).serve()
        finally:
            if checker is not None:
                await checker.aclose()
    finally:
        store.close()
