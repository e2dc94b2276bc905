"""The evaluation report: one self-contained HTML file (inline SVG and CSS, no CDN)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2

from playbook.controls import NAMES as CONTROL_NAMES
from playbook.evaluate import CONDITIONS
from playbook.stats import rows_for
from playbook.types import Rated

WORST = 5  # conversations shown with their transcripts, per condition
TEMPLATES = Path(__file__).parent / "templates"
BAR_WIDTH, BAR_STEP, SCALE = 44, 60, 44.0  # px; SCALE px per rating point


@dataclass(frozen=True)
class ReportContext:
    """What the report shows beyond the evaluation's numbers, when the caller knows it."""

    started_at: datetime | None = None  # when the evaluation ran (default: when written)
    models: Mapping[str, str] = field(default_factory=dict)  # role -> model spec
    guidance: Mapping[int, Sequence[str]] = field(default_factory=dict)  # entries used
    entry_url: str | None = None  # e.g. "/entries/{}" to link entries (the audit UI)
    embedded: bool = False  # the body only, for a page with its own <html> (the audit UI)


@dataclass(frozen=True)
class Bar:
    student: str
    label: str
    x: float
    height: float
    low: float
    high: float
    mean: float


def write_report(
    folder: Path,
    summary: dict[str, Any],
    rated: Sequence[Rated],
    context: ReportContext | None = None,
) -> Path:
    """Write report.html (and the report.json it was made from) into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    data = json.dumps(summary, indent=1, sort_keys=True)
    (folder / "report.json").write_text(data + "\n", encoding="utf-8")
    path = folder / "report.html"
    path.write_text(render_report(summary, rated, context), encoding="utf-8")
    return path


def render_report(
    summary: dict[str, Any], rated: Sequence[Rated], context: ReportContext | None = None
) -> str:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # transcripts are model-written, untrusted text
        undefined=jinja2.StrictUndefined,
    )
    context = context or ReportContext()
    return env.get_template("report.html.j2").render(
        summary=summary,
        title=report_title(summary, context),
        context=context,
        conditions=CONDITIONS,
        bars=_bars(summary),
        bar_width=BAR_WIDTH,
        heatmap=_heatmap(summary, rated),
        worst=worst_by_condition(rated),
        control_names=CONTROL_NAMES,
        # "</" must not end the <script> element that carries the data.
        data=json.dumps(summary, sort_keys=True).replace("</", "<\\/"),
    )


def report_title(summary: dict[str, Any], context: ReportContext) -> str:
    """Evaluation <run> · <date> · <student models> (and the other roles' models if known)."""
    when = (context.started_at or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    students = ", ".join(summary.get("students", {})) or "no student"
    others = [f"{role} {spec}" for role, spec in context.models.items() if role != "student"]
    models = "; ".join([f"student {students}", *others])
    return f"Evaluation {summary.get('run', '')} · {when} UTC · {models}"


def worst_by_condition(rated: Sequence[Rated]) -> dict[str, list[Rated]]:
    """The worst-rated conversations of each condition but the teacher's, the playbook's too."""
    worst: dict[str, list[Rated]] = {}
    for condition in dict.fromkeys(r.condition for r in rated):
        if condition != "teacher":
            rows = sorted((r for r in rated if r.condition == condition), key=lambda r: r.score)
            worst[condition] = rows[:WORST]
    return worst


def _bars(summary: dict[str, Any], scale: float = SCALE) -> list[Bar]:
    """One bar per student and condition: height = mean overall rating, whiskers = 95% CI."""
    bars: list[Bar] = []
    for group, (student, result) in enumerate(summary["students"].items()):
        for condition, numbers in result["conditions"].items():
            overall = numbers["overall"]
            x = 60 + BAR_STEP * len(bars) + 30 * group  # a gap between students
            bars.append(
                Bar(
                    student,
                    condition,
                    x,
                    overall["mean"] * scale,
                    overall["ci_low"] * scale,
                    overall["ci_high"] * scale,
                    overall["mean"],
                )
            )
    return bars


def _heatmap(summary: dict[str, Any], rated: Sequence[Rated]) -> dict[str, Any]:
    """Mean overall rating per persona (rows) and student/condition (columns)."""
    columns = [(s, c) for s, r in summary["students"].items() for c in r["conditions"]]
    cells: dict[str, dict[int, float]] = defaultdict(dict)
    for index, (student, condition) in enumerate(columns):
        scores: dict[str, list[float]] = defaultdict(list)
        for r in rows_for(rated, student, condition):
            scores[r.persona.id].append(r.score)
        for persona, values in scores.items():
            cells[persona][index] = round(sum(values) / len(values), 2)
    groups = [(s, len(r["conditions"])) for s, r in summary["students"].items()]
    return {"columns": columns, "groups": groups, "rows": sorted(cells.items())}
