"""`make bench`: run every benchmark, print a readable table, then one JSON object (last line).

Each benchmark is a script in this folder that prints its figures as one JSON object on its last
line of output; each runs in its own process, so that no benchmark's memory, imports or event
loop colour another's. Progress goes to stderr. Every figure is a ratio or a comparison
measured side by side in the same run: absolute times on a shared machine are noise.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from common import emit, progress
from litellm_proxy import INSTALL_TIMEOUT_S
from rich.console import Console
from rich.table import Table

BENCH = Path(__file__).resolve().parent
PROXY_SIZES = (0, 10_000, 1_000_000)  # 0: what the proxy adds without any search
# A proxy run writes its playbook first (5 minutes for a million entries on 2 busy cores): its
# time budget grows by one TIMEOUT_S per this many entries.
PROXY_ENTRIES_PER_BUDGET = 250_000
# The size at which the LiteLLM proxy is measured beside `playbook serve` (issue 15); installing
# it the first time adds up to its install timeout to that run's budget.
LITELLM_AT = 10_000
# Seconds a benchmark may take on a machine as fast as ours at its quietest; scaled by how much
# slower this machine is right now (`slowness`), and a benchmark past it is reported, not fatal.
TIMEOUT_S = 600
REFERENCE_PROBE_S = 0.25  # the probe below on an idle core of our 2-core machines
BENCHMARKS: dict[str, list[str]] = {
    "startup": ["bench_startup.py"],
    "errors": ["bench_errors.py"],
    "paraphrase": ["bench_paraphrase.py"],
    "situations": ["bench_situations.py"],
    "entries": ["bench_entries.py"],
    "retrieval": ["bench_retrieval.py"],
    "serve": ["bench_serve.py"],
    "overhead": ["bench_overhead.py"],
    "cost": ["bench_cost.py"],
    "learn": ["bench_learn.py"],
    "teams": ["bench_teams.py"],
}
# The figures shown in the table (all of them are in the JSON).
SHOWN = {
    "learn": [
        "concurrency_*.wall_s",
        "concurrency_*.bound_s",
        "concurrency_*.ratio_to_bound",
        "concurrency_*.ratio_to_lower_bound",
        "concurrency_*.ratio_to_conversation_pipeline_bound",
        "concurrency_*.call_wait_beyond_delay_ms",
        "concurrency_*.client_cpu_ms_per_call",
    ],
    "overhead": ["*_us_per_call", "ratio_to_bare", "parts.*"],
    "teams": ["*added_p50_ms", "added_ratio_*", "rps_*", "copy_s"],
    "proxy": [
        "entries_*.*p50*",
        "entries_*.*p99*",
        "entries_*.*throughput*",
        "entries_*.added_ratio_to_litellm",
        "entries_*.gate_added_p50_ms",
        "entries_*.litellm.skipped",
        "todo",
    ],
    "retrieval": [
        "entries_*.search",
        "entries_*.index_p50_ms",
        "entries_*.exact_p50_ms",
        "entries_*.ratio_to_exact",
        "entries_*.recall_at_5",
        "entries_*.build_s",
        "entries_*.skipped",
        "sparse_scan.*",
        "embedded.*",
    ],
    "serve": [
        "entries_*.ready_s",
        "entries_*.empty_playbook_ready_s",
        "entries_*.approximate_after_s",
        "entries_*.reload_ms",
        "entries_*.steady_rss_mb",
        "entries_*.reload_peak_ratio_to_steady",
    ],
    "situations": ["chance.*", "twin_available", "*.conversation.*"],
    "entries": ["*.student_alone", "*.learned_guidance", "*.ideal_guidance"],
    "cost": ["kept_entries", "per_kept_entry.*tokens_per_entry", "rerun_cache_share"],
    "startup": ["*_ms", "*_ratio_to_python", "heavy_imports_of_help"],
    "errors": ["*_ratio_to_python", "heavy_imports.*"],
    "paraphrase": [
        "entries",
        "messages",
        "*.whole.recall_at_1",
        "*.whole.recall_at_3",
        "*.whole.floor",
        "*.whole.unguided",
        "*.whole.off_topic_guided",
        "*.whole.calibrated_floor",
        "*.window.recall_at_1",
        "*.last.recall_at_1",
        "*.skipped",
    ],
}


class BenchmarkFailed(Exception):
    pass


def slowness() -> float:
    """How many times slower than our reference machine this one runs a fixed CPU probe now
    (at least 1): a loaded machine gets proportionally longer time budgets."""
    started = time.perf_counter()
    total = 0
    for i in range(2_000_000):
        total += i % 7
    return max(1.0, round((time.perf_counter() - started) / REFERENCE_PROBE_S, 2))


def run_script(script: str, *args: str, timeout: float = TIMEOUT_S) -> dict[str, Any]:
    """Run one benchmark script; its last line of output is its JSON object."""
    command = [sys.executable, str(BENCH / script), *args]
    try:
        done = subprocess.run(
            command, stdout=subprocess.PIPE, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise BenchmarkFailed(f"{script} took more than {timeout:.0f} s") from None
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise BenchmarkFailed(f"{script} {' '.join(args)} exited with {done.returncode}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def run_proxy(sizes: Sequence[int], timeout: float = TIMEOUT_S) -> dict[str, Any]:
    """The proxy benchmark, once per playbook size."""
    script = BENCH / "bench_proxy.py"
    if not script.exists():
        # TODO(issue 8): bench_proxy.py is being written; this hook runs it once it is there.
        progress("proxy: bench/bench_proxy.py is not there yet; skipped")
        return {"todo": "bench/bench_proxy.py is not written yet"}
    results: dict[str, Any] = {}
    for size in sizes:
        progress(f"proxy: {size} entries")
        args = ["--entries", str(size)]
        budget = timeout * max(1.0, size / PROXY_ENTRIES_PER_BUDGET)
        if size == LITELLM_AT:
            args += ["--litellm", "--gate"]
            budget += INSTALL_TIMEOUT_S
        try:
            found = run_script(script.name, *args, timeout=budget)
        except BenchmarkFailed as exc:  # one size failing keeps the other sizes' figures
            results[f"entries_{size}"] = {"error": str(exc)}
            continue
        found = found.get("proxy", found)  # the script may nest its figures under "proxy"
        key = f"entries_{size}"
        results[key] = found.get(key, found)
    return results


def run_all(names: Sequence[str], quick: bool) -> tuple[dict[str, Any], list[str]]:
    """Every benchmark's figures and how long it took; failures are named, not fatal."""
    factor = slowness()
    progress(f"this machine runs {factor}x slower than the reference now; budgets scaled")
    results: dict[str, Any] = {"slowness": factor}
    failures: list[str] = []
    timeout = TIMEOUT_S * factor
    for name in names:
        started = time.perf_counter()
        try:
            if name == "proxy":
                results[name] = run_proxy(PROXY_SIZES[:2] if quick else PROXY_SIZES, timeout)
            else:
                results[name] = run_script(*BENCHMARKS[name], timeout=timeout)
        except BenchmarkFailed as exc:
            failures.append(str(exc))
            results[name] = {"error": str(exc)}
        progress(f"{name}: {time.perf_counter() - started:.0f} s")
    return results, failures


def flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from flatten(inner, f"{prefix}.{key}" if prefix else str(key))
    else:
        yield prefix, value


def table(results: dict[str, Any]) -> Table:
    shown = Table("benchmark", "figure", "value", title="llm-playbook benchmarks")
    for name, figures in results.items():
        patterns = [*SHOWN.get(name, ["*"]), "error"]
        for key, value in flatten(figures):
            if any(fnmatch.fnmatch(key, pattern) for pattern in patterns):
                shown.add_row(name, key, json.dumps(value))
    return shown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=[*BENCHMARKS, "proxy"])
    parser.add_argument("--quick", action="store_true", help="proxy at 0 and 10k entries only")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a benchmark failed")
    args = parser.parse_args()
    default = [
        "startup",
        "errors",
        "paraphrase",
        "situations",
        "entries",
        "retrieval",
        "serve",
        "overhead",
        "cost",
        "proxy",
        "learn",
    ]
    names = args.only or default
    started = time.perf_counter()
    results, failures = run_all(names, args.quick)
    results["total_s"] = round(time.perf_counter() - started, 1)
    Console(width=120).print(table(results))
    emit(results)
    if failures:
        # Reported, not fatal: a slow or busy machine must not fail `make bench`.
        print("failed: " + "; ".join(failures), file=sys.stderr)
        if args.strict:
            sys.exit(1)


if __name__ == "__main__":
    main()
