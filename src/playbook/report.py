"""The evaluation report: one self-contained HTML file (inline SVG and CSS, no CDN)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from playbook.controls import NAMES as CONTROL_NAMES
from playbook.evaluate import CONDITIONS
from playbook.stats import rows_for
from playbook.types import Rated

WORST = 10  # conversations shown with their transcripts
TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class Bar:
    student: str
    label: str
    x: float
    height: float
    low: float
    high: float
    mean: float


def write_report(folder: Path, summary: dict[str, Any], rated: Sequence[Rated]) -> Path:
    """Write report.html (and the report.json it was made from) into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    data = json.dumps(summary, indent=1, sort_keys=True)
    (folder / "report.json").write_text(data + "\n", encoding="utf-8")
    path = folder / "report.html"
    path.write_text(render_report(summary, rated), encoding="utf-8")
    return path


def render_report(summary: dict[str, Any], rated: Sequence[Rated]) -> str:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # transcripts are model-written, untrusted text
        undefined=jinja2.StrictUndefined,
    )
    worst = sorted((r for r in rated if r.condition != "teacher"), key=lambda r: r.score)[:WORST]
    return env.get_template("report.html.j2").render(
        summary=summary,
        conditions=CONDITIONS,
        bars=_bars(summary),
        heatmap=_heatmap(summary, rated),
        worst=worst,
        control_names=CONTROL_NAMES,
        # "</" must not end the <script> element that carries the data.
        data=json.dumps(summary, sort_keys=True).replace("</", "<\\/"),
    )


def _bars(summary: dict[str, Any], scale: float = 40.0) -> list[Bar]:
    """One bar per student and condition: height = mean overall rating, whiskers = 95% CI."""
    bars: list[Bar] = []
    for group, (student, result) in enumerate(summary["students"].items()):
        for condition, numbers in result["conditions"].items():
            overall = numbers["overall"]
            x = 60 + 34 * len(bars) + 24 * group  # a gap between students
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
