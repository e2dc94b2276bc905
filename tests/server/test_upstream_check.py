"""`playbook serve` checks its upstream at start: one line naming the URL when it cannot be used
(refused, no /v1, refused key, unknown model), and the proxy's default port is not vLLM's."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from playbook.config import ServeConfig
from playbook.domain import load_domain
from playbook.server.upstream_check import upstream_problem
from playbook.sim.models import SimWorld
from playbook.sim.server import create_openai_app
from playbook.testing import serve_app
from playbook.workspace import example_domain


@pytest.fixture(scope="module")
def sim_url() -> Iterator[str]:
    world = SimWorld(load_domain(example_domain("airline")))
    with serve_app(create_openai_app({n: world.model(n) for n in world.names()})) as url:
        yield url


def refused_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}/v1"


def check(url: str, model: str | None = None, key: str | None = None) -> tuple[bool, str]:
    return asyncio.run(upstream_problem(url, key, model))


def test_a_working_upstream_is_one_info_line_with_its_models(sim_url: str) -> None:
    answers, line = check(f"{sim_url}/v1", "student")
    assert answers and f"upstream {sim_url}/v1 answers" in line and "student" in line


def test_each_unusable_upstream_is_one_line_naming_its_url(sim_url: str) -> None:
    refused = refused_url()
    answers, line = check(refused)
    assert not answers and line.startswith(f"upstream {refused} ") and "connection refused" in line
    answers, line = check(sim_url)  # /v1 left out
    assert not answers and f"try {sim_url}/v1" in line
    answers, line = check(f"{sim_url}/v1", "qwen-7b")
    assert not answers and "no model 'qwen-7b'" in line and "student" in line


def test_a_refused_key_names_the_setting_not_the_key() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": {"message": "bad key"}})

    key = "sk-upstream-secret-123456789"
    answers, line = asyncio.run(
        upstream_problem("http://gpu:9000/v1", key, None, httpx.MockTransport(refuse))
    )
    assert not answers and "refused the key (401)" in line and "upstream_api_key_env" in line
    assert key not in line


def test_a_busy_upstream_is_not_called_down() -> None:
    # Regression: llama.cpp answers one request at a time, so the model list can wait behind a
    # long reply; the warning said chat requests get 502 while they were being answered.
    def busy(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("busy", request=request)

    answers, line = asyncio.run(
        upstream_problem("http://gpu:9000/v1", None, None, httpx.MockTransport(busy))
    )
    assert not answers and "may be busy" in line and "502" not in line


def test_a_host_that_never_accepts_the_connection_is_unreachable_not_busy() -> None:
    def blackholed(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out", request=request)

    answers, line = asyncio.run(
        upstream_problem("http://gpu:9000/v1", None, None, httpx.MockTransport(blackholed))
    )
    assert not answers and "cannot be reached (the connection timed out)" in line
    assert "chat requests get 502" in line


@pytest.mark.parametrize("body", [{"data": 5}, {"data": [1, "x"]}, [], "text"])
def test_a_model_list_of_another_shape_still_counts_as_an_answer(body: object) -> None:
    def odd(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=body)

    answers, line = asyncio.run(
        upstream_problem("http://gpu:9000/v1", None, None, httpx.MockTransport(odd))
    )
    assert answers and line == "upstream http://gpu:9000/v1 answers (0 models)"


def test_the_default_port_is_not_vllms() -> None:
    assert ServeConfig().port not in (8000, 8765, 8766)  # vLLM; simulate; local's llama.cpp


def test_serve_warns_at_start_when_its_upstream_is_down(tmp_path: Path) -> None:
    from playbook.store.core import Store

    Store.open(tmp_path / "p.db").close()
    upstream = refused_url()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [
        str(Path(sys.executable).parent / "playbook"),
        "serve",
        "--playbook",
        str(tmp_path / "p.db"),
        "--upstream",
        upstream,
        "--port",
        str(port),
    ]
    env = {**os.environ, "PATH": ""}
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(600):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGINT)
        _, log = process.communicate(timeout=20)
    warnings = [line for line in log.splitlines() if upstream in line]
    assert len(warnings) == 1 and "connection refused" in warnings[0], log
    assert warnings[0].startswith("WARNING") and "chat requests get 502" in warnings[0]
