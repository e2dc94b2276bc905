"""Mistakes and help answer at once: `playbook learn --config typo.toml` (a misspelt key),
`playbook --help` and `playbook init` against a bare Python interpreter (`python -c pass`),
each started the same number of times, in turn, in the same run.

Also reported: which heavy libraries each loads before it answers. A config error should need
only pydantic (to read the config): no model client, database layer, server or event loop.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_startup import HEAVY, heavy_imports
from common import emit, median, playbook_command, progress

from playbook.domain import example_domain

REPEATS = 7
# The event loop too: a config error has nothing to wait for.
CHECKED = (*HEAVY, "asyncio", "playbook.store", "playbook.server", "playbook.workspace")


def typo_config(folder: Path) -> Path:
    """The starter config with one key misspelt, as a user types it."""
    text = example_domain("airline").with_name("playbook.toml").read_text()
    config = folder / "typo.toml"
    config.write_text(text.replace("rounds = 3", "rouds = 3"))
    (folder / "domain.toml").write_text(example_domain("airline").read_text())
    return config


def seconds(command: list[str], cwd: Path, expected: int) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - started
    if done.returncode != expected:
        raise RuntimeError(f"{command[3:]} exited with {done.returncode}: {done.stderr[-300:]!r}")
    return elapsed


def command_times(folder: Path, repeats: int) -> dict[str, float]:
    """Median wall seconds of each command, the commands taken in turn `repeats` times."""
    commands: dict[str, tuple[list[str], int]] = {
        "python": ([sys.executable, "-c", "pass"], 0),
        "help": (playbook_command("--help"), 0),
        "config_error": (playbook_command("learn", "--config", "typo.toml"), 2),
    }
    times: dict[str, list[float]] = {name: [] for name in [*commands, "init"]}
    for round_ in range(repeats):
        for name, (command, expected) in commands.items():
            times[name].append(seconds(command, folder, expected))
        init = playbook_command("init", f"init-{round_}")  # a fresh folder each time
        times["init"].append(seconds(init, folder, 0))
    return {name: median(values) for name, values in times.items()}


def run(repeats: int = REPEATS) -> dict[str, Any]:
    progress(f"errors: python, --help, a config typo and init, {repeats} times each in turn")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        typo_config(folder)
        times = command_times(folder, repeats)
        loaded = {
            "config_error": heavy_imports(["learn", "--config", "typo.toml"], CHECKED, folder),
            "help": heavy_imports(["--help"], CHECKED, folder),
        }
    python = times["python"]
    result: dict[str, Any] = {"python_ms": round(python * 1000, 1)}
    for name in ("config_error", "help", "init"):
        result[f"{name}_ms"] = round(times[name] * 1000, 1)
        result[f"{name}_ratio_to_python"] = round(times[name] / python, 2)
    result["heavy_imports"] = loaded
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=REPEATS)
    emit(run(parser.parse_args().repeats))


if __name__ == "__main__":
    main()
