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


def test_retrieval_reports_latency_and_memory_against_the_baseline(bench: Any) -> None:
    result = bench("bench_retrieval").run(sizes=(300,), dim=64)
    figures = result["entries_300"]
    assert figures["index_p50_ms"] > 0 and figures["baseline_p50_ms"] > 0
    assert figures["vector_bytes_per_entry"] == 64 * 4
    # The index keeps its unit-length rows: at least the vectors themselves.
    assert figures["index_bytes_per_entry"] >= figures["vector_bytes_per_entry"]


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


def test_startup_compares_the_cli_and_servers_with_bare_python(bench: Any) -> None:
    result = bench("bench_startup").run(repeats=1, server_repeats=1, libraries=("json",))
    assert result["help_ratio_to_python"] > 0
    assert result["serve_ready_ms"] > 0 and result["simulate_ready_ms"] > 0
    assert "numpy" not in result["heavy_imports_of_help"]


def test_run_all_shows_chosen_figures_and_waits_for_the_proxy_benchmark(
    bench: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    run_all = bench("run_all")
    monkeypatch.setattr(run_all, "BENCH", tmp_path)  # a bench/ folder without bench_proxy.py
    assert "todo" in run_all.run_proxy([1000])
    results = {"learn": {"concurrency_32": {"ratio_to_bound": 1.1, "kept": 3}}}
    rows = list(run_all.table(results).columns[1].cells)
    assert rows == ["concurrency_32.ratio_to_bound"]
