"""The approval gate is on by default for `playbook serve` (the bug: with approved_only = false
by default, guidance no person had seen reached customers), and serve says at start which
entries it serves."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

REFUND_TEXT = "I demand a full refund for my restricted ticket, this is outrageous!"
BAGGAGE_TEXT = "My suitcase never arrived in Boston and I need my medication from it."


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serve_serves_approved_entries_only_unless_told_otherwise_and_says_so(
    playbook: Any, upstream: Any, tmp_path: Path, eventually: Any
) -> None:
    playbook.store.set_status(playbook.baggage, "approved", "ana")  # the refund one stays proposed
    port = free_port()
    config = tmp_path / "serve.toml"
    config.write_text(
        f'domain = "unused.toml"\nplaybook = "{playbook.path}"\n'
        + "".join(f'[models.{r}]\nspec = "sim:{r}"\n' for r in ("student", "teacher", "customer"))
        + '[models.judge]\nspec = "sim:judge"\n'
        + '[embedder]\nspec = "hash"\n'  # the playbook was embedded with it
        + f'[serve]\nupstream_base_url = "{upstream.url}"\nport = {port}\n'  # no approved_only
    )
    command = [str(Path(sys.executable).parent / "playbook"), "serve", "--config", str(config)]
    pythonpath = {k: v for k, v in os.environ.items() if k == "PYTHONPATH"}
    process = subprocess.Popen(
        command, env={"PATH": "", **pythonpath}, stderr=subprocess.PIPE, text=True
    )
    url = f"http://127.0.0.1:{port}"

    def guidance(text: str) -> list[str]:
        body = {"messages": [{"role": "user", "content": text}]}
        return list(httpx.post(f"{url}/v1/guidance", json=body).json()["guidance"])

    def healthy() -> bool:
        try:
            return httpx.get(f"{url}/healthz").json()["approved_only"] is True
        except httpx.TransportError:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            return False

    try:
        eventually(healthy)
        assert guidance(REFUND_TEXT) == []  # proposed: waits for review
        assert guidance(BAGGAGE_TEXT) != []  # approved
    finally:
        process.send_signal(signal.SIGINT)
        _, log = process.communicate(timeout=20)
    assert "serving 1 approved entries (1 proposed wait for review; approved_only = true)" in log
