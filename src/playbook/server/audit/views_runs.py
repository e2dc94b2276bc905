"""View models of the runs and reports pages: configuration (secrets masked), progress, calls
and tokens per role, cost, failures; evaluation headlines."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from playbook.server.audit.views import redacted, when
from playbook.store.audit import RunTotals
from playbook.store.records import FailureRecord, RoleStats, RunRecord

RECENT_FAILURES = 50


def run_list(runs: Sequence[RunRecord], totals: Mapping[str, RunTotals]) -> dict[str, Any]:
    listed = []
    for run in reversed(runs):  # newest first
        listed.append({**_run_head(run), **asdict(totals.get(run.id, RunTotals()))})
    return {"runs": listed}


def _run_head(run: RunRecord) -> dict[str, Any]:
    return {
        "id": run.id,
        "kind": run.kind,
        "status": run.status,
        "started_at": when(run.started_at),
        "finished_at": when(run.finished_at),
        "models": dict(run.models),
        "url": f"/runs/{run.id}",
        "report": f"/reports/{run.id}" if _has_report(run) else None,
    }


def run_detail(
    run: RunRecord,
    stats: Mapping[str, RoleStats],
    failures: Sequence[FailureRecord],
    by_round: Mapping[int, Mapping[str, int]],
) -> dict[str, Any]:
    causes = Counter((f.role, f.cause) for f in failures)
    return {
        **_run_head(run),
        "config": redacted(run.config),
        "summary": redacted(run.summary),
        "rounds": list(run.summary.get("rounds", [])) if run.kind == "learn" else [],
        "entries_by_round": [
            {
                "round": number,
                **{
                    status: counts.get(status, 0) for status in ("proposed", "approved", "rejected")
                },
                "total": sum(counts.values()),
            }
            for number, counts in sorted(by_round.items())
        ],
        "calls": [{"role": role, **asdict(s)} for role, s in sorted(stats.items())],
        "totals": _totals(stats),
        "failures": {
            "count": len(failures),
            "by_cause": [
                {"role": role, "cause": cause, "count": n}
                for (role, cause), n in sorted(causes.items())
            ],
            "recent": [_failure(f) for f in failures[-RECENT_FAILURES:]],
        },
    }


def _totals(stats: Mapping[str, RoleStats]) -> dict[str, Any]:
    return {
        "calls": sum(s.calls for s in stats.values()),
        "cached": sum(s.cached for s in stats.values()),
        "errors": sum(s.errors for s in stats.values()),
        "input_tokens": sum(s.input_tokens or 0 for s in stats.values()),
        "output_tokens": sum(s.output_tokens or 0 for s in stats.values()),
        "cost": sum(s.cost or 0.0 for s in stats.values()),
    }


def _failure(failure: FailureRecord) -> dict[str, Any]:
    return {
        "role": failure.role,
        "model": failure.model,
        "cause": failure.cause,
        "reason": failure.reason,
        "scenario_text": failure.scenario_text,
        "created_at": when(failure.created_at),
    }


def report_list(runs: Sequence[RunRecord]) -> dict[str, Any]:
    """Evaluation runs with their headline numbers, newest first."""
    return {"reports": [_report_head(run) for run in reversed(runs) if run.kind == "eval"]}


def _report_head(run: RunRecord) -> dict[str, Any]:
    students = run.summary.get("students", {}) if _has_report(run) else {}
    return {
        **_run_head(run),
        "students": [
            {
                "student": student,
                "gap_closed": result.get("gap_closed"),
                "conditions": {
                    condition: numbers["overall"]["mean"]
                    for condition, numbers in result.get("conditions", {}).items()
                },
            }
            for student, result in students.items()
        ],
    }


def _has_report(run: RunRecord) -> bool:
    return run.kind == "eval" and isinstance(run.summary.get("students"), dict)
