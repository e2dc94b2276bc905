"""Start `playbook serve`: read the settings once, open the playbook, check that it can be served,
and run the app with uvicorn until interrupted."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import uvicorn
from fastapi import APIRouter

from playbook.config import ConfigError, load_config, with_database_url
from playbook.embed import Embedder, build_embedder
from playbook.location import Location
from playbook.server.app import create_app
from playbook.server.audit import AuditSettings, audit_router
from playbook.server.settings import Overrides, ServeSettings, resolve_settings
from playbook.store import Store
from playbook.vectors import check_embedder

log = logging.getLogger("playbook.server")


async def serve_command(
    config_path: Path | None, overrides: Overrides, env: Mapping[str, str]
) -> None:
    """What `playbook serve` does; bad settings end in a ConfigError or StoreError."""
    config = load_config(config_path) if config_path is not None else None
    config = with_database_url(config, env) if config is not None else None
    await serve(resolve_settings(config, overrides, env), env)


async def serve(settings: ServeSettings, env: Mapping[str, str]) -> None:
    store = open_playbook(settings.playbook)
    try:
        embedder = build_embedder(settings.embedder, env)
        check_servable(store, embedder)
        _configure_logging()
        log.info(serving_line(store.status_counts(), settings.approved_only))
        if not settings.api_keys:
            log.warning(
                "no API keys configured: anyone on this machine can use the proxy; "
                "set PLAYBOOK_API_KEYS (comma-separated) or serve.api_keys"
            )
        app = create_app(settings, store, embedder, routers=_audit(settings, store))
        config = uvicorn.Config(app, host=settings.host, port=settings.port, log_config=None)
        await uvicorn.Server(config).serve()
    finally:
        store.close()


def _audit(settings: ServeSettings, store: Store) -> list[APIRouter]:
    """The audit UI beside the proxy, when a reviewer key is set."""
    if settings.reviewer_key is None:
        log.info("audit UI off: set PLAYBOOK_REVIEWER_KEY (serve.reviewer_key_env) to turn it on")
        return []
    audit = AuditSettings(settings.reviewer_key, approved_only=settings.approved_only)
    log.info("audit UI at http://%s:%d/entries", settings.host, settings.port)
    return [audit_router(store, audit)]


def serving_line(counts: Mapping[str, int], approved_only: bool) -> str:
    """Which entries this server serves, said where it starts (the approval gate is easy to
    forget either way)."""
    approved, proposed = counts.get("approved", 0), counts.get("proposed", 0)
    if approved_only:
        return (
            f"serving {approved} approved entries ({proposed} proposed wait for review; "
            "approved_only = true)"
        )
    return (
        f"serving {approved + proposed} entries: {approved} approved and {proposed} proposed "
        "(approved_only = false: proposed entries reach customers unreviewed)"
    )


def open_playbook(path: Location) -> Store:
    # Store.open would create an empty playbook, and the proxy would then serve no guidance.
    if isinstance(path, Path) and not path.is_file():
        raise ConfigError(
            f"serve: no playbook at {path}; learn one (playbook learn) or fix the path"
        )
    return Store.open(path, create=isinstance(path, Path))  # a URL: refuse an empty database


def check_servable(store: Store, embedder: Embedder) -> None:
    """Refuse a playbook whose entries the embedder cannot search (embedded by another model)."""
    check_embedder(store, embedder, "serve")


def _configure_logging() -> None:
    # uvicorn's own log config is skipped (log_config=None) so that ours covers both.
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per upstream call is noise
    # faiss logs each CPU-specific build it tries and cannot load, which reads like an error.
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)
