"""`playbook eval` on the simulated world: baselines, transfer, statistics and the report."""

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from playbook.config import load_config
from playbook.runner import QuietReporter
from playbook.runs import EvalPlan, evaluate
from playbook.stats import summarize
from playbook.workspace import Workspace, example_domain

PLAYBOOK = str(Path(sys.executable).with_name("playbook"))


def cli(*args: str, cwd: Path) -> dict[str, Any]:
    done = subprocess.run([PLAYBOOK, *args], cwd=cwd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def learned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The airline example learned with sim:student only."""
    folder = tmp_path_factory.mktemp("airline")
    subprocess.run([PLAYBOOK, "init", str(folder)], check=True, capture_output=True)
    cli("learn", "--config", "playbook.toml", "--json", cwd=folder)
    return folder


@pytest.fixture(scope="module")
def evaluated(learned: Path) -> dict[str, Any]:
    return cli(
        "eval",
        "--config",
        "playbook.toml",
        "--student",
        "sim:student",
        "--student",
        "sim:student-b",
        "--report",
        "report",
        "--json",
        cwd=learned,
    )


def means(summary: dict[str, Any], student: str) -> dict[str, float]:
    conditions = summary["students"][student]["conditions"]
    return {c: n["overall"]["mean"] for c, n in conditions.items()}


@pytest.mark.parametrize("student", ["sim:student", "sim:student-b"])
def test_on_the_learning_personas_the_playbook_beats_the_student_alone(
    evaluated: dict[str, Any], student: str
) -> None:
    learning = evaluated["sets"]["learning"]["students"][student]["conditions"]
    m = {c: n["overall"]["mean"] for c, n in learning.items()}
    assert m["student"] < m["playbook"] <= m["teacher"]
    assert means(evaluated, student)["teacher"] >= means(evaluated, student)["student"] + 1


def test_json_has_both_axes_with_intervals_and_paired_comparisons(
    evaluated: dict[str, Any],
) -> None:
    result = evaluated["students"]["sim:student"]
    for numbers in result["conditions"].values():
        for axis in ("satisfaction", "compliance"):
            interval = numbers[axis]
            assert interval["ci_low"] <= interval["mean"] <= interval["ci_high"]
            assert interval["n"] == evaluated["personas"]
    playbook = result["conditions"]["playbook"]["vs_student"]
    assert playbook["wins"] + playbook["ties"] + playbook["losses"] == evaluated["personas"]
    assert evaluated["goals"] == {
        "trained": ["refund_restricted_ticket"],
        "unseen": ["delayed_baggage_compensation"],
    }
    sets = evaluated["sets"]
    assert evaluated["personas"] == sum(sets[n]["personas"] for n in sets if n != "held_out")


def test_report_numbers_equal_the_json_and_the_database(
    learned: Path, evaluated: dict[str, Any]
) -> None:
    html = (learned / "report" / "report.html").read_text()
    embedded = re.search(
        r'<script type="application/json" id="report-data">(.*?)</script>', html, re.S
    )
    assert embedded and json.loads(embedded.group(1).replace("<\\/", "</")) == evaluated
    for student, result in evaluated["students"].items():
        section = html.split(f"{student} — gap closed")[1].split("</table>")[0]
        for condition, numbers in result["conditions"].items():
            cells = rf'data-condition="{condition}">\s*<td>{condition}</td>\s*'
            row = re.search(cells + r'<td class="mean">([\d.]+)</td>', section)
            assert row and float(row.group(1)) == numbers["overall"]["mean"]
    workspace = Workspace.open(load_config(learned / "playbook.toml"))
    try:
        rated = workspace.store.evaluations(evaluated["run"])
        plan = workspace.store.run(evaluated["run"]).config["plan"]
        recomputed = summarize(
            rated, ["sim:student", "sim:student-b"], {"refund_restricted_ticket"}, plan["sets"]
        )
    finally:
        workspace.close()
    assert {"run": evaluated["run"], **recomputed} == evaluated


def test_entry_usage_names_served_entries_and_rates_their_conversations(
    learned: Path, evaluated: dict[str, Any]
) -> None:
    usage = {e["id"]: e for e in evaluated["entries"]}
    workspace = Workspace.open(load_config(learned / "playbook.toml"))
    try:
        rated = workspace.store.evaluations(evaluated["run"])
        statuses = {e.id: e.status for e in workspace.store.entries()}
    finally:
        workspace.close()
    coached = [r for r in rated if r.condition in ("playbook", "responses")]
    assert usage and all(statuses[i] != "rejected" for i in usage)
    assert all(not r.entry_ids for r in rated if r.condition not in ("playbook", "responses"))
    some = next(iter(usage.values()))
    scores = [r.score for r in coached if some["id"] in r.entry_ids]
    assert some["conversations"] == len(scores)
    assert some["mean_rating"] == round(sum(scores) / len(scores), 4)


def test_evaluating_the_same_conversations_twice_costs_no_new_calls(
    learned: Path, evaluated: dict[str, Any]
) -> None:
    again = cli(
        "eval", "--config", "playbook.toml", "--student", "sim:student", "--json", cwd=learned
    )
    workspace = Workspace.open(load_config(learned / "playbook.toml"))
    try:
        stats = workspace.store.call_stats(again["run"])
    finally:
        workspace.close()
    assert sum(s.calls for s in stats.values()) > 0
    assert all(s.cached == s.calls for s in stats.values())
    assert again["students"]["sim:student"] == evaluated["students"]["sim:student"]


def test_a_playbook_learned_on_one_domain_evaluated_on_another(
    learned: Path, tmp_path: Path
) -> None:
    subprocess.run([PLAYBOOK, "init", str(tmp_path)], check=True, capture_output=True)
    config = tmp_path / "playbook.toml"
    config.write_text(
        config.read_text().replace(
            'domain = "domain.toml"', f'domain = "{example_domain("electronics")}"'
        )
    )
    summary = cli(
        "eval",
        "--config",
        str(config),
        "--playbook",
        str(learned / "playbook.db"),
        "--json",
        cwd=tmp_path,
    )
    assert summary["goals"]["unseen"] == ["late_laptop_return"]
    assert set(means(summary, "sim:student")) == {
        "student",
        "generic",
        "responses",
        "playbook",
        "teacher",
    }


async def test_only_approved_entries_coach_when_asked(learned: Path) -> None:
    workspace = Workspace.open(load_config(learned / "playbook.toml"))
    try:
        plan = EvalPlan(samples=1, approved_only=True)
        summary, rated = await evaluate(workspace, plan, QuietReporter())
    finally:
        workspace.close()
    m = means(summary, "sim:student")
    assert m["playbook"] == m["student"]  # nothing approved yet: no guidance at all
    assert all(not r.entry_ids for r in rated)
