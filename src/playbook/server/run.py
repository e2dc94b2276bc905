"""Start `playbook serve`: read the settings once, open the playbook, check that it can be served,
and run the app with uvicorn until interrupted."""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from playbook.config import Config, ConfigError, load_config, with_database_url
from playbook.embed import Embedder, build_embedder
from playbook.errors import UserError
from playbook.location import Location
from playbook.server.settings import Overrides, ServeSettings, resolve_settings
from playbook.store.core import Store
from playbook.vectors import check_embedder

if TYPE_CHECKING:
    import uvicorn
    from fastapi import APIRouter

    from playbook.edit_check import EditChecker

log = logging.getLogger("playbook.server")
STARTED_POLL_S = 0.01  # how often the upstream check looks whether the server answers yet


async def serve_command(
    config_path: Path | None, overrides: Overrides, env: Mapping[str, str]
) -> None:
    """What `playbook serve` does; bad settings end in a ConfigError or StoreError."""
    config = load_config(config_path) if config_path is not None else None
    config = with_database_url(config, env) if config is not None else None
    settings = resolve_settings(config, overrides, env)
    checker = edit_checker(config, env) if settings.reviewer_key is not None else None
    try:
        await serve(settings, env, checker)
    finally:
        if checker is not None:
            await checker.aclose()


def edit_checker(config: Config | None, env: Mapping[str, str]) -> EditChecker | None:
    """What checks reviewers' edits: the config's student and judge on its domain's policy.
    The proxy needs neither, so a config without them serves on; its edits stay drafts."""
    if config is None:
        return None
    try:
        return checker_for(config, env)
    except UserError as exc:
        log.warning("audit: reviewers' edits cannot be checked (%s); they are kept as drafts", exc)
        return None


async def serve(
    settings: ServeSettings, env: Mapping[str, str], checker: EditChecker | None = None
) -> None:
    store = open_playbook(settings.playbook)
    try:
        embedder = build_embedder(settings.embedder, env)
        try:
            await _serve(settings, store, embedder, checker)
        finally:
            await embedder.aclose()
    finally:
        store.close()


async def _serve(
    settings: ServeSettings, store: Store, embedder: Embedder, checker: EditChecker | None
) -> None:
    """Serve `store` until the server stops."""
    check_servable(store, embedder)
    # The playbook loads (seconds at 100,000 entries) while the web stack is imported here.
    store.prefetch_guidance_vectors(embedder.id, statuses=settings.statuses)
    import uvicorn

    from playbook.server.app import create_app

    _configure_logging()
    log.info(serving_line(store.status_counts(), settings.approved_only))
    if not settings.api_keys:
        log.warning(
            "no API keys configured: anyone on this machine can use the proxy; "
            "set PLAYBOOK_API_KEYS (comma-separated) or serve.api_keys"
        )
    app = create_app(settings, store, embedder, routers=_audit(settings, store, checker))
    # No access log: a line per request cost the proxy about a twentieth of its CPU per
    # request; every chat completion is in the served log and /metrics counts them all.
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, log_config=None, access_log=False
    )
    server = uvicorn.Server(config)
    checking = asyncio.create_task(_check_upstream_once_started(server, settings))
    try:
        await server.serve()
    finally:
        if server.started:
            await checking  # its line is said when the server stops at once (not on Ctrl-C)
        else:
            checking.cancel()  # it never answered (e.g. its port was taken)


async def _check_upstream_once_started(server: uvicorn.Server, settings: ServeSettings) -> None:
    """The upstream check once the server answers: it is a round trip to the upstream (up to
    its timeout) and an HTTP client to import, and readiness need wait for neither."""
    while not server.started and not server.should_exit:
        await asyncio.sleep(STARTED_POLL_S)
    await _check_upstream(settings)


async def _check_upstream(settings: ServeSettings) -> None:
    """One line on the upstream; a failure is a warning, since it may start after the proxy."""
    # Imported in a thread: httpx takes tenths of a second, and the server answers already.
    check = await asyncio.to_thread(importlib.import_module, "playbook.server.upstream_check")
    try:
        answers, line = await check.upstream_problem(
            settings.upstream_url, settings.upstream_key, settings.upstream_model
        )
    except Exception:  # the check must not bring down a proxy that serves
        log.exception("the upstream check of %s failed", settings.upstream_url)
        return
    if answers:
        log.info(line)
    else:
        log.warning(line)


def _audit(settings: ServeSettings, store: Store, checker: EditChecker | None) -> list[APIRouter]:
    """The audit UI beside the proxy, when a reviewer key is set; reviewers' edits are checked
    with the config's student and judge (without a config, they are kept as drafts)."""
    if settings.reviewer_key is None:
        log.info("audit UI off: set PLAYBOOK_REVIEWER_KEY (serve.reviewer_key_env) to turn it on")
        return []
    # Imported here: the pages (jinja2, the report) cost a server without reviewers nothing.
    from playbook.server.audit import AuditSettings, audit_router

    audit = AuditSettings(settings.reviewer_key, approved_only=settings.approved_only)
    log.info("audit UI at http://%s:%d/entries", settings.host, settings.port)
    return [audit_router(store, audit, checker)]


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


def checker_for(config: Config, env: Mapping[str, str]) -> EditChecker:
    """The checker of a config's domain with its student and judge, priced as configured
    (built at the server's edge)."""
    from playbook.edit_check import EditChecker
    from playbook.recorder import Prices
    from playbook.roles import Roles, prompt_environment
    from playbook.workspace import Workspace  # the workspace imports the whole library

    workspace = Workspace.open(config, env)
    models = workspace.chat_models()
    roles = Roles(
        workspace.domain, prompts=prompt_environment(), inject=config.retrieval.inject, **models
    )
    prices = {
        role: Prices(cfg.price_input, cfg.price_output) for role, cfg in config.models.items()
    }
    return EditChecker(roles, prices=prices)
