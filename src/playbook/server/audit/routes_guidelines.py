"""The guidelines pages: each distinct guideline once, with the entries that use it; edited,
approved or rejected once for all of them, and a find-and-replace across every guideline (a
figure the policy changed). Every edit is checked before it is served (review_edits.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from playbook import review_edits
from playbook.review_edits import GuidelineEdit
from playbook.server.audit import views_guidelines as views
from playbook.server.audit.context import Audit, add_page
from playbook.server.audit.security import AuditError, Reviewer
from playbook.store.core import Store
from playbook.store.guidelines import Guideline
from playbook.store.reviews import ReviewError

# approve_guideline or reject_guideline: (store, text, reviewer, reason) -> the entries changed
Decision = Callable[[Store, str, str, str], list[int]]

MAX_FIND = 1000
DONE = {
    "approved": "Approved: every proposed entry whose guidelines are all approved now is too.",
    "rejected": "Rejected: taken out of every entry that used it.",
}


class GuidelinePages:
    def __init__(self, audit: Audit) -> None:
        self.audit = audit

    def add_to(self, router: APIRouter) -> None:
        add_page(router, "/guidelines", self.guidelines)
        add_page(router, "/guidelines/{key}", self.guideline)
        router.add_api_route("/guidelines/replace", self.replace, methods=["POST"])
        router.add_api_route("/guidelines/{key}/edit", self.edit, methods=["POST"])
        router.add_api_route("/guidelines/{key}/approve", self.approve, methods=["POST"])
        router.add_api_route("/guidelines/{key}/reject", self.reject, methods=["POST"])

    async def guidelines(self, request: Request) -> Response:
        reviewer = self.audit.reviewer(request)
        search = request.query_params.get("q", "")
        if len(search) > MAX_FIND:
            raise AuditError(400, f"q: search for at most {MAX_FIND} characters")
        store = self.audit.store
        found = await self.audit.run(lambda: store.guidelines(search))
        data = views.guideline_list(found, search)
        done = DONE.get(request.query_params.get("done", ""))
        return self.audit.page(request, reviewer, "guidelines.html.j2", data, done=done)

    async def guideline(self, request: Request, key: str) -> Response:
        reviewer = self.audit.reviewer(request)
        guideline = await self._find(key)
        return await self._detail(request, reviewer, guideline)

    async def replace(self, request: Request) -> Response:
        """Find and replace a piece of text in every guideline that contains it: one edit."""
        reviewer, form = await self.audit.change(request)
        find, replace = form.text("find"), form.text("replace")
        if len(find) > MAX_FIND or len(replace) > MAX_FIND:
            raise AuditError(400, f"find and replace: at most {MAX_FIND} characters each")
        store = self.audit.store
        try:
            changes = await self.audit.run(lambda: review_edits.replacements(store, find, replace))
        except ReviewError as exc:
            raise AuditError(400, str(exc)) from None
        return await self._edit(request, reviewer, changes, form.text("reason"))

    async def edit(self, request: Request, key: str) -> Response:
        reviewer, form = await self.audit.change(request)
        guideline = await self._find(key)
        new = " ".join(form.text("text").split())
        return await self._edit(request, reviewer, {guideline.text: new}, form.text("reason"))

    async def approve(self, request: Request, key: str) -> Response:
        reviewer = await self._review(request, key, review_edits.approve_guideline)
        return await self._after(request, reviewer, key, "approved")

    async def reject(self, request: Request, key: str) -> Response:
        reviewer = await self._review(request, key, review_edits.reject_guideline)
        return await self._after(request, reviewer, None, "rejected")

    async def _review(self, request: Request, key: str, decide: Decision) -> Reviewer:
        """Approve or reject the guideline `key` for every entry using it, as `decide` does."""
        reviewer, form = await self.audit.change(request)
        guideline, store = await self._find(key), self.audit.store
        text, reason = guideline.text, form.text("reason")
        try:
            await self.audit.run(lambda: decide(store, text, reviewer.name, reason))
        except ReviewError as exc:
            raise AuditError(400, str(exc)) from None
        await self.audit.changed(request)
        return reviewer

    async def _edit(
        self, request: Request, reviewer: Reviewer, changes: dict[str, str], reason: str
    ) -> Response:
        """Check and save the edit in every entry using the guidelines; show what happened."""
        edit = await self._checked(
            lambda: review_edits.edit_guidelines(
                self.audit.store, self.audit.checker, changes, reviewer.name, reason
            )
        )
        await self.audit.changed(request)
        data = views.edit_result(edit)
        status = 200 if not edit.drafts else 422
        if reviewer.csrf is None:
            return JSONResponse(data, status_code=status)
        return self.audit.page(
            request, reviewer, "guideline_edit.html.j2", data, json_url="/guidelines.json"
        )

    async def _checked(self, work: Callable[[], Awaitable[GuidelineEdit]]) -> GuidelineEdit:
        try:
            return await work()
        except ReviewError as exc:
            raise AuditError(400, str(exc)) from None

    async def _after(
        self, request: Request, reviewer: Reviewer, key: str | None, done: str
    ) -> Response:
        if reviewer.csrf is None:
            return JSONResponse({"done": done})
        where = f"/guidelines/{key}" if key else "/guidelines"
        return RedirectResponse(f"{where}?done={done}", status_code=303)

    async def _find(self, key: str) -> Guideline:
        key = key.removesuffix(".json")
        store = self.audit.store
        found = await self.audit.run(lambda: store.guideline(key))
        if found is None:
            raise AuditError(404, f"no guideline {key} (it may have been edited or rejected)")
        return found

    async def _detail(self, request: Request, reviewer: Reviewer, guideline: Guideline) -> Response:
        store = self.audit.store
        history = await self.audit.run(lambda: store.guideline_history(guideline.text))
        data: dict[str, Any] = views.guideline_detail(guideline, history)
        done = DONE.get(request.query_params.get("done", ""))
        return self.audit.page(
            request,
            reviewer,
            "guideline.html.j2",
            data,
            json_url=f"/guidelines/{guideline.key}.json",
            done=done,
            policy=self.audit.checker.policy if self.audit.checker else None,
        )
