"""Export entries (Markdown for a pull request, JSONL for another playbook) and import JSONL
back, keeping ids and review history."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from playbook.exchange import export_statuses, import_jsonl, to_jsonl, to_markdown
from playbook.files import ImportFileError
from playbook.server.audit.context import Audit, add_page
from playbook.server.audit.security import AuditError, Reviewer
from playbook.store.exchange import ImportCounts

FORMATS = {"md": "text/markdown; charset=utf-8", "jsonl": "application/x-ndjson"}
RAW_BODIES = ("application/x-ndjson", "application/jsonl", "text/plain")


class ExchangePages:
    def __init__(self, audit: Audit) -> None:
        self.audit = audit

    def add_to(self, router: APIRouter) -> None:
        add_page(router, "/exchange", self.exchange)
        for extension in FORMATS:
            router.add_api_route(f"/export.{extension}", self.export, methods=["GET"])
        router.add_api_route("/import", self.import_file, methods=["POST"])

    async def exchange(self, request: Request) -> Response:
        reviewer = self.audit.reviewer(request)
        return await self._page(request, reviewer)

    async def export(self, request: Request) -> Response:
        self.audit.reviewer(request)
        extension = request.url.path.rsplit(".", 1)[-1]
        status = request.query_params.get("status", "approved")
        try:
            statuses = export_statuses(status)
        except ImportFileError as exc:
            raise AuditError(400, str(exc)) from None
        dumps = await self.audit.run(lambda: self.audit.store.entry_dumps(statuses))
        if extension == "md":
            body = to_markdown(dumps, f"Playbook entries ({status})")
        else:
            body = to_jsonl(dumps)
        filename = f"playbook-{status}.{extension}"
        headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
        return Response(body, media_type=FORMATS[extension], headers=headers)

    async def import_file(self, request: Request) -> Response:
        """A JSONL export: as a form's `file` (browser) or as the body itself (script)."""
        limit = self.audit.settings.max_upload_bytes
        data: bytes | None
        if request.headers.get("content-type", "").startswith(RAW_BODIES):
            reviewer = self.audit.reviewer(request)
            self.audit.gate.check_csrf(reviewer, request.headers.get("x-csrf-token", ""))
            data, source = await _body(request, limit), "the request body"
        else:
            reviewer, form = await self.audit.change(request)
            data, source = await form.file("file"), "the uploaded file"
        if data is None:
            raise AuditError(400, "choose a .jsonl file exported from a playbook")
        try:
            text = data.decode("utf-8")
            counts = await self.audit.run(lambda: import_jsonl(self.audit.store, text, source))
        except UnicodeDecodeError:
            return await self._failed(request, reviewer, f"{source} is not UTF-8 text")
        except ImportFileError as exc:
            return await self._failed(request, reviewer, str(exc))
        await self.audit.changed(request)
        if reviewer.csrf is None:
            return JSONResponse(vars(counts))
        return await self._page(request, reviewer, result=counts)

    async def _failed(self, request: Request, reviewer: Reviewer, message: str) -> Response:
        if reviewer.csrf is None:
            raise AuditError(400, message)
        return await self._page(request, reviewer, error=message, status=400)

    async def _page(
        self,
        request: Request,
        reviewer: Reviewer,
        *,
        result: ImportCounts | None = None,
        error: str | None = None,
        status: int = 200,
    ) -> Response:
        facets = await self.audit.run(self.audit.store.entry_facets)
        data: dict[str, Any] = {
            "counts": facets.statuses,
            "exports": [
                {"format": ext, "status": s, "url": f"/export.{ext}?status={s}"}
                for ext in FORMATS
                for s in ("approved", "all")
            ],
        }
        return self.audit.page(
            request,
            reviewer,
            "exchange.html.j2",
            data,
            status=status,
            json_url="/exchange.json",
            result=result,
            error=error,
        )


async def _body(request: Request, limit: int) -> bytes:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise AuditError(413, f"the file is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
