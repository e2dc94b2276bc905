"""The benchmarks in bench/ still run and report every figure `make bench` promises.

Each runs at a tiny size; timings are not checked (they are noise on a shared machine), only
that the figures are there and the bookkeeping behind them adds up.
"""

import importlib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Imports a benchmark module the way `python bench/run_all.py` does (bench/ on the path)."""
    monkeypatch.syspath_prepend(str(BENCH))

    def load(name: str) -> ModuleType:
        return importlib.import_module(name)

    return load


def test_retrieval_reports_latency_and_recall_against_exact_search(
    bench: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    retrieval = bench("bench_retrieval")
    monkeypatch.setattr(retrieval, "Index", small_threshold_index(1000))
    result = retrieval.run(sizes=(300, 1500), centre_count=50)
    exact, approximate = result["entries_300"], result["entries_1500"]
    assert (exact["search"], exact["recall_at_5"]) == ("exact", 1.0)
    assert approximate["search"].startswith("approximate")
    assert 0 < approximate["recall_at_5"] <= 1
    assert approximate["index_p50_ms"] > 0 and approximate["exact_p50_ms"] > 0
    assert result["sparse_scan"]["entries"] == 1500 and result["sparse_scan"]["ratio_to_gather"] > 0
    assert result["embedded"]["search"].startswith("approximate")
    assert 0 < result["embedded"]["recall_at_5"] <= 1


def small_threshold_index(approximate_from: int) -> Any:
    from playbook.index import Index

    def make(entries: Any, matrix: Any, sparse: bool) -> Any:
        return Index(entries, matrix, sparse, approximate_from=approximate_from)

    return make


def test_serve_reports_ready_time_reload_time_and_memory(bench: Any) -> None:
    result = bench("bench_serve").run(entries=50, reloads=2, starts=1)["entries_50"]
    assert result["served_entries_after_reloads"] == 52  # each reload found its new entry
    assert result["ready_s"] > 0 and result["empty_playbook_ready_s"] > 0
    assert result["reload_ms"] > 0 and result["approximate_after_s"] is None
    if result["reload_peak_ratio_to_steady"] is not None:  # where /proc allows the reset
        assert result["reload_peak_ratio_to_steady"] > 0


async def test_learn_reports_ratios_to_bounds_that_hold(bench: Any) -> None:
    learn = bench("bench_learn")
    plan = learn.Plan(delay=0.01, personas=2, rounds=1, concurrencies=(1, 4), long_delay=None)
    result = await learn.run(plan)
    for key in ("concurrency_1", "concurrency_4"):
        figures = result[key]
        assert figures["unmatched_scenarios"] == 0
        # The truly dependent path is never longer than what the staged schedule allows.
        assert 0 < figures["chain_calls"] <= figures["conversation_pipeline_chain_calls"]
        assert figures["conversation_pipeline_chain_calls"] <= figures["staged_chain_calls"]
        assert figures["ratio_to_bound"] > 0
        # No schedule beats the chain, nor the calls taken `concurrency` at a time.
        assert figures["lower_bound_calls"] >= figures["chain_calls"]
        assert 0 < figures["ratio_to_lower_bound"] <= figures["ratio_to_bound"]
    # One call at a time: every call is on the path.
    assert result["concurrency_1"]["lower_bound_calls"] == result["concurrency_1"]["calls"]
    assert result["same_requests_at_every_concurrency"]


async def test_overhead_compares_playbook_calls_with_bare_sdk_calls(bench: Any) -> None:
    result = await bench("bench_overhead").run(blocks=1, block_calls=2)
    for key in ("bare_sdk_us_per_call", "role_task_us_per_call", "cache_hit_us_per_call"):
        assert result[key] > 0
    assert {"record_call_us", "cache_lookup_us"} <= set(result["parts"])
    assert result["ratio_to_bare"] > 0


async def test_cost_counts_tokens_per_entry_and_a_rerun_is_all_cache(bench: Any) -> None:
    result = await bench("bench_cost").run(personas=1, rounds=1)
    assert result["kept_entries"] > 0
    assert result["per_kept_entry"]["teacher"]["input_tokens_per_entry"] > 0
    assert result["rerun_cache_share"] == 1.0


async def test_situations_compares_retrieval_with_chance_and_the_twins_there_are(
    bench: Any,
) -> None:
    result = await bench("bench_situations").run(personas=2, rounds=1, embedders=("hash",))
    assert result["entries"] > 0
    for name in ("chance", "hash.conversation", "hash.last_customer_message"):
        assert 0 <= result[name]["same_needs_and_case"] <= result[name]["same_needs"] <= 1
    assert 0 <= result["twin_available"] <= 1


async def test_entries_rates_learned_guidance_between_the_student_and_the_worlds_own(
    bench: Any,
) -> None:
    result = await bench("bench_entries").run(personas=2, rounds=1)
    for level in ("very good", "excellent"):
        figures = result[level]
        assert figures["entries"] > 0 and figures["learning_calls"]["teacher"] > 0
        assert figures["student_alone"] < figures["learned_guidance"]
        assert figures["student_alone"] < figures["ideal_guidance"]


def test_startup_compares_the_cli_and_servers_with_bare_python(bench: Any) -> None:
    result = bench("bench_startup").run(repeats=1, server_repeats=1, libraries=("json",))
    assert result["help_ratio_to_python"] > 0
    assert result["serve_ready_ms"] > 0 and result["simulate_ready_ms"] > 0
    assert "numpy" not in result["heavy_imports_of_help"]


def test_errors_compares_a_config_typo_and_help_with_bare_python(bench: Any) -> None:
    result = bench("bench_errors").run(repeats=1)
    for name in ("config_error", "help", "init"):
        assert result[f"{name}_ratio_to_python"] > 0
    # Issue 16: a config error loads only pydantic, to read the config; --help loads nothing.
    assert result["heavy_imports"] == {"config_error": ["pydantic"], "help": []}


def test_run_all_shows_chosen_figures_and_waits_for_the_proxy_benchmark(
    bench: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    run_all = bench("run_all")
    monkeypatch.setattr(run_all, "BENCH", tmp_path)  # a bench/ folder without bench_proxy.py
    assert "todo" in run_all.run_proxy([1000])
    results = {"learn": {"concurrency_32": {"ratio_to_bound": 1.1, "kept": 3}}}
    rows = list(run_all.table(results).columns[1].cells)
    assert rows == ["concurrency_32.ratio_to_bound"]


def test_paraphrase_data_covers_every_goal_of_the_examples_with_20_messages(bench: Any) -> None:
    from playbook.domain import load_domain
    from playbook.workspace import example_domain

    messages = bench("bench_paraphrase").load_messages()
    for name in ("airline", "electronics"):
        for goal in load_domain(example_domain(name)).goals:
            mine = [m for m in messages if m.goal == goal.name]
            assert len(mine) >= 20, goal.name
            assert {m.kind for m in mine} == {"opening", "mid"}
            assert all(m.turns[-1].speaker == "customer" for m in mine)
    assert sum(1 for m in messages if not m.goal) >= 10  # questions the playbook does not cover


async def test_paraphrase_reports_recall_unguided_and_a_calibrated_floor(bench: Any) -> None:
    from playbook.embed import HashEmbedder

    paraphrase = bench("bench_paraphrase")
    messages = paraphrase.load_messages()
    refund = next(m for m in messages if m.goal == "refund_restricted_ticket")
    baggage = next(m for m in messages if m.goal == "delayed_baggage_compensation")
    off_topic = next(m for m in messages if not m.goal)
    entries = [make_entry(refund), make_entry(baggage)]
    ranked = await paraphrase.rank(HashEmbedder(), entries, [refund, baggage, off_topic], "whole")
    figures = paraphrase.figures(ranked, floor=0.99)
    # Each message is its own entry's scenario: found first, but 0.99 leaves some unguided.
    assert (figures["recall_at_1"], figures["recall_at_3"]) == (1.0, 1.0)
    assert figures["calibrated_floor"] >= 0.99
    assert paraphrase.figures(ranked, floor=1.01)["unguided"] == 1.0
    assert paraphrase.calibrated_floor([0.9] * 19 + [0.1]) == 0.9  # 1 of 20 (5%) may be unguided
    assert paraphrase.calibrated_floor([0.9] * 18 + [0.1] * 2) == 0.1


def make_entry(message: Any) -> Any:
    from playbook.types import Attempt, Entry, Persona, Provenance, Scenario, Verdict

    persona = Persona("p", message.goal, "driver", "calm", False)
    provenance = Provenance("run", 1, "", Attempt((), "", Verdict(1, "")), ())
    return Entry(1, Scenario(persona, message.turns), ("Be kind.",), provenance)


def test_teams_compares_postgres_with_sqlite_and_three_replicas_with_one(
    bench: Any, postgres: Any
) -> None:
    # `postgres` only makes the test skip (or fail under make test) where no server can start;
    # the benchmark starts its own, as `make bench` does.
    result = bench("bench_teams").run(entries=40, requests=5, throughput_requests=16)["teams"]
    assert result["entries"] == 40 and result["copy_s"] > 0
    assert result["direct_p50_ms"] > 0 and result["p50_ratio_postgresql_to_sqlite"] > 0
    assert result["rps_1_replica"] > 0 and result["rps_3_replicas"] > 0
    assert result["rps_ratio_3_to_1"] > 0


def test_litellm_that_cannot_be_installed_is_reported_not_fatal(bench: Any, tmp_path: Path) -> None:
    litellm = bench("litellm_proxy")
    missing = str(tmp_path / "no-such-package")  # pip fails at once, without the network
    found = litellm.installed(tmp_path / "venv", requirement=missing)
    assert isinstance(found, litellm.Unavailable)
    assert "could not install" in found.reason


def test_litellm_routes_the_benchmark_model_to_the_same_upstream(
    bench: Any, tmp_path: Path
) -> None:
    import yaml

    path = bench("litellm_proxy").write_config(tmp_path, "http://127.0.0.1:9/v1", "student", "k")
    config = yaml.safe_load(path.read_text())
    (route,) = config["model_list"]
    assert route["model_name"] == "student"
    assert route["litellm_params"]["model"] == "openai/student"
    assert route["litellm_params"]["api_base"] == "http://127.0.0.1:9/v1"
    assert config["general_settings"] == {"master_key": "k"}  # no database


def test_proxy_added_latency_is_compared_with_litellms(bench: Any) -> None:
    figures = bench("bench_proxy").litellm_figures([2.0] * 5, [3.0] * 5, [6.0] * 5)
    assert figures["litellm_added_p50_ms"] == 4.0
    assert figures["added_ratio_to_litellm"] == 0.25


def test_proxy_gate_round_serves_a_config_with_two_goals(bench: Any, tmp_path: Path) -> None:
    from playbook.config import load_config
    from playbook.domain import load_domain

    proxy = bench("bench_proxy")
    config = load_config(proxy.gate_config(tmp_path, tmp_path / "playbook.db"))
    assert len(load_domain(config.domain).goals) == 2
    assert config.retrieval.match == "conversation"  # as without a config: only the gate differs
    figures = proxy.gate_figures([2.0] * 5, [3.0] * 5, [3.5] * 5)
    assert figures == {"added_p50_beside_gate_ms": 1.0, "gate_added_p50_ms": 1.5}
