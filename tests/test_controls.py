"""The demo with fake learners as controls (issue 11): what the simulated world can tell apart.

Measured on the held-out personas of the learned goal (three conversations each), paired with
the real playbook on the same personas and seeds, with three learn seeds (the demo's, 0, and 1
and 2): one seed is one split of the personas and one path of a path-dependent learning run, so
a must-show met by one seed alone proves little. Every fake loses with an interval excluding 0
with every seed. One of the issue's must-shows is not met, and is recorded here as a strict
expected failure (a pass would fail the suite and call for an update): the lead over the best
fake is 0.34 with seed 0 but 0.281 and 0.278 with seeds 1 and 2, below the issue's 0.3. Ideal
guidance for the same scenarios (sim.ideal, a reference point no learner reaches) leads its own
k = all by about as much: 0.30, 0.27 and 0.32.
"""

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from playbook.cli.render import print_demo
from playbook.controls import pooled
from playbook.demo import CONVERSATIONS, run_demo
from playbook.runner import QuietReporter
from playbook.store.core import Store

SEEDS = (0, 1, 2)
FAKES = [f"F{i}" for i in range(1, 9)]
SHORT_OF_THE_LEAD = pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="issue 11 open: the lead over F7 is 0.28 with these seeds",
)


@pytest.fixture(scope="module")
def demos(tmp_path_factory: pytest.TempPathFactory) -> dict[int, dict[str, Any]]:
    reporter = QuietReporter()
    return {
        seed: asyncio.run(
            run_demo(tmp_path_factory.mktemp(f"demo{seed}"), reporter, True, seed=seed)
        )
        for seed in SEEDS
    }


@pytest.fixture(scope="module")
def demo(demos: dict[int, dict[str, Any]]) -> dict[str, Any]:
    return demos[0]


def controls(demos: dict[int, dict[str, Any]], seed: int) -> dict[str, Any]:
    figures: dict[str, Any] = demos[seed]["controls"]
    return figures


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("control", FAKES)
def test_every_fake_learner_loses_to_the_real_loop(
    demos: dict[int, dict[str, Any]], seed: int, control: str
) -> None:
    advantage = controls(demos, seed)[control]["real_minus_control"]
    assert advantage["ci_low"] > 0, (control, advantage)


@pytest.mark.parametrize("seed", SEEDS)
def test_the_real_loop_closes_most_of_the_held_out_gap(
    demos: dict[int, dict[str, Any]], seed: int
) -> None:
    real = controls(demos, seed)["real"]["gap_closed"]  # 0.72, 0.66, 0.67
    assert real >= 0.6, real


@pytest.mark.parametrize(
    "seed", [0, pytest.param(1, marks=SHORT_OF_THE_LEAD), pytest.param(2, marks=SHORT_OF_THE_LEAD)]
)
def test_the_real_loop_leads_the_best_fake_by_03(
    demos: dict[int, dict[str, Any]], seed: int
) -> None:
    figures = controls(demos, seed)
    best_fake = max(figures[name]["gap_closed"] for name in FAKES[:7])
    assert figures["real"]["gap_closed"] - best_fake >= 0.3, (figures["real"], best_fake)


@pytest.mark.parametrize("seed", SEEDS)
def test_the_real_loop_stays_under_ideal_guidance_for_its_scenarios(
    demos: dict[int, dict[str, Any]], seed: int
) -> None:
    # 0.72, 0.66, 0.67 against 0.79, 0.71, 0.82; ideal with k = all 0.49, 0.44, 0.49
    figures = controls(demos, seed)
    assert figures["real"]["gap_closed"] < figures["ideal"]["gap_closed"], figures["ideal"]
    assert figures["ideal_k_all"]["gap_closed"] < figures["ideal"]["gap_closed"]


@pytest.mark.parametrize("seed", SEEDS)
def test_documented_emergencies_need_the_learned_playbook_not_a_never_promise_list(
    demos: dict[int, dict[str, Any]], seed: int
) -> None:
    # F1's constant list ends "Never promise a full refund": wrong for a documented emergency
    emergency = controls(demos, seed)["F1"]["by_situation"]["documented_emergency"]
    assert emergency["real"] > emergency["control"], emergency


@pytest.mark.parametrize("seed", SEEDS)
def test_more_rounds_improve_the_real_loop(demos: dict[int, dict[str, Any]], seed: int) -> None:
    gain = controls(demos, seed)["real"]["gain_from_round_1"]  # +0.83, +0.32, +0.39
    assert gain["ci_low"] > 0, gain


@pytest.mark.parametrize("seed", SEEDS)
def test_more_rounds_leave_a_constant_list_flat(
    demos: dict[int, dict[str, Any]], seed: int
) -> None:
    # Pruning keeps, per scenario, the lines of F1's list that verify, so its rounds may gain a
    # little: +0.10, +0.12, -0.16 (with one conversation per persona, seed 0's +0.30 (0.03, 0.59)
    # excluded 0).
    gain = controls(demos, seed)["F1"]["gain_from_round_1"]
    assert gain["ci_low"] <= 0 <= gain["ci_high"], gain


def test_over_three_learn_seeds_rounds_help_the_real_loop_and_not_a_constant_list(
    demos: dict[int, dict[str, Any]],
) -> None:
    # The 288 pairs of the three seeds: real +0.51 (0.38, 0.65), F1 +0.02 (-0.07, 0.11), the
    # real loop's gain beyond F1's +0.49 (0.33, 0.66).
    pool = pooled([demos[seed]["controls"] for seed in SEEDS])
    assert pool["real"]["gain_from_round_1"]["ci_low"] > 0, pool["real"]
    assert pool["real"]["gain_beyond_F1"]["ci_low"] > 0, pool["real"]
    constant = pool["F1"]["gain_from_round_1"]
    assert constant["ci_low"] <= 0 <= constant["ci_high"], constant


@pytest.mark.parametrize("seed", SEEDS)
def test_guidance_granting_the_forbidden_breaks_compliance_below_the_student_alone(
    demos: dict[int, dict[str, Any]], seed: int
) -> None:
    student = demos[seed]["eval"]["sets"]["held_out_cells"]["compliance"]["student"]
    assert controls(demos, seed)["F8"]["compliance"] < student


def test_each_control_is_compared_with_the_real_playbook_situation_by_situation(
    demo: dict[str, Any],
) -> None:
    situations = demo["controls"]["F1"]["by_situation"]
    assert {"plain", "documented_emergency", "escalation"} <= set(situations)
    held_out = demo["eval"]["sets"]["held_out_cells"]["personas"]
    held_out += demo["eval"]["sets"]["held_out_situations"]["personas"]
    assert sum(s["personas"] for s in situations.values()) == held_out
    assert all(1 <= s["real"] <= 5 and 1 <= s["control"] <= 5 for s in situations.values())


@pytest.mark.parametrize("seed", SEEDS)
def test_every_condition_s_ratings_are_given_pair_by_pair(
    demos: dict[int, dict[str, Any]], seed: int
) -> None:
    figures = controls(demos, seed)
    pairs = figures["real"]["pairs"]
    assert len(pairs) == figures["personas"] * CONVERSATIONS == len({tuple(pair) for pair in pairs})
    real = np.asarray(figures["real"]["scores"])
    for name in ("real_round_1", "F1_round_1", "ideal", "ideal_k_all", "ideal_per_turn", *FAKES):
        ratings = np.asarray(figures[name]["scores"])
        assert len(ratings) == len(pairs) and ((ratings >= 1) & (ratings <= 5)).all(), name
        # in the same order as the real playbook's: their paired difference is the reported one
        advantage = figures[name]["real_minus_control"]["mean"]
        assert round(float((real - ratings).mean()), 4) == advantage, name


def test_the_summary_prints_the_controls_and_what_rounds_bring(
    demo: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    print_demo(demo)
    printed = capsys.readouterr().out
    assert all(f"{name} " in printed for name in FAKES)
    gains = demo["controls"]["real"]["gain_beyond_F1"]
    assert f"real beyond F1 {gains['mean']:+.2f} [{gains['ci_low']:+.2f}," in printed
    real, ideal = demo["controls"]["real"], demo["controls"]["ideal"]
    assert f"the real playbook {real['lead_over_F7']} (over F7)" in printed
    assert f"ideal guidance for its scenarios {ideal['lead_over_k_all']}" in printed


def test_another_learn_seed_splits_the_personas_and_learns_another_playbook(
    demos: dict[int, dict[str, Any]],
) -> None:
    assert [demos[seed]["learn_seed"] for seed in SEEDS] == list(SEEDS)
    held_out = [{persona for persona, _ in controls(demos, s)["real"]["pairs"]} for s in SEEDS]
    assert held_out[0] != held_out[1] != held_out[2]
    playbooks = []
    for seed in SEEDS:
        with Store.open(demos[seed]["playbook"], create=False) as store:
            playbooks.append({(e.scenario.text(), e.guidance) for e in store.entries()})
    assert playbooks[0] != playbooks[1] != playbooks[2] != playbooks[0]


def test_the_demo_reports_every_set_and_the_held_out_headline(demo: dict[str, Any]) -> None:
    sets = demo["eval"]["sets"]
    assert set(sets) == {"learning", "held_out_cells", "held_out_situations", "unseen_goals"}
    held_out = sum(sets[name]["personas"] for name in sets if name != "learning")
    assert demo["eval"]["personas"] == held_out
    assert all(0 < demo["eval"]["compliance"][c] <= 5 for c in ("student", "playbook"))


@pytest.mark.parametrize("seed", SEEDS)
def test_the_playbook_leaves_the_goal_it_never_learned_almost_alone(
    demos: dict[int, dict[str, Any]], seed: int
) -> None:
    # Without the goal gate the refund playbook offered baggage customers refund remedies
    # (invented compensation): gap closed -0.13, -0.07, -0.17 (seeds 0-2) and compliance 2.69
    # against the student's 3.0 (seed 0), one conversation per persona. With it: 0.0, -0.002,
    # -0.016 and 3.0, 3.0, 2.94, as the gate misreads 11 of the 576 turns of baggage customers,
    # late in long conversations whose customer's words are mostly generic ("what are my
    # options?"), as refund ones (README, the goal gate). Each bound is half the least harm
    # measured without the gate.
    unseen = demos[seed]["eval"]["sets"]["unseen_goals"]
    assert unseen["gap_closed"] >= -0.035, unseen
    compliance = unseen["compliance"]
    assert compliance["playbook"] >= compliance["student"] - 0.15, compliance


def test_the_report_has_the_sets_and_the_controls(demo: dict[str, Any]) -> None:
    html = Path(demo["report"]).read_text()
    assert 'data-set="held_out_situations"' in html
    assert all(
        f'data-control="{name}"' in html
        for name in (*FAKES, "ideal", "ideal_k_all", "ideal_per_turn")
    )
    assert "gain minus F1" in html
    assert f"own k = all by {demo['controls']['ideal']['lead_over_k_all']}" in html
