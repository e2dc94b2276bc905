"""The entries pages and the review actions: approve, reject (with a reason), edit the
guideline list (a new version; the original is kept), and the same for many entries at once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from playbook.review_edits import EditOutcome, edit_entry
from playbook.server.audit import views, views_guidelines
from playbook.server.audit.context import SQLITE_MAX, Audit, add_page
from playbook.server.audit.security import AuditError, Reviewer
from playbook.server.audit.views_review import review_panel
from playbook.store.audit import ENTRY_SORTS, EntryQuery
from playbook.store.core import ENTRY_STATUSES, Store, StoreError, StoreUnwritable
from playbook.store.reviews import ReviewConflict, ReviewError

PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
MAX_SEARCH = 1000  # characters; SQLite refuses LIKE patterns past 50,000
# Messages shown after an action, by a fixed code in the URL (nothing user-written is echoed).
DONE = {
    "approved": "Approved.",
    "rejected": "Rejected.",
    "proposed": "Returned to proposed.",
    "edited": "Checked and saved as a new version.",
    "draft": "Not served: the edit failed its check and is kept as a draft (the reason is below).",
}


class EntryPages:
    def __init__(self, audit: Audit) -> None:
        self.audit = audit

    def add_to(self, router: APIRouter) -> None:
        add_page(router, "/entries", self.entries)
        add_page(router, "/entries/{entry_id:int}", self.entry)
        router.add_api_route("/queue", self.queue, methods=["GET"])
        router.add_api_route("/entries/bulk", self.bulk, methods=["POST"])
        for action in ("approve", "reject", "propose"):
            router.add_api_route(
                f"/entries/{{entry_id:int}}/{action}", self.review, methods=["POST"]
            )
        router.add_api_route("/entries/{entry_id:int}/edit", self.edit, methods=["POST"])

    async def entries(self, request: Request) -> Response:
        reviewer = self.audit.reviewer(request)
        query, page = entry_query(request.query_params)
        store = self.audit.store
        rows, total = await self.audit.run(lambda: store.entry_rows(query))
        facets = await self.audit.run(store.entry_facets)
        data = views.entry_list(rows, total, facets, query, page)
        done = DONE.get(request.query_params.get("done", ""))
        back = views.list_url(query, page)
        return self.audit.page(
            request, reviewer, "entries.html.j2", data, done=done, bulk_back=back
        )

    async def queue(self, request: Request) -> Response:
        """The review queue starts at its first entry (the unreviewed one served most)."""
        self.audit.reviewer(request)
        store = self.audit.store
        ids = await self.audit.run(store.queue)
        return RedirectResponse(f"/entries/{ids[0]}" if ids else "/entries", status_code=303)

    async def entry(self, request: Request, entry_id: int) -> Response:
        reviewer = self.audit.reviewer(request)
        _check_id(entry_id)
        done = DONE.get(request.query_params.get("done", ""))
        if request.query_params.get("done") == "draft":  # a failure is shown as one
            return await self._entry_page(request, reviewer, entry_id, error=done)
        return await self._entry_page(request, reviewer, entry_id, done=done)

    async def review(self, request: Request, entry_id: int) -> Response:
        """approve, reject (a reason is required) or propose (back to proposed)."""
        reviewer, form = await self.audit.change(request)
        _check_id(entry_id)
        action = request.url.path.rsplit("/", 1)[-1]
        status = {"approve": "approved", "reject": "rejected", "propose": "proposed"}[action]
        reason = form.text("reason")
        try:
            if status == "rejected" and not reason.strip():
                raise ReviewError("say why the entry is rejected (the reason is kept in history)")
            await self._set_statuses(request, [entry_id], status, reviewer, reason)
        except ReviewError as exc:
            return await self._refused(request, reviewer, entry_id, exc)
        following = form.optional_int("next")
        if reviewer.csrf is not None and following is not None:  # "... and next" in the queue
            _check_id(following)
            return RedirectResponse(f"/entries/{following}?done={status}", status_code=303)
        return await self._after(request, reviewer, entry_id, status)

    async def edit(self, request: Request, entry_id: int) -> Response:
        """A new version of the guideline list; the status is kept unless the form sets one."""
        reviewer, form = await self.audit.change(request)
        _check_id(entry_id)
        guidance = form.lines("guidance")
        status = form.text("status", "keep")
        if status not in (*ENTRY_STATUSES, "keep"):
            raise AuditError(400, f"status must be keep or one of {', '.join(ENTRY_STATUSES)}")
        base = form.optional_int("base_version")

        async def save() -> EditOutcome:
            return await edit_entry(
                self.audit.store,
                self.audit.checker,
                entry_id,
                guidance,
                reviewer.name,
                reason=form.text("reason"),
                status=None if status == "keep" else status,
                base_version=base,
            )

        try:
            outcome = await save()
        except ReviewError as exc:
            return await self._refused(request, reviewer, entry_id, exc, "\n".join(guidance))
        except StoreUnwritable:
            raise
        except StoreError as exc:
            raise AuditError(404, str(exc)) from None
        await self.audit.changed(request)
        if not outcome.served:
            return await self._draft(request, reviewer, outcome)
        return await self._after(request, reviewer, entry_id, "edited")

    async def _draft(self, request: Request, reviewer: Reviewer, outcome: EditOutcome) -> Response:
        """A failed check: the draft is kept, the entry unchanged; say why (422)."""
        if reviewer.csrf is None:
            return JSONResponse(
                {"id": outcome.entry_id, "served": False, **views_guidelines.outcome(outcome)},
                status_code=422,
            )
        return RedirectResponse(f"/entries/{outcome.entry_id}?done=draft", status_code=303)

    async def bulk(self, request: Request) -> Response:
        """Approve or reject the chosen entries, all or none."""
        reviewer, form = await self.audit.change(request)
        ids, action, reason = form.ints("ids"), form.text("action"), form.text("reason")
        status = {"approve": "approved", "reject": "rejected"}.get(action)
        if status is None:
            raise AuditError(400, "action must be approve or reject")
        if not ids:
            raise AuditError(400, "choose one or more entries first")
        if status == "rejected" and not reason.strip():
            raise AuditError(400, "say why the entries are rejected (the reason is kept)")
        try:
            await self._set_statuses(request, ids, status, reviewer, reason)
        except ReviewError as exc:
            raise AuditError(400, str(exc)) from None
        if reviewer.csrf is None:
            return JSONResponse({"updated": ids, "status": status})
        back = form.text("back")
        back = back if back.startswith("/entries") and "//" not in back else "/entries"
        separator = "&" if "?" in back else "?"
        return RedirectResponse(f"{back}{separator}done={status}", status_code=303)

    async def _set_statuses(
        self, request: Request, ids: list[int], status: str, reviewer: Reviewer, reason: str
    ) -> None:
        store = self.audit.store
        await self._store(lambda: store.set_statuses(ids, status, reviewer.name, reason))
        await self.audit.changed(request)

    async def _store(self, work: Callable[[], object]) -> None:
        """A store write; an unknown entry is a 404 (a read-only playbook: the route's 503)."""
        try:
            await self.audit.run(work)
        except StoreUnwritable:
            raise
        except StoreError as exc:
            raise AuditError(404, str(exc)) from None

    async def _after(
        self, request: Request, reviewer: Reviewer, entry_id: int, done: str
    ) -> Response:
        """A script gets the entry's new state; a browser goes back to the entry's page."""
        if reviewer.csrf is not None:
            return RedirectResponse(f"/entries/{entry_id}?done={done}", status_code=303)
        store = self.audit.store
        entry = await self.audit.run(lambda: store.entry(entry_id))
        versions = await self.audit.run(lambda: store.versions(entry_id))
        state = {"status": entry.status, "version": versions[-1].version}
        return JSONResponse({"id": entry_id, **state, "guidance": list(entry.guidance)})

    async def _refused(
        self,
        request: Request,
        reviewer: Reviewer,
        entry_id: int,
        exc: ReviewError,
        draft: str | None = None,
    ) -> Response:
        """The entry's page again with the reason it was not changed (a script: just that)."""
        status = 409 if isinstance(exc, ReviewConflict) else 400
        if reviewer.csrf is None:
            raise AuditError(status, str(exc))
        return await self._entry_page(
            request, reviewer, entry_id, error=str(exc), status=status, draft=draft
        )

    async def _entry_page(
        self,
        request: Request,
        reviewer: Reviewer,
        entry_id: int,
        *,
        done: str | None = None,
        error: str | None = None,
        status: int = 200,
        draft: str | None = None,
    ) -> Response:
        store, checker = self.audit.store, self.audit.checker
        policy = checker.policy if checker is not None else None

        def load() -> dict[str, Any]:
            entry = store.entry(entry_id)
            versions, reviews = store.versions(entry_id), store.reviews(entry_id)
            detail = views.entry_detail(entry, versions, reviews, store.entry_usage(entry_id))
            learned_with_check = _learned_with_check(store, entry.provenance.run_id)
            panel = review_panel(
                entry,
                versions,
                reviews,
                store.drafts(entry_id),
                store.queue(),
                policy,
                learned_with_check,
            )
            return {**detail, **panel}

        try:
            data = await self.audit.run(load)
        except StoreError as exc:
            raise AuditError(404, str(exc)) from None
        return self.audit.page(
            request,
            reviewer,
            "entry.html.j2",
            data,
            status=status,
            json_url=f"/entries/{entry_id}.json",
            done=done,
            error=error,
            draft=draft if draft is not None else "\n".join(data["guidance"]),
        )


def entry_query(params: Any) -> tuple[EntryQuery, int]:
    """The entries page's filters from its URL; a bad value is a 400 naming it."""
    status = params.get("status") or None
    if status is not None and status not in ENTRY_STATUSES:
        raise AuditError(400, f"status must be one of {', '.join(ENTRY_STATUSES)}")
    sort = params.get("sort") or "queue"
    if sort not in ENTRY_SORTS:
        raise AuditError(400, f"sort must be one of {', '.join(ENTRY_SORTS)}")
    page = _int(params, "page") or 1
    size = min(_int(params, "per_page") or PAGE_SIZE, MAX_PAGE_SIZE)
    if page < 1 or size < 1:
        raise AuditError(400, "page and per_page must be 1 or more")
    if (page - 1) * size > SQLITE_MAX:
        raise AuditError(400, f"page must be at most {SQLITE_MAX // size + 1} at {size} per page")
    search = params.get("q", "")
    if len(search) > MAX_SEARCH:
        raise AuditError(400, f"q: search for at most {MAX_SEARCH} characters of a guideline")
    query = EntryQuery(
        status=status,
        run_id=params.get("run") or None,
        round=_int(params, "round"),
        student=params.get("student") or None,
        search=search,
        sort=sort,
        limit=size,
        offset=(page - 1) * size,
    )
    return query, page


def _int(params: Any, name: str) -> int | None:
    value = params.get(name) or None
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        raise AuditError(400, f"{name} must be a whole number") from None
    if abs(number) > SQLITE_MAX:
        raise AuditError(400, f"{name} must be a whole number below 2^63")
    return number


def _learned_with_check(store: Store, run_id: str) -> bool:
    """Whether the run that learned the entry had the judge's policy check on."""
    try:
        config = store.run(run_id).config
    except StoreError:  # a hand-made or imported entry's run may not be in this playbook
        return False
    learn = config.get("learn") if isinstance(config, dict) else None
    return bool(learn.get("policy_check", True)) if isinstance(learn, dict) else False


def _check_id(entry_id: int) -> None:
    # The path accepts any digits; past SQLite's integers no entry can exist (and binding the
    # number would fail inside SQLite).
    if entry_id > SQLITE_MAX:
        raise AuditError(404, f"no entry {entry_id}")
