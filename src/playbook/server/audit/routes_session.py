"""Signing in and out, the front page and the one static script."""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from playbook.server.audit.context import Audit, Input
from playbook.server.audit.security import (
    AuditError,
    Reviewer,
    clear,
    new_session,
    reviewer_name,
    safe_next,
)

log = logging.getLogger("playbook.server")
SCRIPT = Path(__file__).parent / "static" / "audit.js"
MAX_SIGN_IN_BYTES = 16_384


class SessionPages:
    def __init__(self, audit: Audit) -> None:
        self.audit = audit

    def add_to(self, router: APIRouter) -> None:
        router.add_api_route("/", self.front, methods=["GET"])
        router.add_api_route("/signin", self.sign_in_page, methods=["GET"])
        router.add_api_route("/signin", self.sign_in, methods=["POST"])
        router.add_api_route("/signout", self.sign_out, methods=["POST"])
        router.add_api_route("/static/audit.js", self.script, methods=["GET"])

    async def front(self, request: Request) -> Response:
        return RedirectResponse("/entries", status_code=303)

    async def sign_in_page(self, request: Request) -> Response:
        session = self.audit.gate.session(request)
        target = safe_next(request.query_params.get("next"))
        if session is not None and session.reviewer is not None:
            return RedirectResponse(target, status_code=303)
        session = session or new_session()
        response = self._form(session.csrf, target)
        self.audit.gate.issue(response, request, session)
        return response

    async def sign_in(self, request: Request) -> Response:
        form = await Input.read(request, MAX_SIGN_IN_BYTES)
        session = self.audit.gate.session(request)
        if session is None:
            raise AuditError(
                403,
                "the sign-in cookie did not come back; allow cookies for this address "
                "and open the sign-in page again",
            )
        self.audit.gate.check_csrf(Reviewer("", session.csrf), form.text("csrf"))
        target = safe_next(form.text("next"))
        name = form.text("reviewer")
        try:
            name = reviewer_name(name)
            self.audit.gate.throttle.check(_client(request), name)
        except AuditError as exc:
            return self._form(session.csrf, target, exc.message, name, status=exc.status)
        if not self.audit.gate.key_matches(form.text("key")):
            log.warning("audit: failed sign-in as %r from %s", name, _client(request))
            self.audit.gate.throttle.failed(_client(request), name)
            return self._form(session.csrf, target, "wrong reviewer key", name, status=401)
        response = RedirectResponse(target, status_code=303)
        # A fresh token at sign-in, so one seen before it (on the sign-in page) is worthless.
        self.audit.gate.issue(response, request, new_session(name))
        log.info("audit: %r signed in from %s", name, _client(request))
        return response

    async def sign_out(self, request: Request) -> Response:
        await self.audit.change(request)
        session = self.audit.gate.session(request)
        if session is not None:  # the cookie is cleared, and any copy of it refused from now
            self.audit.gate.sign_out(session)
        response = RedirectResponse("/signin", status_code=303)
        clear(response)
        return response

    async def script(self, request: Request) -> Response:
        return Response(SCRIPT.read_bytes(), media_type="text/javascript; charset=utf-8")

    def _form(
        self, csrf: str, target: str, error: str | None = None, name: str = "", status: int = 200
    ) -> Response:
        html = self.audit.templates.get_template("signin.html.j2").render(
            csrf=csrf, next=target, error=error, name=name
        )
        return HTMLResponse(html, status_code=status)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"
