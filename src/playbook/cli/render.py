"""How the CLI shows a command's summary: tables and lines on stdout (`--json` prints the
summary itself instead)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.table import Table
from rich.text import Text

from playbook.cli.base import out

if TYPE_CHECKING:
    from playbook.types import Entry


def print_learn_summary(summary: dict[str, Any]) -> None:
    columns = (
        "round",
        "student_share",
        "conversations",
        "scenarios",
        "kept",
        "rejected_by_policy",
        "not_verified",
        "covered",
        "merged",
        "already_good",
        "failed",
    )
    table = Table(*(c.replace("_", " ") for c in columns), title=f"run {summary['run']}")
    for r in summary["rounds"]:
        table.add_row(*(str(r[c]) for c in columns))
    out.print(table)
    calls = ", ".join(
        f"{role} {s['calls']} ({s['cached']} cached)" for role, s in summary["calls"].items()
    )
    out.print(f"Calls: {calls}")
    for role, causes in summary["failures"].items():
        out.print(f"Failures of the {role}: " + ", ".join(f"{n} {c}" for c, n in causes.items()))
    if summary["stopped"]:
        # The hint names [budget.<role>], which rich would take for markup and drop.
        out.print(f"[yellow]Stopped early:[/yellow] {escape(summary['stopped'])}")
    if summary["converged"]:
        out.print(f"Learning ended early: {summary['converged']}")
    out.print(f"Entries in the playbook: {summary['entries']}")


def print_demo(summary: dict[str, Any]) -> None:
    ev = summary["eval"]
    entries, seed = summary["entries"], summary["learn_seed"]
    out.print(f"Playbook: {summary['playbook']} ({entries} entries, learn seed {seed})")
    calls = ", ".join(f"{r} {n}" for r, n in summary["calls"].items())
    out.print(f"Calls (learning and evaluation): {calls}")
    table = Table("personas", "n", *DEMO_CONDITIONS, "gap closed", title="Mean rating (1-5)")
    for name, figures in ev["sets"].items():
        table.add_row(name.replace("_", " "), *_demo_row(figures))
    table.add_row("held out (all)", *_demo_row(ev))
    out.print(table)
    if "controls" in summary:
        _print_controls(summary["controls"])
    out.print(f"gap closed on held-out personas: {ev['gap_closed']}")
    out.print(f"Report: {summary['report']}")
    # The demo's entries are proposed, and `playbook serve` serves approved ones only by default.
    out.print(
        "To serve it: approve entries (playbook audit --playbook "
        f"{summary['playbook']}), or serve the proposed ones unreviewed with "
        "[serve] approved_only = false in a config (playbook init writes one).",
        markup=False,
    )


DEMO_CONDITIONS = ("student", "generic", "responses", "playbook", "teacher")


def _demo_row(figures: dict[str, Any]) -> list[str]:
    cells = [f"{figures[c]:.2f}" for c in DEMO_CONDITIONS]
    return [str(figures["personas"]), *cells, f"{figures['gap_closed']}"]


def _print_controls(controls: dict[str, Any]) -> None:
    from playbook.controls import NAMES

    real = controls["real"]
    table = Table(
        "control",
        "mean",
        "compliance",
        "gap closed",
        "real - control (95% CI)",
        title=f"Controls on {controls['personas']} held-out personas (real: "
        f"{real['mean']:.2f}, gap closed {real['gap_closed']})",
    )
    for name, c in controls.items():
        if name in ("personas", "real"):
            continue
        diff = c["real_minus_control"]
        table.add_row(
            f"{name} {NAMES.get(name, '')}",
            f"{c['mean']:.2f}",
            f"{c['compliance']:.2f}",
            str(c["gap_closed"]),
            _interval(diff),
        )
    out.print(table)
    gains = [("real", real["gain_from_round_1"]), ("F1", controls["F1"]["gain_from_round_1"])]
    gains.append(("real beyond F1", real["gain_beyond_F1"]))
    out.print(
        "From round 1 to the last (95% CI): "
        + ", ".join(f"{name} {_interval(gain)}" for name, gain in gains)
    )
    ideal = controls["ideal"]
    out.print(
        f"Lead over k = all, in gap closed: the real playbook {real['lead_over_F7']} (over F7); "
        f"ideal guidance for its scenarios {ideal['lead_over_k_all']} (ideal closes "
        f"{ideal['gap_closed']})"
    )


def _interval(figure: dict[str, Any]) -> str:
    return f"{figure['mean']:+.2f} [{figure['ci_low']:+.2f}, {figure['ci_high']:+.2f}]"


def print_eval(summary: dict[str, Any]) -> None:
    for student, result in summary["students"].items():
        table = Table(
            "condition",
            "overall",
            "95% CI",
            "satisfaction",
            "compliance",
            "n",
            "win/tie/loss",
            title=f"{student} (gap closed: {result['gap_closed']})",
        )
        for condition, n in result["conditions"].items():
            o, vs = n["overall"], n["vs_student"]
            table.add_row(
                condition,
                f"{o['mean']:.2f}",
                f"{o['ci_low']:.2f}-{o['ci_high']:.2f}",
                f"{n['satisfaction']['mean']:.2f}",
                f"{n['compliance']['mean']:.2f}",
                str(o["n"]),
                f"{vs['wins']}/{vs['ties']}/{vs['losses']}",
            )
        out.print(table)


def print_entries(entries: Sequence[Entry]) -> None:
    """One row per entry: the whole last customer message and the first guideline (model-written
    text, shown as text: a `[bold]` in it is not markup), then how many entries there are."""
    table = Table("id", "status", "source", "round", "last customer message", "guidelines")
    for e in entries:
        more = f" (+{len(e.guidance) - 1} more)" if len(e.guidance) > 1 else ""
        table.add_row(
            str(e.id),
            e.status,
            e.scenario.persona.source,
            str(e.provenance.round),
            Text(e.scenario.turns[-1].text),
            Text((e.guidance[0] if e.guidance else "(none)") + more),
        )
    out.print(table)
    out.print(f"{len(entries)} entries; playbook entries show ID for one in full", markup=False)
