"""Shared helpers for the benchmarks: the simulated world as a loopback server in its own process,
configs for a learn run against it, progress on stderr and the one-JSON-line output contract.

Every benchmark script prints its result as one JSON object on the last line of stdout, so that
`run_all.py` (and a user) can run any of them alone and read the figures.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from playbook.domain import load_domain, persona_grid
from playbook.workspace import example_domain

ROLES = ("student", "teacher", "customer", "judge")
GOAL = "refund_restricted_ticket"
READY_TIMEOUT_S = 60.0


def progress(message: str) -> None:
    """Benchmarks talk on stderr; stdout is kept for the result."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def emit(result: dict[str, Any]) -> None:
    print(json.dumps(result, sort_keys=True), flush=True)


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by the nearest-rank method: always an observed value."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return float(ordered[rank - 1])


def available_bytes() -> int:
    """MemAvailable from /proc/meminfo (Linux); a very large number where unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 1 << 62


async def settle() -> None:
    """Let SDK clients that were dropped close while the event loop still runs.

    The `openai` SDK closes an unreferenced client in a task it starts when the client is
    collected; collected after the loop ended, that task fails noisily ("Event loop is closed").
    """
    gc.collect()
    await asyncio.sleep(0.01)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def playbook_command(*args: str) -> list[str]:
    """The `playbook` CLI of this interpreter's environment, whatever PATH says."""
    return [sys.executable, "-c", "from playbook.cli.main import main; main()", *args]


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of another process (Linux /proc; 0.0 where unavailable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return ticks / os.sysconf("SC_CLK_TCK")


def wait_until_ready(url: str, process: subprocess.Popen[bytes], timeout: float) -> float:
    """Seconds until GET `url` answers 200; raises if the process dies or time runs out."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before answering {url}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return time.perf_counter() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.005)
    raise RuntimeError(f"no answer from {url} within {timeout:.0f} s")


class SimServer:
    """`playbook simulate` in a child process: the model server is not this process's CPU."""

    def __init__(self, process: subprocess.Popen[bytes], base_url: str, ready_s: float) -> None:
        self.process = process
        self.base_url = base_url  # ends in /v1, as an OpenAI client wants it
        self.ready_s = ready_s

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.process.pid)


@contextmanager
def sim_server(delay: float = 0.0) -> Iterator[SimServer]:
    """The simulated world over HTTP on a loopback port, answering after `delay` seconds."""
    port = free_port()
    args = ("simulate", "--domain", airline_domain(), "--port", str(port), "--delay", str(delay))
    process = subprocess.Popen(
        playbook_command(*args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        base = f"http://127.0.0.1:{port}"
        ready = wait_until_ready(f"{base}/v1/models", process, READY_TIMEOUT_S)
        yield SimServer(process, f"{base}/v1", ready)
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def airline_domain() -> str:
    """The airline example's domain file, which every benchmark's world and config use."""
    return str(example_domain("airline"))


def personas(count: int) -> list[dict[str, Any]]:
    """`count` personas of the airline refund grid, spread over personality, emotion and
    demanding (a stride of 5 is coprime with the grid's 32, so no persona comes twice)."""
    grid = persona_grid(load_domain(example_domain("airline")).goal(GOAL))
    chosen = [grid[i * 5 % len(grid)] for i in range(min(count, len(grid)))]
    keys = ("id", "goal", "personality", "emotion", "demanding")
    return [{key: getattr(p, key) for key in keys} for p in chosen]


def write_config(
    folder: Path,
    *,
    base_url: str | None,
    persona_count: int,
    rounds: int,
    concurrency: int,
) -> Path:
    """A learn config for the airline example: `openai:<role>` at `base_url`, else `sim:<role>`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "personas.json").write_text(json.dumps(personas(persona_count)))
    text = f'domain = "{example_domain("airline")}"\nplaybook = "playbook.db"\n'
    for role in ROLES:
        if base_url is None:
            text += f'[models.{role}]\nspec = "sim:{role}"\n'
        else:
            text += f'[models.{role}]\nspec = "openai:{role}"\nbase_url = "{base_url}"\n'
    text += f'[learn]\nrounds = {rounds}\npersonas = "personas.json"\nconcurrency = {concurrency}\n'
    path = folder / "playbook.toml"
    path.write_text(text)
    return path
