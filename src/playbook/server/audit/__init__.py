"""The audit UI: people read, edit, approve and reject every playbook entry before it reaches
customers. Server-rendered pages, each with a JSON twin (`/entries/42`, `/entries/42.json`).

The pages (jinja2, the report, the edit check) load on first use of `audit_router` or
`create_audit_app`: `playbook serve` reads the audit settings but, without a reviewer key,
never serves a page.
"""

from typing import TYPE_CHECKING, Any

from playbook.server.audit.settings import AuditSettings, require_reviewer_key, reviewer_key

if TYPE_CHECKING:
    from playbook.server.audit.app import audit_router, create_audit_app

__all__ = [
    "AuditSettings",
    "audit_router",
    "create_audit_app",
    "require_reviewer_key",
    "reviewer_key",
]


def __getattr__(name: str) -> Any:
    if name in ("audit_router", "create_audit_app"):
        from playbook.server.audit import app

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
