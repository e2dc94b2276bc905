"""The audit UI: people read, edit, approve and reject every playbook entry before it reaches
customers. Server-rendered pages, each with a JSON twin (`/entries/42`, `/entries/42.json`)."""

from playbook.server.audit.app import audit_router, create_audit_app
from playbook.server.audit.settings import AuditSettings, require_reviewer_key, reviewer_key

__all__ = [
    "AuditSettings",
    "audit_router",
    "create_audit_app",
    "require_reviewer_key",
    "reviewer_key",
]
