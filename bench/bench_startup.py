"""Start-up: how long `playbook --help` and the servers take to start, against a bare Python
interpreter (`python -c pass`) started the same number of times, in turn, in the same run.

Also reported: which heavy libraries `playbook --help` imports (it should import none: the CLI
imports them inside the commands that need them) and its slowest top-level imports, read from
`python -X importtime`, which is where to look when the ratio grows.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from common import (
    airline_domain,
    emit,
    free_port,
    median,
    playbook_command,
    progress,
    sim_server,
    stop,
    wait_until_ready,
)

from playbook.store.core import Store

REPEATS = 7
SERVER_REPEATS = 3
HEAVY = (
    "numpy",
    "sqlalchemy",
    "alembic",
    "openai",
    "httpx",
    "fastapi",
    "uvicorn",
    "pydantic",
    "jinja2",
)
READY_TIMEOUT_S = 60.0
# Also timed alone: the CLI's own framework, which `playbook --help` answers without.
LIBRARIES = (*HEAVY, "typer", "rich.console")


def seconds(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def command_times(repeats: int) -> dict[str, float]:
    """Median wall seconds of each command, the commands taken in turn `repeats` times."""
    commands = {
        "python": [sys.executable, "-c", "pass"],
        "help": playbook_command("--help"),
        # The command tree with typer: what `playbook COMMAND --help` and every command load
        # (`playbook --help` itself answers from typer's saved output without it).
        "import_cli": [sys.executable, "-c", "import playbook.cli.app"],
        "import_server_app": [sys.executable, "-c", "import playbook.server.app"],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeats):
        for name, command in commands.items():
            times[name].append(seconds(command))
    return {name: median(values) for name, values in times.items()}


def heavy_imports_of_help() -> list[str]:
    """The heavy libraries loaded by the time `playbook --help` has printed its help."""
    return heavy_imports(["--help"])


def heavy_imports(
    args: Sequence[str], heavy: Sequence[str] = HEAVY, cwd: Path | None = None
) -> list[str]:
    """The libraries of `heavy` loaded by the time `playbook ARGS` has ended."""
    names = tuple(heavy)
    code = (
        "import atexit, sys\n"
        f"atexit.register(lambda: print('LOADED', *[m for m in {names!r} if m in sys.modules],"
        " file=sys.stderr))\n"
        f"sys.argv = ['playbook', *{list(args)!r}]\n"
        "from playbook.cli.main import main\n"
        "main()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd)
    loaded = [line for line in done.stderr.splitlines() if line.startswith("LOADED")]
    return loaded[-1].split()[1:] if loaded else ["(unknown: the check failed)"]


def library_imports(repeats: int, libraries: Sequence[str]) -> dict[str, float]:
    """Median seconds to import each library alone in a fresh interpreter."""
    times: dict[str, list[float]] = {name: [] for name in libraries}
    for _ in range(repeats):
        for name in libraries:
            times[name].append(seconds([sys.executable, "-c", f"import {name}"]))
    return {name: median(values) for name, values in times.items()}


def slowest_imports(count: int = 5) -> list[list[Any]]:
    """Top-level imports of `playbook --help` by cumulative milliseconds (python -X importtime)."""
    command = [sys.executable, "-X", "importtime", *playbook_command("--help")[1:]]
    done = subprocess.run(command, capture_output=True, text=True)
    found: list[tuple[str, float]] = []
    for line in done.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        name = parts[2].rstrip()
        if name.startswith(" ") and not name.startswith("  "):  # one space: top level
            found.append((name.strip(), round(int(parts[1]) / 1000, 1)))
    return [list(item) for item in sorted(found, key=lambda item: -item[1])[:count]]


def server_start(command: list[str], url: str) -> float:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        return wait_until_ready(url, process, READY_TIMEOUT_S)
    finally:
        stop(process)


def server_times(repeats: int, upstream: str, playbook: Path) -> dict[str, float]:
    """Median seconds from launch to the first answer, for `simulate` and `serve`."""
    simulate: list[float] = []
    serve: list[float] = []
    for _ in range(repeats):
        port = free_port()
        simulate.append(
            server_start(
                playbook_command("simulate", "--port", str(port), "--domain", airline_domain()),
                f"http://127.0.0.1:{port}/v1/models",
            )
        )
        port = free_port()
        args = ("serve", "--playbook", str(playbook), "--upstream", upstream, "--port", str(port))
        serve.append(server_start(playbook_command(*args), f"http://127.0.0.1:{port}/healthz"))
    return {"simulate": median(simulate), "serve": median(serve)}


def run(
    repeats: int = REPEATS,
    server_repeats: int = SERVER_REPEATS,
    libraries: Sequence[str] = LIBRARIES,
) -> dict[str, Any]:
    progress(f"startup: python, playbook --help and imports, {repeats} times each in turn")
    times = command_times(repeats)
    imports = library_imports(max(1, repeats // 2), libraries)
    progress(f"startup: server start, {server_repeats} times each")
    with tempfile.TemporaryDirectory() as tmp, sim_server() as upstream:
        playbook = Path(tmp) / "playbook.db"
        Store.open(playbook).close()  # `serve` refuses to start without a playbook
        servers = server_times(server_repeats, upstream.base_url, playbook)
    python = times["python"]
    return {
        "python_ms": round(python * 1000, 1),
        "help_ms": round(times["help"] * 1000, 1),
        "help_ratio_to_python": round(times["help"] / python, 2),
        "import_cli_ratio_to_python": round(times["import_cli"] / python, 2),
        "import_server_app_ratio_to_python": round(times["import_server_app"] / python, 2),
        "simulate_ready_ms": round(servers["simulate"] * 1000, 1),
        "simulate_ratio_to_python": round(servers["simulate"] / python, 2),
        "serve_ready_ms": round(servers["serve"] * 1000, 1),
        "serve_ratio_to_python": round(servers["serve"] / python, 2),
        "heavy_imports_of_help": heavy_imports_of_help(),
        "slowest_imports_of_help_ms": slowest_imports(),
        "library_import_ms": {name: round(s * 1000, 1) for name, s in imports.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--server-repeats", type=int, default=SERVER_REPEATS)
    args = parser.parse_args()
    emit(run(args.repeats, args.server_repeats))


if __name__ == "__main__":
    main()
