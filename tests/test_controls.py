"""The demo with fake learners as controls (issue 11): what the simulated world can tell apart.

Measured on the held-out personas of the learned goal, paired with the real playbook on the same
personas and seeds, with the demo's learn seed. Every fake loses with an interval excluding 0.
What this seed shows is not what every seed shows: the lead over the best fake is 0.37 here, but
0.29 and 0.23 with learn seeds 1 and 2 (README, The demo), which is below the issue's 0.3.
"""

import asyncio
from pathlib import Path
from typing import Any

import pytest

from playbook.demo import run_demo
from playbook.runner import QuietReporter


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("demo")
    return asyncio.run(run_demo(Path(out), QuietReporter(), with_controls=True))


@pytest.mark.parametrize("control", ["F1", "F2", "F3", "F4", "F5", "F6", "F7", "F8"])
def test_every_fake_learner_loses_to_the_real_loop(demo: dict[str, Any], control: str) -> None:
    advantage = demo["controls"][control]["real_minus_control"]
    assert advantage["ci_low"] > 0, (control, advantage)


def test_the_real_loop_closes_most_of_the_gap_well_ahead_of_the_best_fake(
    demo: dict[str, Any],
) -> None:
    # With the demo's learn seed only: 0.75 and 0.37 here; seeds 1 and 2 lead by 0.29 and 0.23.
    controls = demo["controls"]
    real = controls["real"]["gap_closed"]
    best_fake = max(controls[f"F{i}"]["gap_closed"] for i in range(1, 8))
    assert real >= 0.6, real
    assert real - best_fake >= 0.3, (real, best_fake)


def test_documented_emergencies_need_the_learned_playbook_not_a_never_promise_list(
    demo: dict[str, Any],
) -> None:
    # F1's constant list ends "Never promise a full refund": wrong for a documented emergency
    emergency = demo["controls"]["F1"]["by_situation"]["documented_emergency"]
    assert emergency["real"] > emergency["control"], emergency


def test_more_rounds_improve_the_real_loop_more_than_a_constant_list(
    demo: dict[str, Any],
) -> None:
    # F1 is not flat: pruning keeps, per scenario, the lines of its list that verify, so its
    # later rounds gain too (0.30 (0.03, 0.59) with this seed); less than the real loop's.
    real = demo["controls"]["real"]["gain_from_round_1"]
    constant = demo["controls"]["F1"]["gain_from_round_1"]
    assert real["ci_low"] > 0, real
    assert real["mean"] > constant["mean"], (real, constant)


def test_guidance_granting_the_forbidden_breaks_compliance_below_the_student_alone(
    demo: dict[str, Any],
) -> None:
    student = demo["eval"]["sets"]["held_out_cells"]["compliance"]["student"]
    assert demo["controls"]["F8"]["compliance"] < student


def test_each_control_is_compared_with_the_real_playbook_situation_by_situation(
    demo: dict[str, Any],
) -> None:
    situations = demo["controls"]["F1"]["by_situation"]
    assert {"plain", "documented_emergency", "escalation"} <= set(situations)
    held_out = demo["eval"]["sets"]["held_out_cells"]["personas"]
    held_out += demo["eval"]["sets"]["held_out_situations"]["personas"]
    assert sum(s["personas"] for s in situations.values()) == held_out
    assert all(1 <= s["real"] <= 5 and 1 <= s["control"] <= 5 for s in situations.values())


def test_the_demo_reports_every_set_and_the_held_out_headline(demo: dict[str, Any]) -> None:
    sets = demo["eval"]["sets"]
    assert set(sets) == {"learning", "held_out_cells", "held_out_situations", "unseen_goals"}
    held_out = sum(sets[name]["personas"] for name in sets if name != "learning")
    assert demo["eval"]["personas"] == held_out
    assert all(0 < demo["eval"]["compliance"][c] <= 5 for c in ("student", "playbook"))


def test_the_playbook_does_not_coach_the_goal_it_never_learned(demo: dict[str, Any]) -> None:
    # Without the goal gate the refund playbook offered baggage customers refund remedies
    # (invented compensation): compliance 2.69 and gap closed -0.13, -0.07, -0.17 (seeds 0-2).
    unseen = demo["eval"]["sets"]["unseen_goals"]
    assert unseen["playbook"] == unseen["student"], unseen
    assert unseen["compliance"]["playbook"] == unseen["compliance"]["student"], unseen


def test_the_report_has_the_sets_and_the_controls(demo: dict[str, Any]) -> None:
    html = Path(demo["report"]).read_text()
    assert 'data-set="held_out_situations"' in html
    assert all(f'data-control="F{i}"' in html for i in range(1, 9))
