"""`playbook serve` with a large playbook: seconds until it answers, against the same server with
an empty playbook and a bare Python start (`python -c pass`), started in turn in the same run;
when its approximate index is trained (exact search answers until then); its resident memory
then; and a reload after one new entry: how long `POST /v1/playbook/reload` takes, and the memory
peak during reloads against the resident size before them.

The playbook is bench_proxy.py's (approved entries, the default embedder's vectors). The peak is
the kernel's high-water mark (VmHWM), reset just before the reloads (/proc/PID/clear_refs);
automatic reloads are turned off (a config with a long `serve.reload_interval`) so that the timed
reload is the one that does the work.

    .venv/bin/python bench/bench_serve.py [--entries 100000] [--reloads 5]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from bench_proxy import KEY, Served, build_playbook, serve_process
from common import ROLES, airline_domain, emit, median, progress, sim_server

from playbook.neighbours import APPROXIMATE_FROM

STARTS = 3  # serve started this many times per playbook (the median ready time is reported)
RELOADS = 5
PYTHON_STARTS = 5


def python_start_s() -> float:
    times = []
    for _ in range(PYTHON_STARTS):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        times.append(time.perf_counter() - started)
    return median(times)


def memory_kb(pid: int, field: str) -> int:
    """A /proc/PID/status figure in kB (VmRSS: resident now; VmHWM: the peak); 0 if unknown."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def reset_peak(pid: int) -> bool:
    """Start VmHWM again from the current resident size (Linux 4.0+); False if refused."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def write_config(folder: Path, playbook: Path) -> Path:
    path = folder / "serve.toml"
    models = "".join(f'[models.{role}]\nspec = "sim:{role}"\n' for role in ROLES)
    path.write_text(
        f'domain = "{airline_domain()}"\nplaybook = "{playbook}"\n{models}'
        "[serve]\nreload_interval = 86400\n"
    )
    return path


def timed_reloads(served: Served, playbook: Path, entries: int, reloads: int) -> list[float]:
    """Seconds per reload, each after one new entry was written by another process's store."""
    times = []
    with httpx.Client(headers={"Authorization": f"Bearer {KEY}"}, timeout=600) as client:
        for i in range(reloads):
            build_playbook(playbook, 1, seed=100 + i, first=entries + i)
            started = time.perf_counter()
            client.post(f"{served.base}/v1/playbook/reload").raise_for_status()
            times.append(time.perf_counter() - started)
    return times


def ready_times(
    playbooks: dict[str, Path], config: Path, upstream: str, starts: int
) -> dict[str, float]:
    """Median seconds until `serve` answers, per playbook, the playbooks taken in turn."""
    times: dict[str, list[float]] = {name: [] for name in playbooks}
    for _ in range(starts):
        for name, path in playbooks.items():
            with serve_process(path, upstream, "--config", str(config)) as served:
                times[name].append(served.ready_s)
    return {name: median(values) for name, values in times.items()}


def measure(
    playbook: Path, config: Path, upstream: str, entries: int, reloads: int, starts: int
) -> dict[str, Any]:
    empty = playbook.with_name("empty.db")
    build_playbook(empty, 0)
    ready = ready_times({"empty": empty, "full": playbook}, config, upstream, starts)
    with serve_process(playbook, upstream, "--config", str(config)) as served:
        settled_s = served.wait_until_settled() if entries >= APPROXIMATE_FROM else None
        pid = served.process.pid
        steady = memory_kb(pid, "VmRSS")
        peak_reset = reset_peak(pid)
        times = timed_reloads(served, playbook, entries, reloads)
        peak = memory_kb(pid, "VmHWM") if peak_reset else 0
        served_entries = served.entries()
    return {
        "ready_s": round(ready["full"], 3),
        "empty_playbook_ready_s": round(ready["empty"], 3),
        "ready_ratio_to_empty_playbook": round(ready["full"] / ready["empty"], 2),
        "approximate_after_s": settled_s,
        "reload_ms": round(median(times) * 1000, 2),
        "reload_max_ms": round(max(times) * 1000, 2),
        "steady_rss_mb": round(steady / 1024, 1),
        "reload_peak_rss_mb": round(peak / 1024, 1) if peak else None,
        "reload_peak_ratio_to_steady": round(peak / steady, 3) if peak and steady else None,
        "served_entries_after_reloads": served_entries,
    }


def run(entries: int, reloads: int = RELOADS, starts: int = STARTS) -> dict[str, Any]:
    python = python_start_s()
    with tempfile.TemporaryDirectory() as folder:
        playbook = Path(folder) / "playbook.db"
        started = time.perf_counter()
        build_playbook(playbook, entries)
        progress(f"serve: built {entries} entries in {time.perf_counter() - started:.1f} s")
        config = write_config(Path(folder), playbook)
        with sim_server() as upstream:
            figures = measure(playbook, config, upstream.base_url, entries, reloads, starts)
    figures["python_start_ms"] = round(python * 1000, 1)
    figures["ready_ratio_to_python"] = round(figures["ready_s"] / python, 1)
    figures["reload_ratio_to_ready"] = round(figures["reload_ms"] / 1000 / figures["ready_s"], 4)
    return {f"entries_{entries}": figures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--reloads", type=int, default=RELOADS)
    args = parser.parse_args()
    emit(run(args.entries, args.reloads))


if __name__ == "__main__":
    main()
