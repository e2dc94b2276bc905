"""The calls page: the individual model calls of the runs, as `playbook logs` prints them
(prompt, answer, tokens, latency, cost, cache), filtered by run and role; `/calls.json` too."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request, Response

from playbook.server.audit.context import Audit, add_page
from playbook.server.audit.security import AuditError
from playbook.store.calls import CallQuery, LoggedCall
from playbook.store.core import StoreError

PAGE_SIZE = 50
ROLES = ("student", "teacher", "customer", "judge")


class CallPages:
    def __init__(self, audit: Audit) -> None:
        self.audit = audit

    def add_to(self, router: APIRouter) -> None:
        add_page(router, "/calls", self.calls)

    async def calls(
        self,
        request: Request,
        run: str | None = None,
        role: str | None = None,
        errors: bool = False,
        before: int | None = None,
    ) -> Response:
        reviewer = self.audit.reviewer(request)
        if role is not None and role not in ROLES:
            raise AuditError(400, f"role {role!r} is not one of {', '.join(ROLES)}")
        query = CallQuery(run or None, role or None, errors, PAGE_SIZE, before)

        def load() -> list[LoggedCall]:
            if query.run_id is not None:
                self.audit.store.run(query.run_id)  # an unknown run is a 404, not an empty page
            return self.audit.store.call_log(query)

        try:
            calls = await self.audit.run(load)
        except StoreError as exc:
            raise AuditError(404, str(exc)) from None
        data = calls_view(query, calls)
        return self.audit.page(request, reviewer, "calls.html.j2", data)


def calls_view(query: CallQuery, calls: list[LoggedCall]) -> dict[str, Any]:
    """What the page shows and its JSON twin returns; `earlier`: the page of older calls."""
    rows = [
        {**asdict(c), "created_at": c.created_at.isoformat() if c.created_at else None}
        for c in calls
    ]
    earlier = None
    if len(calls) == query.count and calls:
        earlier = {"run": query.run_id, "role": query.role, "before": calls[0].id}
    return {
        "filters": {"run": query.run_id, "role": query.role, "errors": query.errors},
        "roles": list(ROLES),
        "calls": rows,
        "earlier": earlier,
    }
