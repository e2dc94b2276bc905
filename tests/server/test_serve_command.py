"""`playbook serve` as a user runs it: a process in front of an upstream, stopped with Ctrl-C,
having logged what it served."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from playbook.server import ENTRIES_HEADER
from playbook.store.core import Store

KEY = "sk-serve-command-000001"
REFUND_TEXT = "I demand a full refund for my restricted ticket, this is outrageous!"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def source_path() -> dict[str, str]:
    """The PYTHONPATH this test runs with (a worktree's src), so the command runs that code."""
    return {"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {}


def test_serve_command_proxies_and_logs_until_interrupted(
    playbook: Any, upstream: Any, tmp_path: Path, eventually: Any
) -> None:
    port = free_port()
    config = tmp_path / "serve.toml"
    config.write_text(
        f'domain = "unused.toml"\nplaybook = "{playbook.path}"\n'
        + "".join(
            f'[models.{r}]\nspec = "sim:{r}"\n' for r in ("student", "teacher", "customer", "judge")
        )
        + '[embedder]\nspec = "hash"\n'  # the playbook above was embedded with it
        + f'[serve]\nupstream_base_url = "{upstream.url}"\nport = {port}\n'
        # The playbook's entries are proposed; the approval gate is on by default.
        + "approved_only = false\n"
    )
    command = [str(Path(sys.executable).parent / "playbook"), "serve", "--config", str(config)]
    env = {"PLAYBOOK_API_KEYS": KEY, "PATH": "", **source_path()}
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"

        def healthy() -> bool:
            try:
                return httpx.get(f"{url}/healthz").status_code == 200
            except httpx.TransportError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                return False

        eventually(healthy)
        body = {"model": "student", "messages": [{"role": "user", "content": REFUND_TEXT}]}
        answer = httpx.post(
            f"{url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {KEY}"}
        )
        assert answer.status_code == 200 and answer.headers[ENTRIES_HEADER] == str(playbook.refund)
    finally:
        process.send_signal(signal.SIGINT)
        _, log = process.communicate(timeout=20)
    assert process.returncode in (0, 130), log  # 130: the conventional exit after Ctrl-C
    assert KEY not in log
    assert "serving 2 entries: 0 approved and 2 proposed (approved_only = false" in log
    with Store.open(playbook.path) as store:
        assert [row.entry_ids for row in store.served()] == [(playbook.refund,)]
