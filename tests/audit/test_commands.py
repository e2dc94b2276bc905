"""`playbook audit` (the UI alone, no upstream) and `playbook serve` with the UI beside the
proxy, as processes a user starts; both refuse to run the UI without a reviewer key."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from typer.testing import CliRunner

from playbook.cli.main import app as cli

PLAYBOOK = str(Path(sys.executable).parent / "playbook")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running(args: list[str], env: dict[str, str], port: int) -> Iterator[str]:
    """The command, started and answering on `port`; stopped with Ctrl-C afterwards."""
    process = subprocess.Popen([PLAYBOOK, *args], env=env, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"{url}/signin")
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline, "the command never started listening"
                time.sleep(0.05)
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        _, log = process.communicate(timeout=20)
        assert process.returncode in (0, 130), log
        assert env.get("PLAYBOOK_REVIEWER_KEY", "-") not in log


def test_audit_refuses_to_start_without_a_reviewer_key(playbook: Any, monkeypatch: Any) -> None:
    monkeypatch.delenv("PLAYBOOK_REVIEWER_KEY", raising=False)
    result = CliRunner().invoke(cli, ["audit", "--playbook", str(playbook.path)])
    assert result.exit_code == 2
    assert "audit: no reviewer key; set PLAYBOOK_REVIEWER_KEY" in result.output


def test_audit_serves_the_ui_alone_without_any_upstream(playbook: Any, kit: Any) -> None:
    port = free_port()
    env = {"PLAYBOOK_REVIEWER_KEY": kit.reviewer_key, "PATH": ""}
    args = ["audit", "--playbook", str(playbook.path), "--port", str(port)]
    with running(args, env, port) as url:
        entries = httpx.get(f"{url}/entries.json", headers=kit.bearer).json()["entries"]
        assert len(entries) == len(playbook.learned) + 2
        assert httpx.get(f"{url}/entries.json").status_code == 401
        assert httpx.get(f"{url}/v1/models").status_code == 404  # no proxy here


def test_serve_mounts_the_ui_beside_the_proxy_when_a_key_is_set(
    playbook: Any, upstream: Any, kit: Any, tmp_path: Path
) -> None:
    port = free_port()
    config = tmp_path / "serve.toml"
    config.write_text(
        f'domain = "unused.toml"\nplaybook = "{playbook.path}"\n'
        + "".join(f'[models.{r}]\nspec = "sim:{r}"\n' for r in ("student", "teacher", "customer"))
        + '[models.judge]\nspec = "sim:judge"\n'
        + '[embedder]\nspec = "hash"\n'  # the fixture's entries were embedded with it
        + f'[serve]\nupstream_base_url = "{upstream.url}"\nport = {port}\napproved_only = true\n'
    )
    env = {"PLAYBOOK_REVIEWER_KEY": kit.reviewer_key, "PLAYBOOK_API_KEYS": kit.api_key, "PATH": ""}
    with running(["serve", "--config", str(config)], env, port) as url:
        assert kit.guidance_for(url, kit.baggage_text) == list(kit.baggage_guidance)
        answer = httpx.post(
            f"{url}/entries/{playbook.baggage}/reject",
            json={"reason": "outdated"},
            headers=kit.bearer,
        )
        assert answer.json()["status"] == "rejected"
        assert kit.guidance_for(url, kit.baggage_text) == []  # reloaded at once, in process
