"""The LiteLLM proxy as the benchmarks' yardstick for `playbook serve`: installed once into a venv
of its own under build/ (not the project's: it pins its own FastAPI, pydantic and openai), run on
loopback without a database, in front of the same upstream, with one model routed to it.

Installing can fail or be slow (no network, a registry outage): then the benchmark says why and
measures everything else, so that `make bench` does not fail for it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from common import free_port, progress, stop, wait_until_ready

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / "build" / "litellm"
# Pinned, so that runs compare like with like; `[proxy]` brings its server (no database needed).
REQUIREMENT = "litellm[proxy]==1.108.7"
INSTALL_TIMEOUT_S = 900
READY_TIMEOUT_S = 180  # its imports take many seconds on a busy 2-core machine
# No calls home at start (model prices from its own package, no telemetry), no request logs.
ENVIRONMENT = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_TELEMETRY": "False",
    "LITELLM_LOG": "ERROR",
    "DISABLE_ADMIN_UI": "True",
}


@dataclass(frozen=True)
class Unavailable:
    reason: str


def installed(venv: Path = VENV, requirement: str = REQUIREMENT) -> Path | Unavailable:
    """The venv's `litellm` command, installing it first if it is not there."""
    command = venv / "bin" / "litellm"
    if command.exists():
        return command
    progress(f"litellm: installing {requirement} into {venv} (once)")
    started = time.perf_counter()
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", requirement]
        done = subprocess.run(pip, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return Unavailable(f"installing {requirement} took more than {INSTALL_TIMEOUT_S} s")
    except (OSError, subprocess.CalledProcessError) as exc:
        return Unavailable(f"cannot create a venv at {venv}: {exc}")
    if done.returncode != 0 or not command.exists():
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        return Unavailable(f"pip could not install {requirement}: {last}")
    progress(f"litellm: installed in {time.perf_counter() - started:.0f} s")
    return command


def write_config(folder: Path, upstream_base_url: str, model: str, key: str) -> Path:
    """`model` routed to the upstream as an OpenAI-compatible endpoint; clients need `key` (its
    master key: it checks keys, as `playbook serve` does); nothing else on."""
    path = folder / "litellm.yaml"
    path.write_text(
        "model_list:\n"
        f"  - model_name: {model}\n"
        "    litellm_params:\n"
        f"      model: openai/{model}\n"
        f"      api_base: {upstream_base_url}\n"
        "      api_key: sk-upstream-unused\n"
        "litellm_settings:\n"
        "  telemetry: false\n"
        "  drop_params: false\n"
        "general_settings:\n"
        f"  master_key: {key}\n"
    )
    return path


@dataclass(frozen=True)
class LiteLLM:
    base_url: str  # ends in /v1, like the upstream's
    ready_s: float


@contextmanager
def litellm_server(
    command: Path, folder: Path, upstream_base_url: str, model: str, key: str
) -> Iterator[LiteLLM | Unavailable]:
    """`litellm --config ...` on a free loopback port, one worker, once it answers."""
    port = free_port()
    config = write_config(folder, upstream_base_url, model, key)
    args = [str(command), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)]
    env = {**os.environ, **ENVIRONMENT}
    env.pop("DATABASE_URL", None)  # no database, whatever the shell has
    log = (folder / "litellm.log").open("wb")
    process = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        try:
            ready = wait_until_ready(f"{base}/health/liveliness", process, READY_TIMEOUT_S)
        except RuntimeError as exc:
            log.flush()
            said = (Path(log.name).read_text(errors="replace").strip().splitlines() or [""])[-1]
            yield Unavailable(f"litellm did not start: {exc}; it said: {said[:200]}")
            return
        yield LiteLLM(f"{base}/v1", round(ready, 2))
    finally:
        stop(process)
        log.close()
