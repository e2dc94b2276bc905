"""A real student: SmolLM2-135M-Instruct behind llama.cpp's server, driven through the openai SDK.

`make test` installs the `local` extra and sets PLAYBOOK_REQUIRE_LOCAL=1, so there a missing
model or server fails these tests instead of skipping them. They are kept tiny (one persona, one
customer message) because every reply is a real model's, a second or more on 2 cores.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionChunk

from playbook.config import EmbedderConfig
from playbook.embed import build_embedder
from playbook.local import ALIAS, LocalModelError, find_model, llama_server, require_server
from playbook.store.core import Store
from playbook.types import (
    Attempt,
    Entry,
    Persona,
    Provenance,
    Scenario,
    Turn,
    Verdict,
    conversation_text,
)

PLAYBOOK = str(Path(sys.executable).with_name("playbook"))
KEY = "sk-local-test-000000001"
DEMAND = "I demand a full refund for my restricted ticket, I can't travel anymore!"
GUIDANCE = ("Start your reply with the words 'Dear traveller'.", "Offer travel credit.")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def source_path() -> dict[str, str]:
    """The PYTHONPATH this test runs with (a worktree's src), so the command runs that code."""
    return {"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {}


def require_local() -> None:
    try:
        require_server()
        find_model()
    except LocalModelError as exc:
        if os.environ.get("PLAYBOOK_REQUIRE_LOCAL"):
            pytest.fail(f"{exc} (make test installs the local extra)")
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def smollm2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """llama.cpp's server with SmolLM2 on a free loopback port; its base URL."""
    require_local()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    with llama_server(find_model(), free_port(), log, say=lambda line: None) as url:
        yield url


def run_local(out: Path, port: int) -> dict[str, object]:
    tiny = ["--personas", "1", "--held-out", "1", "--samples", "1", "--rounds", "1"]
    command = [PLAYBOOK, "local", "--out", str(out), "--port", str(port), "--max-turns", "1"]
    result = subprocess.run(
        [*command, *tiny, "--json"], capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stderr
    assert "Model loaded" in result.stderr and "Stopped llama.cpp's server" in result.stderr
    summary: dict[str, object] = json.loads(result.stdout)
    return summary


def test_local_command_learns_and_evaluates_smollm2_and_a_rerun_calls_no_model(
    tmp_path: Path,
) -> None:
    require_local()
    port = free_port()
    first = run_local(tmp_path / "run", port)
    conditions = first["conditions"]
    assert isinstance(conditions, dict)
    assert list(conditions) == ["student", "generic", "responses", "playbook", "teacher"]
    for name, figures in conditions.items():
        assert 1 <= figures["ci95"][0] <= figures["mean"] <= figures["ci95"][1] <= 5, name
        assert (figures["vs_student"] is None) == (name == "student")
    calls = first["calls"]
    assert isinstance(calls, dict) and calls["student"]["made"] > 0  # the real model answered
    assert Path(str(first["report"])).is_file()

    again = run_local(tmp_path / "run", port)
    assert again["calls"] == {
        role: {"made": 0, "cached": n["made"] + n["cached"]} for role, n in calls.items()
    }
    assert again["conditions"] == conditions
    # The server is gone once the command ends.
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=2)


def add_entry(path: Path) -> int:
    persona = Persona("p1", "refund_restricted_ticket", "driver", "frustrated", demanding=True)
    baseline = Attempt((), "No.", Verdict(1, "Unhelpful."))
    provenance = Provenance("r1", 1, "ref", baseline, (Attempt(GUIDANCE, "ok", Verdict(4, "ok")),))
    turns = (Turn("customer", DEMAND),)
    entry = Entry(None, Scenario(persona, turns), GUIDANCE, provenance)
    embedder = build_embedder(EmbedderConfig(), {})  # the default, which serve uses
    with Store.open(path) as store:
        entry_id = store.add_entry(entry, embedder.vector(conversation_text(turns)), embedder.id)
        store.set_statuses([entry_id], "approved", "test")  # serve sends approved entries only
        return entry_id


def test_playbook_serve_streams_smollm2_with_the_playbook_guidance(
    smollm2: str, tmp_path: Path
) -> None:
    """Regression: llama.cpp's server ended a streaming reply early, as if whole, when another
    request reached it mid-stream. `playbook serve`'s start-up model list did when a loaded
    machine delayed it, leaving only the role-only first chunk. Here a second client lists the
    models while the reply streams, every time, and the reply must still end whole."""
    entry = add_entry(tmp_path / "playbook.db")
    port = free_port()
    config = tmp_path / "serve.toml"
    config.write_text(
        'domain = "unused.toml"\nplaybook = "playbook.db"\n'
        + "".join(f'[models.{r}]\nspec = "sim:{r}"\n' for r in ("teacher", "customer", "judge"))
        + f'[models.student]\nspec = "openai:{ALIAS}"\n'
        + f'[serve]\nupstream_base_url = "{smollm2}"\nport = {port}\nrecord_content = true\n'
    )
    env = {"PLAYBOOK_API_KEYS": KEY, "PATH": "", **source_path()}
    command = [PLAYBOOK, "serve", "--config", str(config)]
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(process, url)
        entries, chunks, listing = stream_while_listing_models(url)
    finally:
        process.send_signal(signal.SIGINT)
        _, log = process.communicate(timeout=20)
    assert entries == str(entry)
    pieces = [c.choices[0].delta.content or "" for c in chunks if c.choices]
    assert len([p for p in pieces if p]) > 1, log  # relayed piece by piece, not in one block
    assert "".join(pieces).strip()
    ends = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert ends in (["length"], ["stop"]), f"the reply was cut short: {''.join(pieces)!r}"
    assert listing.status_code == 200 and ALIAS in listing.text, listing.text
    with Store.open(tmp_path / "playbook.db") as store:
        (served,) = store.served()
    assert served.stream and served.entry_ids == (entry,) and served.upstream_status == 200
    sent = json.dumps(served.request)
    assert "Dear traveller" in sent  # the guidance reached llama.cpp in the request


def stream_while_listing_models(url: str) -> tuple[str, list[ChatCompletionChunk], httpx.Response]:
    """A reply streamed through the proxy at `url` (its entries header and its chunks), and the
    model list another client asked for once the reply's first words had come."""
    with (
        openai.OpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0) as client,
        ThreadPoolExecutor(1) as other_client,
    ):
        stream = client.chat.completions.with_raw_response.create(
            model=ALIAS,
            messages=[{"role": "user", "content": DEMAND}],
            stream=True,
            max_tokens=40,
            temperature=0,
        )
        chunks: list[ChatCompletionChunk] = []
        listing = None
        for chunk in stream.parse():
            chunks.append(chunk)
            if listing is None and chunk.choices and chunk.choices[0].delta.content:
                auth = {"Authorization": f"Bearer {KEY}"}
                listing = other_client.submit(
                    httpx.get, f"{url}/v1/models", headers=auth, timeout=60
                )
        assert listing is not None, f"no content piece streamed: {chunks}"
        return stream.headers["x-playbook-entries"], chunks, listing.result(timeout=60)


def wait_healthy(process: subprocess.Popen[str], url: str) -> None:
    deadline = time.monotonic() + 60  # only stops a broken test from hanging
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        try:
            if httpx.get(f"{url}/healthz").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("playbook serve never became healthy")


def test_held_out_personas_are_never_learning_ones_and_cover_every_trait() -> None:
    from collections import Counter

    from playbook.domain import load_domain, persona_grid
    from playbook.local import GOAL, LocalSettings, split_personas
    from playbook.workspace import example_domain

    grid = persona_grid(load_domain(example_domain("airline")).goal(GOAL))
    learning, held_out = split_personas(LocalSettings(personas=8, held_out=8), grid)
    assert not {p.id for p in learning} & {p.id for p in held_out}
    for group in (learning, held_out):
        assert set(Counter(p.personality for p in group).values()) == {2}
        assert set(Counter(p.emotion for p in group).values()) == {2}
        assert sum(p.demanding for p in group) == 4
    with pytest.raises(LocalModelError, match="more than the 32 personas"):
        split_personas(LocalSettings(personas=30, held_out=8), grid)


def test_the_commands_defaults_are_the_jobs_defaults() -> None:
    import inspect

    from playbook.cli.local import local
    from playbook.local import LocalSettings

    defaults = {n: p.default for n, p in inspect.signature(local).parameters.items()}
    settings = LocalSettings()
    for name in ("personas", "held_out", "samples", "rounds", "max_turns", "k", "inject"):
        assert defaults[name] == getattr(settings, name), name
    assert defaults["temperature"] == settings.temperature and defaults["port"] == settings.port
