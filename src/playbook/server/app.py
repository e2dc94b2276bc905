"""The app of `playbook serve`, with every dependency passed in.

More routers (e.g. the audit UI) plug in through `create_app(..., routers=[...])`; they reach
the running parts (store, playbook, settings, metrics) through `services(request)`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from starlette.types import ASGIApp

from playbook.embed import Embedder
from playbook.roles import prompt_environment
from playbook.server import routes
from playbook.server.auth import KeyCheck
from playbook.server.chat_route import CHAT_PATH, ChatRoute
from playbook.server.errors import install_error_handlers
from playbook.server.live import LivePlaybook
from playbook.server.messages import GuidanceWriter
from playbook.server.metrics import Metrics, MetricsMiddleware
from playbook.server.proxy import ChatProxy
from playbook.server.recording import ServedLog
from playbook.server.services import Services
from playbook.server.settings import ServeSettings
from playbook.server.upstream import Upstream, upstream_clients
from playbook.store.core import Store


def create_app(
    settings: ServeSettings,
    store: Store,
    embedder: Embedder,
    *,
    routers: Sequence[APIRouter] = (),
) -> ASGIApp:
    """The proxy app over an open store; the caller closes the store after the app stops.

    Every request is counted by the metrics; chat completions are answered by ChatRoute, the
    rest by the FastAPI app."""
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        key = settings.upstream_key
        async with upstream_clients(settings.upstream_url, settings.timeout, key) as clients:
            held = [*settings.api_keys, *([settings.reviewer_key] if settings.reviewer_key else [])]
            upstream = Upstream(clients, settings.timeout, key, held)
            app.state.services = _services(settings, store, embedder, upstream, metrics)
            async with _background_tasks(app.state.services):
                yield

    app = FastAPI(title="llm-playbook", lifespan=lifespan, docs_url=None, redoc_url=None)
    install_error_handlers(app)
    for router in (routes.api, routes.ops, *routers):
        app.include_router(router)
    chat = next(r for r in routes.api.routes if getattr(r, "path", None) == CHAT_PATH)
    return MetricsMiddleware(ChatRoute(app, chat), metrics)


def _services(
    settings: ServeSettings, store: Store, embedder: Embedder, upstream: Upstream, metrics: Metrics
) -> Services:
    def reloaded(entries: int) -> None:
        metrics.entries_loaded.set(entries)
        metrics.reloads.inc()

    playbook = LivePlaybook(
        store, embedder, settings.statuses, settings.retrieval, reloaded, goals=settings.goals
    )
    served = ServedLog(store)
    writer = GuidanceWriter(prompt_environment(), settings.inject)
    proxy = ChatProxy(settings, playbook, writer, upstream, served, metrics)
    keys = KeyCheck(settings.api_keys)
    return Services(settings, store, playbook, proxy, served, keys, metrics)


@asynccontextmanager
async def _background_tasks(parts: Services) -> AsyncIterator[None]:
    """Load the playbook, then watch it for changes and write the served log, until shutdown.

    A large playbook's approximate index is trained after the server is ready (exact search
    answers meanwhile): at 100,000 entries that is seconds sooner.
    """
    await parts.playbook.reload(settle=False)
    settler = asyncio.create_task(parts.playbook.settle())
    watcher = asyncio.create_task(parts.playbook.watch(parts.settings.reload_interval))
    writer = asyncio.create_task(parts.served.run())
    try:
        yield
    finally:
        settler.cancel()
        watcher.cancel()
        await parts.served.stop()
        await writer  # everything served is in the store before the caller closes it
