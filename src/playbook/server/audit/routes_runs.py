"""The runs pages (configuration, progress, calls and tokens per role, cost, failures) and the
evaluation reports (the same HTML report `playbook eval --report` writes)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from markupsafe import Markup

from playbook.report import ReportContext, render_report, report_title
from playbook.server.audit import views_runs
from playbook.server.audit.context import Audit, add_page
from playbook.server.audit.security import AuditError
from playbook.server.audit.views import finite
from playbook.store.core import Store, StoreError
from playbook.store.records import RunRecord


class RunPages:
    def __init__(self, audit: Audit) -> None:
        self.audit = audit

    def add_to(self, router: APIRouter) -> None:
        add_page(router, "/runs", self.runs)
        add_page(router, "/runs/{run_id}", self.run)
        add_page(router, "/reports", self.reports)
        add_page(router, "/reports/{run_id}", self.report)

    async def runs(self, request: Request) -> Response:
        reviewer = self.audit.reviewer(request)
        store = self.audit.store
        runs = await self.audit.run(store.runs)
        totals = await self.audit.run(store.run_totals)
        data = views_runs.run_list(runs, totals)
        return self.audit.page(request, reviewer, "runs.html.j2", data)

    async def run(self, request: Request, run_id: str) -> Response:
        reviewer = self.audit.reviewer(request)
        store = self.audit.store

        def load() -> dict[str, Any]:
            run = self._run(run_id)
            return views_runs.run_detail(
                run,
                store.call_stats(run_id),
                store.failures(run_id),
                store.entries_by_round(run_id),
            )

        data = await self.audit.run(load)
        return self.audit.page(request, reviewer, "run.html.j2", data)

    async def reports(self, request: Request) -> Response:
        reviewer = self.audit.reviewer(request)
        runs = await self.audit.run(self.audit.store.runs)
        return self.audit.page(request, reviewer, "reports.html.j2", views_runs.report_list(runs))

    async def report(self, request: Request, run_id: str) -> Response:
        """The evaluation report of an eval run, in the UI's frame (the file `playbook eval`
        writes is the same report alone); its JSON twin is the summary it shows."""
        reviewer = self.audit.reviewer(request)
        run = await self.audit.run(lambda: self._run(run_id))
        if run.kind != "eval" or not isinstance(run.summary.get("students"), dict):
            what = f"a {run.kind} run, {run.status}"
            raise AuditError(404, f"run {run.id} has no evaluation report ({what})")
        if request.url.path.endswith(".json"):
            return JSONResponse(finite(run.summary))
        store = self.audit.store
        rated = await self.audit.run(lambda: store.evaluations(run.id))
        used = {i for r in rated for i in r.entry_ids}
        guidance = await self.audit.run(lambda: _guidance_of(store, used))
        context = ReportContext(run.started_at, run.models, guidance, "/entries/{}", True)
        report = render_report(run.summary, rated, context)
        title = report_title(run.summary, context)
        # The report is rendered by its own autoescaping template: safe to place as it is.
        return self.audit.page(
            request, reviewer, "report.html.j2", {}, report=Markup(report), title=title, run=run.id
        )

    def _run(self, run_id: str) -> RunRecord:
        try:
            return self.audit.store.run(run_id)
        except StoreError as exc:
            raise AuditError(404, str(exc)) from None


def _guidance_of(store: Store, ids: set[int]) -> dict[int, tuple[str, ...]]:
    """The current guidelines of the entries an evaluation used (those still in the playbook)."""
    found: dict[int, tuple[str, ...]] = {}
    for entry_id in sorted(ids):
        try:
            found[entry_id] = store.entry(entry_id).guidance
        except StoreError:
            continue
    return found
