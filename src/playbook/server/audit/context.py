"""What every audit page handler shares: the store, the settings, the sign-in gate and the
templates; how a page is answered (HTML, or its JSON twin) and how form or JSON input is read.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import jinja2
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.routing import APIRoute
from starlette.datastructures import FormData, UploadFile

from playbook.edit_check import EditChecker
from playbook.server.audit.security import (
    CSRF_FIELD,
    CSRF_HEADER,
    SECURITY_HEADERS,
    AuditError,
    Gate,
    Reviewer,
    SignInRequired,
    sign_in_url,
    wants_json,
)
from playbook.server.audit.settings import AuditSettings
from playbook.server.audit.views import finite
from playbook.store.core import Store, StoreUnwritable

log = logging.getLogger("playbook.server")
TEMPLATES = Path(__file__).parent / "templates"
T = TypeVar("T")
SQLITE_MAX = 2**63 - 1  # the largest integer SQLite stores: no id or offset can be larger


def template_environment() -> jinja2.Environment:
    # Autoescape everywhere: guidelines, transcripts and explanations are model-written,
    # untrusted text; no template marks any of it safe.
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["time"] = readable_time
    return env


def readable_time(value: str | None) -> str:
    """An ISO time of a view model as people read it: 2025-03-01 14:05 UTC."""
    if not value:
        return "–"
    return datetime.fromisoformat(value).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


@dataclass(frozen=True)
class Audit:
    store: Store
    settings: AuditSettings
    gate: Gate
    templates: jinja2.Environment
    checker: EditChecker | None = None  # checks edits before they are served; None: drafts

    def reviewer(self, request: Request) -> Reviewer:
        return self.gate.reviewer(request)

    async def change(self, request: Request) -> tuple[Reviewer, Input]:
        """Who asks for a change, and its fields; the CSRF token is checked for cookie sessions.

        Who is checked before the body is read, so a stranger cannot make the server parse it.
        """
        reviewer = self.gate.reviewer(request)
        form = await Input.read(request, self.settings.max_upload_bytes)
        token = form.text(CSRF_FIELD) or request.headers.get(CSRF_HEADER, "")
        self.gate.check_csrf(reviewer, token)
        return reviewer, form

    def page(
        self,
        request: Request,
        reviewer: Reviewer,
        template: str,
        data: Mapping[str, Any],
        status: int = 200,
        json_url: str | None = None,
        **extra: Any,
    ) -> Response:
        """The page, or its JSON twin (`data`) when the path ends in .json. The page names its
        twin in a `Link: <...>; rel="alternate"` header too, so scripts find it (as datasette)."""
        if request.url.path.endswith(".json"):
            return JSONResponse(finite(dict(data)), status_code=status)
        twin = json_url or _json_twin(request)
        html = self.templates.get_template(template).render(
            data=data,
            who=reviewer,
            csrf=reviewer.csrf or "",
            approved_only=self.settings.approved_only,
            json_url=twin,
            **extra,
        )
        link = f'<{twin}>; rel="alternate"; type="application/json"'
        return HTMLResponse(html, status_code=status, headers={"Link": link})

    def error(self, request: Request, exc: AuditError) -> Response:
        if isinstance(exc, SignInRequired) and not wants_json(request):
            return RedirectResponse(sign_in_url(request), status_code=303)
        if wants_json(request):
            return JSONResponse({"error": exc.message}, status_code=exc.status)
        html = self.templates.get_template("error.html.j2").render(
            status=exc.status, message=exc.message
        )
        return HTMLResponse(html, status_code=exc.status)

    async def run(self, work: Callable[[], T]) -> T:
        """A store call off the event loop, so the proxy beside the UI never waits on SQLite."""
        return await asyncio.to_thread(work)

    async def changed(self, request: Request) -> None:
        """After a review: when the proxy runs in this process, reload its playbook now, so the
        change holds from the very next request (another process sees it within
        serve.reload_interval)."""
        services = getattr(request.app.state, "services", None)
        if services is not None:
            await services.playbook.reload()


def route_class(audit: Audit) -> type[APIRoute]:
    """Routes that answer AuditError with a page (or JSON) and put the security headers on
    every answer."""

    class AuditRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def handle(request: Request) -> Response:
                try:
                    response = await handler(request)
                except AuditError as exc:
                    response = audit.error(request, exc)
                except StoreUnwritable as exc:  # read-only file or full disk: say so, no 500
                    response = audit.error(request, AuditError(503, str(exc)))
                response.headers.update(SECURITY_HEADERS)
                return response

            return handle

    return AuditRoute


class Input:
    """A POST's fields, from a form (browsers) or a JSON object (scripts), read the same way."""

    def __init__(self, values: Mapping[str, Any], form: FormData | None = None) -> None:
        self._values = values
        self._form = form

    @classmethod
    async def read(cls, request: Request, max_bytes: int) -> Input:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise AuditError(413, f"the request is larger than {max_bytes} bytes")
        if request.headers.get("content-type", "").startswith("application/json"):
            try:
                values = await request.json()
            except ValueError:
                raise AuditError(400, "the request body is not valid JSON") from None
            if not isinstance(values, dict):
                raise AuditError(400, "send a JSON object")
            return cls(values)
        # Files are spooled to disk; other fields are short (the longest, a guideline list).
        form = await request.form(max_fields=10_000, max_part_size=1_000_000)
        return cls({}, form)

    def text(self, name: str, default: str = "") -> str:
        value = self._form.get(name) if self._form is not None else self._values.get(name)
        if value is None:
            return default
        if not isinstance(value, str):
            raise AuditError(400, f"{name} must be text")
        return value

    def lines(self, name: str) -> list[str]:
        """A list of strings (JSON) or text with one item per line (a form's textarea)."""
        value = self._values.get(name) if self._form is None else self.text(name)
        if isinstance(value, str):
            return value.splitlines()
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
        raise AuditError(400, f"{name} must be a list of strings or text, one per line")

    def ints(self, name: str) -> list[int]:
        raw = self._form.getlist(name) if self._form is not None else self._values.get(name, [])
        if not isinstance(raw, list):
            raise AuditError(400, f"{name} must be a list of entry ids")
        try:
            ids = [int(value) for value in raw if not isinstance(value, UploadFile)]
        except (TypeError, ValueError):
            raise AuditError(400, f"{name} must be entry ids (whole numbers)") from None
        if any(abs(i) > SQLITE_MAX for i in ids):
            raise AuditError(400, f"{name} must be entry ids (whole numbers below 2^63)")
        return ids

    def optional_int(self, name: str) -> int | None:
        value = self._form.get(name) if self._form is not None else self._values.get(name)
        if value is None or value == "":
            return None
        try:
            number = int(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise AuditError(400, f"{name} must be a whole number") from None
        if abs(number) > SQLITE_MAX:
            raise AuditError(400, f"{name} must be a whole number below 2^63")
        return number

    async def file(self, name: str) -> bytes | None:
        value = self._form.get(name) if self._form is not None else None
        return await value.read() if isinstance(value, UploadFile) else None


def _json_twin(request: Request) -> str:
    query = f"?{request.url.query}" if request.url.query else ""
    return f"{request.url.path}.json{query}"


def add_page(router: APIRouter, path: str, endpoint: Callable[..., Any]) -> None:
    """A page and its JSON twin (`/entries` and `/entries.json`), served by one endpoint."""
    for route in (f"{path}.json", path):
        router.add_api_route(route, endpoint, methods=["GET"])
