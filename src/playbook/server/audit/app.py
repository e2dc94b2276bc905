"""The audit UI as a router: mounted beside the proxy by `playbook serve`, or alone in its own
app by `playbook audit` (which needs no upstream)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from playbook.edit_check import EditChecker
from playbook.server.audit.context import Audit, route_class, template_environment
from playbook.server.audit.routes_calls import CallPages
from playbook.server.audit.routes_entries import EntryPages
from playbook.server.audit.routes_exchange import ExchangePages
from playbook.server.audit.routes_guidelines import GuidelinePages
from playbook.server.audit.routes_runs import RunPages
from playbook.server.audit.routes_session import SessionPages
from playbook.server.audit.security import Gate
from playbook.server.audit.settings import AuditSettings
from playbook.store.core import Store


def audit_router(
    store: Store, settings: AuditSettings, checker: EditChecker | None = None
) -> APIRouter:
    """Every audit page, its JSON twin and every review action, over an open store. Without a
    `checker` (no models configured) reviewers' edits are kept as drafts, never served."""
    audit = Audit(store, settings, Gate(settings), template_environment(), checker)
    router = APIRouter(route_class=route_class(audit))
    for pages in (SessionPages, EntryPages, GuidelinePages, RunPages, ExchangePages, CallPages):
        pages(audit).add_to(router)
    return router


def create_audit_app(
    store: Store, settings: AuditSettings, checker: EditChecker | None = None
) -> FastAPI:
    """The audit UI alone; the caller closes the store after the app stops."""
    app = FastAPI(title="llm-playbook audit", docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(audit_router(store, settings, checker))
    return app
